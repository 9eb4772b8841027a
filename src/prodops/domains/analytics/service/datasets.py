"""Operational datasets in the warehouse: every domain's registered tables, copied as ``ds_<name>``.

How a domain registers one (in its ``datasets.py``)::

    @registry.dataset("feedback")
    def feedback_volume(session: Session) -> Select[Any]:
        return select(FeedbackItem.id.label("id"), FeedbackItem.received_at.label("received_at"), ...)

The function gets a database session and returns either a SQLAlchemy ``Select`` (its labels are the columns)
or ``(columns, rows)``: a list of column names and an iterable of row tuples. Values may be text, numbers,
booleans, dates and datetimes (stored as UTC); anything else is stored as text. A load replaces the whole
table in one step, so a dashboard never sees a half-loaded dataset.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import re
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Select
from sqlalchemy.orm import Session

from prodops.domains.analytics.service.insights.datasets import ident, table_name
from prodops.domains.analytics.service.warehouse import insight_warehouse
from prodops.platform.registry import registry
from prodops.platform.warehouse import Warehouse

NAME = re.compile(r"^[a-z][a-z0-9_]{0,59}$")
CHUNK = 50_000


def registered() -> list[str]:
    return sorted(n for n in registry.datasets if NAME.match(n))


def _type(value: Any) -> str:
    if isinstance(value, bool):
        return "BOOLEAN"
    if isinstance(value, int):
        return "BIGINT"
    if isinstance(value, float | decimal.Decimal):
        return "DOUBLE"
    if isinstance(value, dt.datetime):
        return "TIMESTAMP"
    if isinstance(value, dt.date):
        return "DATE"
    return "VARCHAR"


def _cell(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind == "TIMESTAMP" and isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value
    if kind == "DOUBLE":
        return float(value)
    if kind == "VARCHAR" and not isinstance(value, str):
        return json.dumps(value, default=str) if isinstance(value, dict | list) else str(value)
    return value


def _rows_of(session: Session, found: Any) -> tuple[list[str], Iterable[Sequence[Any]]]:
    if isinstance(found, Select):
        result = session.execute(found)
        return list(result.keys()), result
    columns, rows = found
    return list(columns), rows


def load_dataset(session: Session, name: str, wh: Warehouse | None = None) -> int:
    """Copy one registered dataset into the warehouse as ``ds_<name>`` (replacing it); returns the row count."""
    if name not in registry.datasets or not NAME.match(name):
        raise KeyError(name)
    wh = wh or insight_warehouse(flush=False)
    columns, rows = _rows_of(session, registry.datasets[name](session))
    data = [tuple(r) for r in rows]
    kinds = []
    for i in range(len(columns)):
        sample = next((r[i] for r in data if r[i] is not None), None)
        kinds.append(_type(sample))
    data = [tuple(_cell(v, kinds[i]) for i, v in enumerate(r)) for r in data]
    target, staging = table_name(name), table_name(name) + "__loading"
    wh.execute(f"DROP TABLE IF EXISTS {staging}")
    wh.execute(f"CREATE TABLE {staging} ({', '.join(f'{ident(c)} {k}' for c, k in zip(columns, kinds, strict=True))})")
    for start in range(0, len(data), CHUNK):
        wh.append(staging, columns, data[start : start + CHUNK])
    wh.execute(f"DROP TABLE IF EXISTS {target}")
    wh.execute(f"ALTER TABLE {staging} RENAME TO {target}")
    return len(data)


def load_datasets(session: Session, wh: Warehouse | None = None) -> dict[str, int]:
    """Load every registered dataset; returns rows per dataset."""
    return {name: load_dataset(session, name, wh) for name in registered()}
