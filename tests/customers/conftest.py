"""Factories and helpers for the customers tests (real database through the shared fixtures)."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from polyfactory import Use
from polyfactory.factories.pydantic_factory import ModelFactory
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from prodops.domains.customers import service
from prodops.domains.customers.schemas import AccountIn, AccountOut, PersonIn, PersonOut
from prodops.platform.audit import Actor, AuditRecord
from tests.conftest import Client

ACTOR = Actor.system("test")
_seq = itertools.count(1)


class AccountInFactory(ModelFactory[AccountIn]):
    __check_model__ = False

    name = Use(lambda: f"Company {next(_seq)}")
    domain = Use(lambda: f"company{next(_seq)}.example")
    plan = Use(ModelFactory.__random__.choice, ["Free", "Starter", "Growth", "Enterprise"])
    arr = Use(lambda: float(ModelFactory.__random__.randint(0, 500) * 100))
    segment = Use(ModelFactory.__random__.choice, ["SMB", "Mid-Market", "Enterprise"])
    region = Use(ModelFactory.__random__.choice, ["NA", "EMEA", "APAC", "LATAM"])
    lifecycle_stage = "active"
    owner_id = None
    external_id = Use(lambda: f"ext-{next(_seq)}")
    attributes = Use(dict)


class PersonInFactory(ModelFactory[PersonIn]):
    __check_model__ = False

    email = Use(lambda: f"person{next(_seq)}@people.example")
    name = Use(lambda: f"Person {next(_seq)}")
    title = "Engineer"
    account_id = None
    external_id = None
    attributes = Use(dict)


def make_account(session: Session, **fields: Any) -> AccountOut:
    return service.create_account(session, ACTOR, AccountInFactory.build(**fields))


def make_person(session: Session, **fields: Any) -> PersonOut:
    """A person; without ``account_id`` they join the account of their e-mail domain, as in the product."""
    data = PersonInFactory.build(**fields).model_dump(exclude=set() if "account_id" in fields else {"account_id"})
    return service.create_person(session, ACTOR, PersonIn.model_validate(data))


def audit_count(session: Session, entity_type: str | None = None) -> int:
    stmt = select(func.count()).select_from(AuditRecord)
    if entity_type:
        stmt = stmt.where(AuditRecord.entity_type == entity_type)
    session.rollback()  # a fresh snapshot: other sessions may have committed since
    return session.scalar(stmt) or 0


# Signed-in browsers send the CSRF token as a header on JSON writes (as htmx and fetch do in the app),
# so a refused write below is refused for its role, not for a missing token.
@pytest.fixture
def member_client(member_client: Client) -> Client:
    member_client.headers["X-CSRF-Token"] = member_client.csrf
    return member_client


@pytest.fixture
def viewer_client(viewer_client: Client) -> Client:
    viewer_client.headers["X-CSRF-Token"] = viewer_client.csrf
    return viewer_client
