"""Shared set-up for the analytics tests: a clean warehouse and write-ahead log, event sources, a live server."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from prodops.domains.analytics.service import pipeline, sources
from prodops.domains.analytics.service.schema import TABLES, ensure_schema
from prodops.platform.audit import Actor
from prodops.platform.db import session_scope
from prodops.platform.warehouse import get_warehouse


def _wipe() -> None:
    pipeline.stop_pipeline()
    wh = get_warehouse()
    ensure_schema(wh)
    for table in TABLES:
        wh.execute(f"DELETE FROM {table}")  # noqa: S608  # our table names
    shutil.rmtree(pipeline.wal_directory(), ignore_errors=True)
    sources.forget_keys()


@pytest.fixture
def clean_warehouse() -> Iterator[Any]:
    """An empty warehouse and write-ahead log before and after the test (the pipeline stopped)."""
    _wipe()
    yield get_warehouse()
    _wipe()


def make_source(name: str = "Web app", kind: str = "any", enabled: bool = True) -> sources.SourceOut:
    with session_scope() as s:
        return sources.create_source(s, Actor.system("test"), sources.SourceIn(name=name, kind=kind, enabled=enabled))  # type: ignore[arg-type]


def rows(sql: str, params: Any = None) -> list[tuple[Any, ...]]:
    """Flush the pipeline, then run a warehouse query."""
    pipeline.flush()
    return get_warehouse().query(sql, params).rows


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def live_server(app: Any, clean_warehouse: Any) -> Iterator[str]:
    """The app served by a real uvicorn on a free loopback port, in a thread of this process."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    yield base
    server.should_exit = True
    thread.join(timeout=20)


class ServerProcess:
    """``prodops serve`` in a subprocess with its own data directory (SQLite), for crash tests."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.env = {**os.environ, "PRODOPS_DATA_DIR": str(data_dir), "PRODOPS_LOG_LEVEL": "WARNING"}
        self.env.pop("PRODOPS_DATABASE_URL", None)
        self.env["PRODOPS_JOBS_IMMEDIATE"] = "true"
        self.proc: subprocess.Popen[bytes] | None = None
        self.base = ""

    def run(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "prodops.cli", *args], env=self.env, capture_output=True, check=True, timeout=120
        )
        return done.stdout.decode()

    def start(self) -> str:
        port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "prodops.cli", "serve", "--port", str(port)],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self.base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{self.base}/readyz", timeout=1).status_code == 200:
                    return self.base
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                raise RuntimeError(f"server did not start: {err}")
            time.sleep(0.1)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()  # SIGKILL: no shutdown hook runs
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
