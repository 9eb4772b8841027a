"""Factories and helpers for the roadmap tests (real database through the shared fixtures)."""

from __future__ import annotations

import itertools

import pytest

from prodops.platform.audit import Actor
from tests.conftest import Client
from tests.features.conftest import make_feature, make_person, make_product, make_team

__all__ = ["ACTOR", "make_feature", "make_person", "make_product", "make_team", "seq"]

ACTOR = Actor.system("test")
_seq = itertools.count(1)


def seq() -> int:
    return next(_seq)


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
