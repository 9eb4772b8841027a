"""The warehouse interface over DuckDB: typed appends, parameterised queries, threads, URLs."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from prodops.platform.warehouse import DuckDBWarehouse, Warehouse, open_warehouse


def test_append_and_query_with_named_parameters(tmp_path: Path) -> None:
    wh = open_warehouse(f"duckdb:///{tmp_path / 'w.duckdb'}")
    assert isinstance(wh, Warehouse) and wh.dialect == "duckdb"
    wh.execute("CREATE TABLE t (a INTEGER, b VARCHAR, p JSON)")
    assert wh.append("t", ["a", "b", "p"], [(1, "x", '{"k": 1}'), (2, None, None), (3, "z", '{"k": 5}')]) == 3
    result = wh.query("SELECT a, p->>'k' AS k FROM t WHERE a >= $low ORDER BY a", {"low": 2})
    assert result.columns == ["a", "k"]
    assert result.rows == [(2, None), (3, "5")]
    assert result.dicts() == [{"a": 2, "k": None}, {"a": 3, "k": "5"}]
    assert wh.query("SELECT count(*) FROM t").scalar() == 3
    assert wh.append("t", ["a"], []) == 0
    wh.close()
    reopened = open_warehouse(f"duckdb:///{tmp_path / 'w.duckdb'}")
    assert reopened.query("SELECT sum(a) FROM t").scalar() == 6  # the file kept the rows
    reopened.close()


def test_threads_query_and_append_concurrently() -> None:
    wh = DuckDBWarehouse(":memory:")
    wh.execute("CREATE TABLE n (i INTEGER)")
    errors: list[BaseException] = []

    def work(start: int) -> None:
        try:
            for chunk in range(10):
                wh.append("n", ["i"], [(start + chunk * 100 + j,) for j in range(100)])
                wh.query("SELECT count(*) FROM n").scalar()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k * 10_000,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert wh.query("SELECT count(*), count(DISTINCT i) FROM n").rows == [(4000, 4000)]


def test_unknown_url_is_refused() -> None:
    with pytest.raises(ValueError, match="Unsupported warehouse URL"):
        open_warehouse("clickhouse://nowhere")
