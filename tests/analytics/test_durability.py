"""Durability with a real server process: every event that got a 200 survives ``kill -9`` right after the
response, exactly once — also when the client resends after the restart."""

from __future__ import annotations

import concurrent.futures
import sqlite3
from pathlib import Path
from typing import Any

import duckdb
import httpx

from prodops.domains.analytics.service.wal import segments
from tests.analytics.conftest import ServerProcess


def _batch(key: str, n: int, start: int) -> dict[str, Any]:
    return {
        "writeKey": key,
        "batch": [
            {
                "type": "track",
                "userId": f"user-{i % 7}",
                "event": "Clicked",
                "messageId": f"msg-{i}",
                "properties": {"i": i},
            }
            for i in range(start, start + n)
        ],
    }


def _stored(data_dir: Path) -> list[tuple[str, int]]:
    con = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
    try:
        return con.execute("SELECT uuid, count(*) FROM events GROUP BY uuid").fetchall()
    finally:
        con.close()


def test_kill_9_right_after_the_200_loses_nothing_and_counts_once(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path)
    server.run("db", "upgrade")
    key = "wk_crash-test-key"
    with sqlite3.connect(tmp_path / "prodops.db") as db:  # a source, without paying for one more process start
        db.execute(
            "INSERT INTO analytics_sources (name, kind, write_key, enabled, events_received, requests_received,"
            " created_at, updated_at) VALUES ('Crash test', 'any', ?, 1, 0, 0, '2026-01-01', '2026-01-01')",
            (key,),
        )
    base = server.start()
    try:
        with httpx.Client(base_url=base, timeout=10) as http, concurrent.futures.ThreadPoolExecutor(8) as pool:
            bodies = [_batch(key, 50, k * 50) for k in range(40)]
            answers = list(pool.map(lambda body: http.post("/v1/batch", json=body).status_code, bodies))
        assert answers == [200] * 40
        server.kill()  # no shutdown hook: whatever was not yet in the warehouse is only in the log
        left = segments(tmp_path / "analytics-wal")
        assert left, "expected unflushed log segments right after the kill"

        base = server.start()  # replays the log at start-up
        with httpx.Client(base_url=base, timeout=10) as http:
            # The client never heard back for some batch and resends it: still counted once.
            assert http.post("/v1/batch", json=_batch(key, 50, 0)).status_code == 200
            assert http.post("/v1/batch", json=_batch(key, 10, 2000)).status_code == 200
        server.stop()
    finally:
        server.stop()
    stored = _stored(tmp_path)
    assert len(stored) == 2010
    assert {count for _, count in stored} == {1}
    assert {uuid for uuid, _ in stored} == {f"msg-{i}" for i in range(2010)}
    assert segments(tmp_path / "analytics-wal") == []  # a clean shutdown leaves no log behind
