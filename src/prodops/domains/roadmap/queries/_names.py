"""Names of the people, products and teams rows point at, fetched in one statement each."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from prodops.platform.identity.models import User
from prodops.platform.org.models import Product, Team


def user_names(session: Session, ids: Iterable[int | None]) -> dict[int, str]:
    wanted = sorted({i for i in ids if i is not None})
    if not wanted:
        return {}
    rows = session.execute(select(User.id, User.name, User.email).where(User.id.in_(wanted)))
    return {r.id: r.name or r.email for r in rows}


def product_names(session: Session) -> dict[int, str]:
    return {r[0]: r[1] for r in session.execute(select(Product.id, Product.name).order_by(Product.name))}


def team_names(session: Session) -> dict[int, str]:
    return {r[0]: r[1] for r in session.execute(select(Team.id, Team.name).order_by(Team.name))}


def owner_choices(session: Session) -> list[tuple[int, str]]:
    rows = session.execute(
        select(User.id, User.name, User.email).where(User.is_active.is_(True)).order_by(User.name, User.email)
    )
    return [(r.id, r.name or r.email) for r in rows]
