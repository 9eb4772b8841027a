"""Event ingestion: sustained events/s through the Segment HTTP API with batches of 100 from concurrent clients over
loopback, durability on (every 200 means fsync'ed in the write-ahead log), next to the in-process floor (the same
bodies parsed, logged and appended to the warehouse with no HTTP).

    uv run python -m benchmarks.analytics_ingest [--seconds 20] [--processes 3] [--threads 4] [--batch 100]

The server is ``prodops serve`` (one process, the default set-up) on a fresh data directory. Client processes
send ``POST /v1/batch`` bodies of the shape segment-analytics-python sends (track calls with context and a few
properties, ~330 bytes each) over keep-alive connections. Afterwards the server is stopped and the warehouse
file is counted: every acknowledged event must be there exactly once.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import httpx
from rich.console import Console
from rich.table import Table

from benchmarks._server import backend_env, free_port

KEY = "wk_benchmark-write-key"
EVENT = (
    '{{"type":"track","userId":"user-{user}","event":"{event}","messageId":"{mid}",'
    '"timestamp":"2026-11-30T12:00:00.{ms:03d}Z","properties":{{"plan":"pro","project_id":{user},'
    '"duration_ms":{ms},"source":"web"}},"context":{{"library":{{"name":"analytics-python","version":"2.4.0"}},'
    '"ip":"10.0.0.{octet}"}}}}'
)
NAMES = ["Dashboard Viewed", "Report Viewed", "Project Opened", "Search Performed", "Export Created"]


def body(prefix: str, n: int, batch: int) -> bytes:
    events = ",".join(
        EVENT.format(
            user=(n * batch + i) % 5000, event=NAMES[i % 5], mid=f"{prefix}-{n}-{i}", ms=i % 1000, octet=i % 250
        )
        for i in range(batch)
    )
    return f'{{"batch":[{events}],"sentAt":"2026-11-30T12:00:01Z","writeKey":"{KEY}"}}'.encode()


def _client(port: int, prefix: str, threads: int, batch: int, deadline: float, out: Any) -> None:
    import threading

    counts: list[int] = []
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def run(t: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        sent = 0
        lat: list[float] = []
        n = 0
        try:
            while time.time() < deadline:
                payload = body(f"{prefix}{t}", n, batch)
                n += 1
                start = time.perf_counter()
                conn.request("POST", "/v1/batch", payload, {"Content-Type": "application/json"})
                response = conn.getresponse()
                answer = response.read()
                if response.status != 200:
                    raise RuntimeError(f"HTTP {response.status}: {answer[:200]!r}")
                lat.append(time.perf_counter() - start)
                sent += batch
        except Exception as exc:  # report, do not hang the parent
            errors.append(repr(exc))
        with lock:
            counts.append(sent)
            latencies.extend(lat)

    pool = [threading.Thread(target=run, args=(t,)) for t in range(threads)]
    for th in pool:
        th.start()
    for th in pool:
        th.join()
    out.put((sum(counts), latencies, errors))


def _cpu_seconds(port: int) -> float:
    """User + system CPU seconds used so far by the server process listening on ``port`` (Linux)."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
            if b"serve" in cmdline and str(port).encode() in cmdline:
                fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
                return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except OSError:
            continue
    return float("nan")


def _source(data_dir: Path) -> None:
    with sqlite3.connect(data_dir / "prodops.db") as db:
        db.execute(
            "INSERT INTO analytics_sources (name, kind, write_key, enabled, events_received, requests_received,"
            " created_at, updated_at) VALUES ('Benchmark', 'any', ?, 1, 0, 0, '2026-01-01', '2026-01-01')",
            (KEY,),
        )


