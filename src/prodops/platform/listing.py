"""Lists everywhere behave the same: whitelisted sorting, bounded pages, a total."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from prodops.platform.errors import ValidationFailed

T = TypeVar("T")

MAX_PER_PAGE = 500


@dataclass(frozen=True)
class Page(Generic[T]):
    items: Sequence[T]
    total: int
    number: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def start(self) -> int:
        return 0 if self.total == 0 else (self.number - 1) * self.per_page + 1

    @property
    def end(self) -> int:
        return min(self.total, self.number * self.per_page)

    @property
    def has_prev(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages


def order_by(
    stmt: Select[Any], sort: str | None, columns: Mapping[str, ColumnElement[Any] | Any], default: str, tiebreak: Any
) -> Select[Any]:
    """Apply ``sort`` (a key of ``columns``, ``-`` prefix for descending) or raise a field error."""
    key = sort or default
    desc = key.startswith("-")
    name = key.lstrip("-")
    if name not in columns:
        raise ValidationFailed("sort", f"cannot sort by {name!r}; choose one of {', '.join(sorted(columns))}")
    column = columns[name]
    primary = column.desc().nulls_last() if desc else column.asc().nulls_last()
    return stmt.order_by(primary, tiebreak.desc() if desc else tiebreak.asc())


def paginate(session: Session, stmt: Select[Any], page: int, per_page: int, *, scalars: bool = True) -> Page[Any]:
    if page < 1:
        raise ValidationFailed("page", "page numbers start at 1")
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise ValidationFailed("per_page", f"per_page must be between 1 and {MAX_PER_PAGE}")
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    paged = stmt.limit(per_page).offset((page - 1) * per_page)
    items: list[Any]
    if scalars:  # noqa: SIM108  # the ternary form crashes mypy 2.4.1
        items = list(session.scalars(paged))
    else:
        items = list(session.execute(paged))
    return Page(items=items, total=total, number=page, per_page=per_page)
