"""Factories and helpers for the roadmap tests (real database through the shared fixtures)."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from typing import Any

import pytest

from prodops.platform.audit import Actor
from tests.analytics.conftest import clean_warehouse
from tests.conftest import Client
from tests.features.conftest import make_feature, make_person, make_product, make_team

__all__ = ["ACTOR", "clean_warehouse", "make_feature", "make_person", "make_product", "make_team", "seq"]

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


@pytest.fixture
def active_accounts(clean_warehouse: Any) -> Iterator[Any]:
    """The default analytics metrics, and usage events from three accounts over the last three days."""
    from prodops.domains.analytics.service import metrics as analytics_metrics
    from prodops.domains.analytics.service.schema import ensure_schema
    from prodops.platform.db import session_scope

    ensure_schema(clean_warehouse)
    with session_scope() as s:
        analytics_metrics.seed_default_metrics(s, ACTOR)
    analytics_metrics.forget_cache()
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    rows = []
    for account in (1, 2, 3):
        for days in (1, 2, 3):
            when = now - dt.timedelta(days=days)
            rows.append((f"e{account}-{days}", "view", f"d{account}", account, account, when, when, 1, "{}"))
    clean_warehouse.append(
        "events",
        [
            "uuid",
            "event",
            "distinct_id",
            "person_id",
            "account_id",
            "timestamp",
            "received_at",
            "source_id",
            "properties",
        ],
        rows,
    )
    yield clean_warehouse
    analytics_metrics.forget_cache()
