"""Products and teams use cases."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from prodops.platform import audit, events
from prodops.platform.audit import Actor
from prodops.platform.db import transaction
from prodops.platform.errors import Conflict, NotFound, ValidationFailed
from prodops.platform.identity.models import User
from prodops.platform.org.models import Product, Team
from prodops.platform.org.schemas import ProductIn, ProductOut, TeamIn, TeamOut

PRODUCT_CREATED = events.declare("org.product.created", "A product line was created.")
TEAM_CREATED = events.declare("org.team.created", "A team was created.")
TEAM_UPDATED = events.declare("org.team.updated", "A team's details or members changed.")


def team_out(team: Team) -> TeamOut:
    return TeamOut(
        id=team.id,
        key=team.key,
        name=team.name,
        description=team.description,
        product_id=team.product_id,
        member_ids=[m.id for m in team.members],
    )


def list_products(session: Session) -> list[ProductOut]:
    return [ProductOut.model_validate(p) for p in session.scalars(select(Product).order_by(Product.name))]


def list_teams(session: Session) -> list[TeamOut]:
    teams = session.scalars(select(Team).options(selectinload(Team.members)).order_by(Team.name))
    return [team_out(t) for t in teams]


def create_product(session: Session, actor: Actor, data: ProductIn) -> ProductOut:
    with transaction(session):
        if session.scalar(select(Product.id).where((Product.key == data.key) | (Product.name == data.name))):
            raise Conflict("key", f"a product with key {data.key!r} or name {data.name!r} already exists")
        product = Product(**data.model_dump())
        session.add(product)
        session.flush()
        audit.record(
            session,
            actor,
            entity_type="product",
            entity_id=product.id,
            action="create",
            changes=audit.diff({}, data.model_dump()),
            entity_label=product.name,
        )
        events.emit(session, PRODUCT_CREATED, {"id": product.id, "key": product.key, "name": product.name})
        return ProductOut.model_validate(product)


def _members(session: Session, ids: list[int]) -> list[User]:
    users = list(session.scalars(select(User).where(User.id.in_(ids)))) if ids else []
    missing = set(ids) - {u.id for u in users}
    if missing:
        raise ValidationFailed("member_ids", f"unknown user id(s): {', '.join(map(str, sorted(missing)))}")
    return users


def create_team(session: Session, actor: Actor, data: TeamIn) -> TeamOut:
    with transaction(session):
        if session.scalar(select(Team.id).where((Team.key == data.key) | (Team.name == data.name))):
            raise Conflict("key", f"a team with key {data.key!r} or name {data.name!r} already exists")
        if data.product_id is not None and session.get(Product, data.product_id) is None:
            raise ValidationFailed("product_id", f"unknown product id {data.product_id}")
        team = Team(key=data.key, name=data.name, description=data.description, product_id=data.product_id)
        team.members = _members(session, data.member_ids)
        session.add(team)
        session.flush()
        out = team_out(team)
        audit.record(
            session,
            actor,
            entity_type="team",
            entity_id=team.id,
            action="create",
            changes=audit.diff({}, out.model_dump(exclude={"id"})),
            entity_label=team.name,
        )
        events.emit(session, TEAM_CREATED, out.model_dump())
        return out


def set_team_members(session: Session, actor: Actor, team_id: int, member_ids: list[int]) -> TeamOut:
    with transaction(session):
        team = session.get(Team, team_id)
        if team is None:
            raise NotFound("team", team_id)
        before = sorted(m.id for m in team.members)
        team.members = _members(session, member_ids)
        after = sorted(m.id for m in team.members)
        if before != after:
            audit.record(
                session,
                actor,
                entity_type="team",
                entity_id=team.id,
                action="update",
                changes={"member_ids": [before, after]},
                entity_label=team.name,
            )
            events.emit(session, TEAM_UPDATED, {"id": team.id, "member_ids": after})
        return team_out(team)
