"""Wall time of the two README commands.

    uv run python -m benchmarks.setup_times            # `make demo` until the UI answers (fresh data dir, warm package cache)
    uv run python -m benchmarks.setup_times --tests    # also `make test` on SQLite and `make test-pg`

`make demo` runs in a fresh data directory and is stopped once the sign-in page answers and the
demo admin can sign in.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).parent.parent


def time_demo(console: Console) -> float:
    with tempfile.TemporaryDirectory(prefix="prodops-demo-") as tmp:
        env = {**os.environ, "PRODOPS_DATA_DIR": tmp}
        env.pop("PRODOPS_DATABASE_URL", None)
        started = time.perf_counter()
        proc = subprocess.Popen(
            ["make", "demo"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            while True:
                try:
                    with httpx.Client(base_url="http://127.0.0.1:8000", timeout=2) as client:
                        page = client.get("/login")
                        token = re.search(r'name="csrf-token" content="([^"]+)"', page.text)
                        if page.status_code == 200 and token:
                            r = client.post(
                                "/login",
                                data={
                                    "email": "admin@example.com",
                                    "password": "prodops-demo",
                                    "csrf_token": token.group(1),
                                },
                            )
                            if r.status_code in (200, 303) and client.get("/api/v1/me").status_code == 200:
                                break
                except httpx.TransportError:
                    pass
                if proc.poll() is not None:
                    raise RuntimeError(proc.stdout.read().decode() if proc.stdout else "make demo exited")
                if time.perf_counter() - started > 600:
                    raise RuntimeError("make demo did not serve within 10 minutes")
                time.sleep(0.2)
            return time.perf_counter() - started
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)


def time_command(args: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(args, cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tests", action="store_true", help="also time make test and make test-pg")
    args = parser.parse_args()
    console = Console()
    table = Table(title="Set-up times (warm package cache)")
    table.add_column("command")
    table.add_column("seconds", justify="right")
    table.add_row("make demo → signed in", f"{time_demo(console):.1f}")
    if args.tests:
        table.add_row("make test (SQLite)", f"{time_command(['make', 'test']):.1f}")
        table.add_row("make test-pg (PostgreSQL)", f"{time_command(['make', 'test-pg']):.1f}")
    console.print(table)


if __name__ == "__main__":
    main()