@contextmanager
def _serve(env: dict[str, str]) -> Iterator[int]:
    """``prodops serve`` on a free port; waits as long as a busy machine needs to start it."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "prodops.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                with httpx.Client() as probe:
                    if probe.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                        break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.2)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def http_run(seconds: float, processes: int, threads: int, batch: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="prodops-bench-") as tmp:
        data_dir = Path(tmp)
        env = backend_env("sqlite", data_dir)
        subprocess.run([sys.executable, "-m", "prodops.cli", "db", "upgrade"], env=env, check=True, capture_output=True)
        _source(data_dir)
        with _serve(env) as port:
            # Warm up: start the pipeline, load the key cache.
            warm = http.client.HTTPConnection("127.0.0.1", port)
            warm.request("POST", "/v1/batch", body("warm", 0, batch), {"Content-Type": "application/json"})
            assert warm.getresponse().status == 200
            queue: mp.Queue[Any] = mp.Queue()
            deadline = time.time() + seconds
            procs = [
                mp.Process(target=_client, args=(port, f"p{p}t", threads, batch, deadline, queue))
                for p in range(processes)
            ]
            cpu_before = _cpu_seconds(port)
            started = time.perf_counter()
            for p in procs:
                p.start()
            results = [queue.get(timeout=seconds + 300) for _ in procs]
            elapsed = time.perf_counter() - started
            server_cpu = _cpu_seconds(port) - cpu_before
            for p in procs:
                p.join()
        # The server stopped cleanly (flushing); count what the warehouse holds.
        con = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
        stored, unique = con.execute("SELECT count(*), count(DISTINCT uuid) FROM events").fetchone()  # type: ignore[misc]
        con.close()
    errors = [e for r in results for e in r[2]]
    if errors:
        raise RuntimeError(f"clients failed: {errors[:3]}")
    sent = sum(r[0] for r in results) + batch
    latencies = sorted(x for r in results for x in r[1])
    return {
        "sent": sent,
        "elapsed": elapsed,
        "rate": (sent - batch) / elapsed,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p95_ms": latencies[int(len(latencies) * 0.95)] * 1000,
        "stored": stored,
        "unique": unique,
        "server_cpu": server_cpu,
    }


FLOOR = r"""
import json, sys, time
from prodops.platform.registry import load_domains
load_domains()
from prodops.domains.analytics.service import pipeline, sources
from benchmarks.analytics_ingest import body, KEY
n_batches, batch = int(sys.argv[1]), int(sys.argv[2])
bodies = [body("floor", n, batch) for n in range(n_batches)]
info = sources.KeyInfo(1, "any", True)
pipe = pipeline.get_pipeline()
pipe._stop.set()  # no background flusher: flush explicitly, as it would
start = time.perf_counter()
cpu_start = time.process_time()
parse = log = 0.0
futures = []
for raw in bodies:
    t0 = time.perf_counter()
    b, text = pipeline.prepare("segment", "batch", raw, lookup=lambda key: info)
    t1 = time.perf_counter()
    futures.append(pipe.submit("segment", "batch", b, text))
    parse += t1 - t0
    if len(futures) >= 64:
        for f in futures: f.result()
        futures = []
for f in futures: f.result()
logged = time.perf_counter()
stored = pipe.flush()
end = time.perf_counter()
cpu = time.process_time() - cpu_start
print(json.dumps({"events": n_batches * batch, "total": end - start, "cpu": cpu, "parse": parse, "logged": logged - start,
                  "store": end - logged, "stored": stored, "rounds": pipe.wal.rounds}))
"""


def floor_run(n_batches: int, batch: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="prodops-bench-") as tmp:
        env = backend_env("sqlite", Path(tmp))
        subprocess.run([sys.executable, "-m", "prodops.cli", "db", "upgrade"], env=env, check=True, capture_output=True)
        done = subprocess.run(
            [sys.executable, "-c", FLOOR, str(n_batches), str(batch)],
            env={**env, "PYTHONPATH": str(Path.cwd())},
            check=True,
            capture_output=True,
        )
        return json.loads(done.stdout.decode().strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--processes", type=int, default=3)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--floor-batches", type=int, default=2000)
    args = parser.parse_args()
    console = Console()
    console.print(f"Body: {len(body('x', 0, args.batch)):,} bytes per batch of {args.batch}")
    floor = floor_run(args.floor_batches, args.batch)
    result = http_run(args.seconds, args.processes, args.threads, args.batch)
    table = Table("path", "events", "seconds", "events/s", "note")
    table.add_row(
        "in-process floor (parse + log with fsync + store)",
        f"{floor['events']:,}",
        f"{floor['total']:.2f}",
        f"{floor['events'] / floor['total']:,.0f}",
        f"parse {floor['events'] / floor['parse']:,.0f}/s, parse+log {floor['events'] / floor['logged']:,.0f}/s, "
        f"store {floor['stored'] / max(floor['store'], 1e-9):,.0f}/s, {floor['rounds']} fsync rounds; "
        f"CPU {floor['cpu']:.1f} s = {floor['events'] / floor['cpu']:,.0f} events per CPU second",
    )
    table.add_row(
        f"HTTP /v1/batch, {args.processes}×{args.threads} clients",
        f"{result['sent']:,}",
        f"{result['elapsed']:.1f}",
        f"{result['rate']:,.0f}",
        f"p50 {result['p50_ms']:.1f} ms, p95 {result['p95_ms']:.1f} ms per batch; stored {result['stored']:,} "
        f"({result['unique']:,} unique); server CPU {result['server_cpu']:.1f} s = "
        f"{(result['sent'] - args.batch) / result['server_cpu']:,.0f} events per server CPU second",
    )
    console.print(table)
    if result["stored"] != result["sent"] or result["unique"] != result["sent"]:
        console.print("[red]the warehouse does not hold every acknowledged event exactly once[/red]")
        sys.exit(1)


if __name__ == "__main__":
    main()
