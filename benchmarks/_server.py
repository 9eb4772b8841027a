"""Benchmark plumbing: a fresh database (SQLite file or a PostgreSQL database), a real server process, timing."""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

PG_URL = os.environ.get("PRODOPS_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/prodops_bench")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def backend_env(backend: str, data_dir: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "PRODOPS_DATA_DIR": str(data_dir),
        "PRODOPS_EMBEDDED_WORKER": "false",
        "PRODOPS_LOG_LEVEL": "WARNING",
    }
    env.pop("PRODOPS_DATABASE_URL", None)
    if backend == "postgres":
        env["PRODOPS_DATABASE_URL"] = PG_URL
        subprocess.run(
            ["createdb", "-h", "127.0.0.1", "-U", "postgres", PG_URL.rsplit("/", 1)[1]],
            capture_output=True,
            check=False,
        )
        subprocess.run(
            ["psql", PG_URL, "-q", "-c", "DROP SCHEMA public CASCADE; CREATE SCHEMA public;"],
            capture_output=True,
            check=True,
        )
    return env


@contextmanager
def fresh_backend(backend: str) -> Iterator[dict[str, str]]:
    with tempfile.TemporaryDirectory(prefix="prodops-bench-") as tmp:
        env = backend_env(backend, Path(tmp))
        subprocess.run([sys.executable, "-m", "prodops.cli", "db", "upgrade"], env=env, check=True, capture_output=True)
        yield env


@contextmanager
def server(env: dict[str, str], start_timeout: float = 120.0, log: Path | None = None) -> Iterator[str]:
    """A `prodops serve` process on a free port; its log goes to a file (``log``, or a temporary one), never to a
    pipe nobody reads, which would block the server once the pipe is full. A busy machine starts it slowly."""
    port = free_port()
    log_path = log or Path(tempfile.mkstemp(prefix="prodops-bench-server-", suffix=".log")[1])
    log_file = log_path.open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "prodops.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log_file,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + start_timeout
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError(f"server did not start: {log_path.read_text(errors='replace')[-5000:]}")
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)
        log_file.close()
        if log is None:
            log_path.unlink(missing_ok=True)


def percentiles(samples_ms: list[float]) -> tuple[float, float]:
    ordered = sorted(samples_ms)
    p50 = statistics.median(ordered)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return p50, p95


def time_requests(call: Callable[[], httpx.Response], n: int, warmup: int = 5) -> list[float]:
    for _ in range(warmup):
        call().raise_for_status()
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        call().raise_for_status()
        samples.append((time.perf_counter() - start) * 1000)
    return samples
