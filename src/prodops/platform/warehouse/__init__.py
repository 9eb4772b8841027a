"""The analytics warehouse: one small interface over a columnar engine.

DuckDB (a file in the data directory) is the default; ClickHouse is the scale-out backend and plugs in
behind the same :class:`Warehouse` protocol. Insight code writes its SQL once in DuckDB's dialect with
``$name`` parameters; a backend for another engine translates it (SQLGlot) in :meth:`Warehouse.query`,
so no insight knows which engine runs it.

Concurrency: DuckDB allows one read-write process per file, so the warehouse belongs to the server
process (the embedded job consumer shares it). Each call takes its own cursor, so threads may query
concurrently; writes are serialised by a lock.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from prodops.platform.config import get_settings

Params = Mapping[str, Any] | Sequence[Any] | None


@dataclass(frozen=True)
class Result:
    """Rows of one query with their column names."""

    columns: list[str]
    rows: list[tuple[Any, ...]]

    def dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]

    def scalar(self) -> Any:
        return self.rows[0][0] if self.rows else None


@runtime_checkable
class Warehouse(Protocol):
    """What insight, ingestion and dataset code may ask of a warehouse."""

    dialect: str
    """SQLGlot dialect name of the engine (``duckdb``, ``clickhouse``)."""

    def query(self, sql: str, params: Params = None) -> Result:
        """Run a read query written in DuckDB's dialect with ``$name`` parameters."""
        ...

    def execute(self, sql: str, params: Params = None) -> None:
        """Run a statement (DDL, DELETE, INSERT ... SELECT) written in DuckDB's dialect."""
        ...

    def append(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> int:
        """Bulk-insert rows (callers buffer: one append of thousands of rows, not thousands of appends)."""
        ...

    def close(self) -> None: ...


class DuckDBWarehouse:
    """The embedded default: a DuckDB database file (or ``:memory:``)."""

    dialect = "duckdb"

    def __init__(self, path: Path | str) -> None:
        import duckdb

        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._con = duckdb.connect(self.path)
        self._write_lock = threading.Lock()

    @contextmanager
    def cursor(self) -> Iterator[Any]:
        """A DuckDB cursor of its own for this thread (closed afterwards)."""
        cur = self._con.cursor()
        try:
            yield cur
        finally:
            cur.close()

    def query(self, sql: str, params: Params = None) -> Result:
        with self.cursor() as cur:
            rel = cur.execute(sql, params) if params is not None else cur.execute(sql)
            columns = [d[0] for d in rel.description] if rel.description else []
            return Result(columns, rel.fetchall())

    def execute(self, sql: str, params: Params = None) -> None:
        with self._write_lock, self.cursor() as cur:
            if params is not None:
                cur.execute(sql, params)
            else:
                cur.execute(sql)

    def append(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> int:
        if not rows:
            return 0
        import pyarrow as pa

        data = pa.table({name: [row[i] for row in rows] for i, name in enumerate(columns)})
        cols = ", ".join(f'"{c}"' for c in columns)
        with self._write_lock, self.cursor() as cur:
            cur.register("_append_rows", data)
            try:
                cur.execute(f'INSERT INTO "{table}" ({cols}) SELECT {cols} FROM _append_rows')  # noqa: S608  # names are ours
            finally:
                cur.unregister("_append_rows")
        return len(rows)

    def close(self) -> None:
        self._con.close()


def open_warehouse(url: str = "") -> Warehouse:
    """Open the warehouse named by ``url``: empty for the DuckDB file in the data directory,
    ``duckdb:///path/to/file.duckdb`` or ``duckdb://:memory:``."""
    if not url:
        return DuckDBWarehouse(get_settings().ensure_data_dir() / "warehouse.duckdb")
    if url.startswith("duckdb://"):
        target = url.removeprefix("duckdb://")
        return DuckDBWarehouse(":memory:" if target in {":memory:", "/:memory:"} else target.removeprefix("/"))
    raise ValueError(f"Unsupported warehouse URL {url!r}: use duckdb:///path/to/file.duckdb")


@functools.cache
def get_warehouse() -> Warehouse:
    """The process-wide warehouse, opened on first use from ``PRODOPS_WAREHOUSE_URL``."""
    return open_warehouse(get_settings().warehouse_url)


def reset_warehouse() -> None:
    """Close the process-wide warehouse (tests, and after changing settings)."""
    if get_warehouse.cache_info().currsize:
        get_warehouse().close()
    get_warehouse.cache_clear()
