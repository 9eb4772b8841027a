"""Factories and helpers for the features tests (real database through the shared fixtures)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from polyfactory import Use
from polyfactory.factories.pydantic_factory import ModelFactory
from sqlalchemy.orm import Session

from prodops.domains.customers import service as customers
from prodops.domains.customers.schemas import PersonIn, PersonOut
from prodops.domains.features import service
from prodops.domains.features.schemas import FeatureIn, FeatureOut
from prodops.platform import events
from prodops.platform.audit import Actor
from prodops.platform.org import service as org
from prodops.platform.org.schemas import ProductIn, ProductOut, TeamIn, TeamOut
from tests.conftest import Client, capture_events

ACTOR = Actor.system("test")
_seq = itertools.count(1)


class FeatureInFactory(ModelFactory[FeatureIn]):
    __check_model__ = False

    title = Use(lambda: f"Feature {next(_seq)}")
    description = "Customers want this."
    product_id = None
    area = None
    owner_id = None
    team_id = None
    tags = Use(list)
    status = None
    release_note = ""


def make_feature(session: Session, **fields: Any) -> FeatureOut:
    return service.create_feature(session, ACTOR, FeatureInFactory.build(**fields))


def make_product(session: Session, key: str | None = None, name: str | None = None) -> ProductOut:
    n = next(_seq)
    return org.create_product(session, ACTOR, ProductIn(key=key or f"p{n}", name=name or f"Product {n}"))


def make_team(session: Session, name: str | None = None) -> TeamOut:
    n = next(_seq)
    return org.create_team(session, ACTOR, TeamIn(key=f"t{n}", name=name or f"Team {n}"))


def make_person(session: Session, email: str | None = None, name: str = "") -> PersonOut:
    n = next(_seq)
    return customers.create_person(session, ACTOR, PersonIn(email=email or f"person{n}@people.example", name=name))


@pytest.fixture
def received() -> Iterator[list[events.Event]]:
    """The features.* events dispatched during the test (after their transaction committed)."""
    with capture_events("features.*") as seen:
        yield seen


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


@pytest.fixture
def admin_client(admin_client: Client) -> Client:
    admin_client.headers["X-CSRF-Token"] = admin_client.csrf
    return admin_client
