"""Event sources: admin pages and JSON API, audit, who may do what, form errors."""

from __future__ import annotations

from typing import Any

import pytest

from prodops.platform.audit import AuditRecord
from prodops.platform.db import session_scope
from tests.analytics.conftest import make_source

pytestmark = pytest.mark.usefixtures("clean_warehouse")


def _audit(entity_id: int) -> list[tuple[str, dict[str, Any]]]:
    with session_scope() as s:
        records = s.query(AuditRecord).filter_by(entity_type="analytics_source", entity_id=str(entity_id))
        return [(r.action, r.changes) for r in records.order_by(AuditRecord.id)]


def test_admin_creates_renames_rotates_disables_and_deletes_a_source(admin_client: Any, client: Any) -> None:
    page = admin_client.get("/admin/analytics/sources")
    assert page.status_code == 200 and "No event sources yet" in page.text
    created = admin_client.form(
        "/admin/analytics/sources", {"name": "Web app", "kind": "segment"}, follow_redirects=False
    )
    assert created.status_code == 303
    detail_url = created.headers["location"]
    source_id = int(detail_url.rsplit("/", 1)[1])
    detail = admin_client.get(detail_url)
    key = admin_client.get(f"/api/v1/analytics/sources/{source_id}").json()["write_key"]
    assert key in detail.text  # shown again at any time (the Segment model)
    assert "analytics.host" in detail.text and "dataPlaneUrl" in detail.text  # segment and rudder set-up
    assert "Posthog(" not in detail.text  # a segment-only source offers no PostHog snippet
    assert admin_client.get(f"/admin/analytics/sources/{source_id}/chart.json").json()["mark"]["type"] == "bar"
    assert admin_client.get("/admin/analytics/sources/chart.json").status_code == 200
    body = {"userId": "u", "event": "E", "writeKey": key}
    assert client.post("/v1/track", json=body).status_code == 200

    assert admin_client.form(detail_url, {"name": "Web app (prod)", "kind": "any"}).status_code == 200
    admin_client.form(f"{detail_url}/rotate")
    new_key = admin_client.get(f"/api/v1/analytics/sources/{source_id}").json()["write_key"]
    assert new_key != key
    assert client.post("/v1/track", json=body).status_code == 401  # the old key is refused at once
    assert client.post("/v1/track", json={**body, "writeKey": new_key}).status_code == 200
    admin_client.form(f"{detail_url}/enabled", {"enabled": "false"})
    refused = client.post("/v1/track", json={**body, "writeKey": new_key})
    assert refused.status_code == 401 and refused.json()["code"] == "source_disabled"
    admin_client.form(f"{detail_url}/enabled", {"enabled": "true"})
    assert client.post("/v1/track", json={**body, "writeKey": new_key}).status_code == 200
    listing = admin_client.get("/admin/analytics/sources")
    assert "Web app (prod)" in listing.text and new_key not in listing.text  # the list shows a prefix only
    admin_client.form(f"{detail_url}/delete")
    assert client.post("/v1/track", json={**body, "writeKey": new_key}).status_code == 401

    actions = [a for a, _ in _audit(source_id)]
    assert actions == ["create", "update", "rotate_key", "disable", "enable", "delete"]
    rotate = dict(_audit(source_id))["rotate_key"]
    assert rotate["write_key"][0].endswith("…") and key not in str(rotate)  # keys never sit in the audit log


def test_form_errors_keep_values_and_change_nothing(admin_client: Any) -> None:
    make_source("Taken")
    response = admin_client.form("/admin/analytics/sources", {"name": "Taken", "kind": "any"})
    assert response.status_code == 422
    assert "already exists" in response.text
    response = admin_client.form("/admin/analytics/sources", {"name": "", "kind": "bogus"})
    assert response.status_code == 422
    assert admin_client.get("/api/v1/analytics/sources").json()["total"] == 1


def test_json_api(admin_client: Any) -> None:
    headers = {"X-CSRF-Token": admin_client.csrf}
    created = admin_client.post(
        "/api/v1/analytics/sources", json={"name": "Mobile", "kind": "posthog"}, headers=headers
    )
    assert created.status_code == 201
    data = created.json()
    assert data["write_key"].startswith("wk_") and "posthog (Python)" in data["snippets"]
    sid = data["id"]
    assert (
        admin_client.patch(f"/api/v1/analytics/sources/{sid}", json={"enabled": False}, headers=headers).json()[
            "enabled"
        ]
        is False
    )
    bad = admin_client.patch(f"/api/v1/analytics/sources/{sid}", json={"kind": "mixpanel"}, headers=headers)
    assert bad.status_code == 422
    null = admin_client.patch(f"/api/v1/analytics/sources/{sid}", json={"name": None}, headers=headers)
    assert null.status_code == 422
    dup = admin_client.post("/api/v1/analytics/sources", json={"name": "Mobile"}, headers=headers)
    assert dup.status_code == 409 and dup.json()["detail"][0]["loc"] == ["body", "name"]
    rotated = admin_client.post(f"/api/v1/analytics/sources/{sid}/rotate-key", headers=headers).json()
    assert rotated["write_key"] != data["write_key"]
    assert admin_client.delete(f"/api/v1/analytics/sources/{sid}", headers=headers).status_code == 204
    assert admin_client.get(f"/api/v1/analytics/sources/{sid}").status_code == 404


def test_members_and_viewers_cannot_manage_sources(member_client: Any) -> None:
    src = make_source()
    assert member_client.get("/admin/analytics/sources").status_code == 403
    assert member_client.get("/api/v1/analytics/sources").status_code == 403
    assert member_client.form(f"/admin/analytics/sources/{src.id}/rotate").status_code == 403
    headers = {"X-CSRF-Token": member_client.csrf}
    assert member_client.post("/api/v1/analytics/sources", json={"name": "x"}, headers=headers).status_code == 403


def test_nav_entry_for_admins(admin_client: Any) -> None:
    assert 'href="/admin/analytics/sources"' in admin_client.get("/").text
