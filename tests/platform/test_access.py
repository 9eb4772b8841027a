"""Walks every registered route and proves who may call it. New routes are covered automatically."""

from __future__ import annotations

import re

import pytest

from prodops.web import api_routes, route_access
from tests.conftest import Client, login, make_token, make_user

SAFE = {"GET", "HEAD", "OPTIONS"}
RANK = {"viewer": 1, "member": 2, "admin": 3}


def _concrete(path: str) -> str:
    # Any value works for access checks: they run before the route looks anything up.
    return re.sub(r"\{[^}]+\}", "1", path)


def _routes(app) -> list[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    table = route_access(app)
    return sorted((method, path, level) for (method, path), level in table.items() if method != "HEAD")


def _is_refused_anonymous(response) -> bool:  # type: ignore[no-untyped-def]
    if response.status_code == 401:
        return True
    return response.status_code == 303 and response.headers["location"].startswith("/login")


def test_every_route_declares_access(app) -> None:  # type: ignore[no-untyped-def]
    table = route_access(app)
    routes = api_routes(app.routes)
    assert len(routes) > 20
    assert len(table) >= len(routes)
    assert {"public", "public-api", "viewer", "member", "admin"} >= set(table.values())


def test_anonymous_is_refused_everywhere_but_public_routes(app, client: Client) -> None:  # type: ignore[no-untyped-def]
    checked = 0
    for method, path, level in _routes(app):
        if level in ("public", "public-api"):
            continue
        response = client.request(method, _concrete(path), follow_redirects=False)
        assert _is_refused_anonymous(response), (
            f"{method} {path} ({level}) answered {response.status_code} to an anonymous caller"
        )
        checked += 1
    assert checked > 20


@pytest.mark.parametrize("role", ["viewer", "member"])
def test_signed_in_users_are_refused_above_their_role(app, client: Client, role: str) -> None:  # type: ignore[no-untyped-def]
    login(client, make_user(role))
    checked = 0
    for method, path, level in _routes(app):
        if level in ("public", "public-api") or RANK[level] <= RANK[role]:
            continue
        headers = {} if method in SAFE else {"X-CSRF-Token": client.csrf}
        response = client.request(method, _concrete(path), headers=headers, follow_redirects=False)
        assert response.status_code == 403, f"{method} {path} ({level}) answered {response.status_code} to a {role}"
        checked += 1
    assert checked > 5


def test_read_token_cannot_write_anywhere(app, client: Client) -> None:  # type: ignore[no-untyped-def]
    token = make_token(make_user("admin"), scope="read")
    checked = 0
    for method, path, level in _routes(app):
        if method in SAFE or level in ("public", "public-api"):
            continue
        response = client.request(
            method, _concrete(path), headers={"Authorization": f"Bearer {token}"}, follow_redirects=False
        )
        assert response.status_code == 403, f"{method} {path} accepted a read-scope token ({response.status_code})"
        checked += 1
    assert checked > 5


def test_session_writes_need_the_csrf_token(app, client: Client) -> None:  # type: ignore[no-untyped-def]
    login(client, make_user("admin"))
    checked = 0
    for method, path, level in _routes(app):
        if method in SAFE or level == "public-api":
            continue
        response = client.request(method, _concrete(path), follow_redirects=False)
        assert response.status_code == 403, (
            f"{method} {path} accepted a session write without a CSRF token ({response.status_code})"
        )
        checked += 1
    assert checked > 5


def test_bad_bearer_tokens_are_rejected(client: Client) -> None:
    for header in ("Bearer pdo_not-a-real-token", "Basic abc", "Bearer "):
        r = client.get("/api/v1/me", headers={"Authorization": header})
        assert r.status_code == 401
        assert r.headers["www-authenticate"] == "Bearer"
