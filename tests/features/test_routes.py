"""Features pages: list, detail (with panels), forms and inline errors, merge UI and redirects, the lifecycle
admin page, CSV export, permissions and statement counts."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from prodops.domains.features import service
from prodops.domains.features.models import Feature, FeatureStatus
from prodops.domains.features.schemas import StatusIn
from prodops.platform import registry
from tests.conftest import Client, count_statements, make_user
from tests.features.conftest import ACTOR, make_feature, make_person, make_product, make_team


def seed(session: Session, n: int = 30) -> list[int]:
    products = [make_product(session).id for _ in range(2)]
    teams = [make_team(session).id for _ in range(2)]
    owners = [make_user("member").id for _ in range(2)]
    people = [make_person(session).id for _ in range(4)]
    ids = []
    for i in range(n):
        f = make_feature(
            session,
            title=f"Feature {i:03d}",
            product_id=products[i % 2],
            team_id=teams[i % 2],
            owner_id=owners[i % 2],
            area=["Billing", "Reports", "Mobile"][i % 3],
            tags=["export", f"t{i % 4}"],
            status=["idea", "planned", "shipped"][i % 3],
        )
        for p in people[: i % 4]:
            service.add_vote(session, ACTOR, f.id, p)
        if i % 2:
            service.subscribe(session, ACTOR, f.id, people[0])
        ids.append(f.id)
    return ids


@pytest.fixture
def panel() -> Iterator[None]:
    registry.panel("feature", "Evidence (test)", "/test-panels/features/{id}/evidence", order=1)
    yield
    registry.registry.panels[:] = [p for p in registry.registry.panels if p.title != "Evidence (test)"]


# --- list -----------------------------------------------------------------------------------


def test_list_page_filters_chips_and_empty_states(viewer_client: Client, session: Session) -> None:
    empty = viewer_client.get("/features")
    assert empty.status_code == 200
    assert "No features yet" in empty.text
    seed(session, 12)
    page = viewer_client.get("/features")
    assert page.status_code == 200
    assert "Feature 000" in page.text and "Feature 011" in page.text
    assert 'href="/features/new"' not in page.text  # viewers do not get the button
    # Counts per status as chips, in lifecycle order.
    assert "Idea <strong>4</strong>" in page.text
    assert "Planned <strong>4</strong>" in page.text
    assert "Shipped <strong>4</strong>" in page.text
    filtered = viewer_client.get("/features", params={"status": "planned", "area": "Reports", "tag": "EXPORT"})
    assert filtered.status_code == 200
    assert "Status: Planned" in filtered.text and "Area: Reports" in filtered.text and "Tag: export" in filtered.text
    titles = {f"Feature {i:03d}" for i in range(12) if i % 3 == 1}
    assert all(t in filtered.text for t in titles)
    assert "Feature 000" not in filtered.text
    none = viewer_client.get("/features", params={"q": "nothing like this"})
    assert "No features match these filters" in none.text
    partial = viewer_client.get("/features", params={"q": "Feature 00"}, headers={"HX-Request": "true"})
    assert partial.status_code == 200
    assert "<html" not in partial.text and 'id="features-total"' in partial.text
    bad = viewer_client.get("/features", params={"sort": "password"})
    assert bad.status_code == 422


def test_csv_export_equals_the_filtered_rows(viewer_client: Client, session: Session) -> None:
    seed(session, 12)
    params = {"area": "Billing", "sort": "title"}
    api = viewer_client.get("/api/v1/features", params={**params, "per_page": 500}).json()
    response = viewer_client.get("/features.csv", params={**params, "page": 2, "per_page": 1})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8").lstrip("\ufeff"))))
    assert [r["title"] for r in rows] == [f["title"] for f in api["items"]]
    assert len(rows) == api["total"] == 4
    assert rows[0]["status_label"] == "Idea" and rows[0]["tags"] == "export, t0"


# --- detail ---------------------------------------------------------------------------------


def test_detail_renders_markdown_safely_with_panels_and_history(
    viewer_client: Client, session: Session, panel: None
) -> None:
    feature = make_feature(
        session,
        title="Dark <b>mode</b>",
        description="**Bold** idea <script>alert(1)</script> [x](javascript:alert(2))",
        tags=["ui"],
    )
    service.update_feature(session, ACTOR, feature.id, service_update(area="Settings"))
    page = viewer_client.get(f"/features/{feature.id}")
    assert page.status_code == 200
    assert "Dark &lt;b&gt;mode&lt;/b&gt;" in page.text
    assert "<strong>Bold</strong>" in page.text
    assert "<script>alert(1)" not in page.text
    assert 'href="javascript' not in page.text
    assert f'hx-get="/test-panels/features/{feature.id}/evidence"' in page.text
    assert 'hx-trigger="load"' in page.text and "Evidence (test)" in page.text
    assert "∅ → Settings" in page.text  # history from the audit log
    assert "Change status" not in page.text  # viewers read only
    assert viewer_client.get("/features/424242").status_code == 404


def service_update(**fields: object):  # type: ignore[no-untyped-def]
    from prodops.domains.features.schemas import FeatureUpdate

    return FeatureUpdate.model_validate(fields)


def test_merged_feature_pages_redirect_to_the_survivor(member_client: Client, session: Session) -> None:
    source, target = make_feature(session, title="Old idea"), make_feature(session, title="Survivor")
    service.merge_features(session, ACTOR, source.id, target.id)
    response = member_client.get(f"/features/{source.id}", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/features/{target.id}"
    page = member_client.get(response.headers["location"])
    assert "“Old idea” was merged into “Survivor”." in page.text
    assert "Merged into this" in page.text
    edit = member_client.get(f"/features/{source.id}/edit", follow_redirects=False)
    assert (edit.status_code, edit.headers["location"]) == (303, f"/features/{target.id}/edit")


# --- forms ----------------------------------------------------------------------------------


def test_create_and_edit_forms_show_inline_errors_and_keep_values(member_client: Client, session: Session) -> None:
    product = make_product(session, name="Mobile")
    service.set_statuses(session, ACTOR, product.id, [StatusIn(key="new", label="New"), StatusIn(label="Done")])
    assert member_client.get("/features/new").status_code == 200
    bad = member_client.form(
        "/features/new",
        {"title": "", "description": "keep me", "tags": "a, b", "product_id": str(product.id), "status": "planned"},
    )
    assert bad.status_code == 422
    assert 'id="e-title"' in bad.text
    assert "keep me" in bad.text and 'value="a, b"' in bad.text
    bad = member_client.form(
        "/features/new", {"title": "Offline mode", "product_id": str(product.id), "status": "planned"}
    )
    assert bad.status_code == 422
    assert 'id="e-status"' in bad.text and "not a status of Mobile" in bad.text
    assert '<option value="new"' in bad.text  # the status list is the chosen product's
    bad = member_client.form("/features/new", {"title": "Offline mode", "team_id": "4242"})
    assert bad.status_code == 422 and 'id="e-team_id"' in bad.text
    assert member_client.form("/features/new", {"title": "x" * 201}).status_code == 422
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Feature)) == 0

    created = member_client.form(
        "/features/new",
        {"title": "Offline mode", "product_id": str(product.id), "tags": "Sync, sync, Offline", "area": "Core"},
        follow_redirects=False,
    )
    assert created.status_code == 303, created.text
    session.rollback()
    feature = session.scalars(select(Feature)).one()
    assert (feature.status, feature.tags, feature.area) == ("new", ["sync", "offline"], "Core")
    assert member_client.get(created.headers["location"]).status_code == 200

    edit = member_client.get(f"/features/{feature.id}/edit")
    assert 'value="sync, offline"' in edit.text
    assert '<option value="new" selected>' in edit.text  # the current status, not the lifecycle's first
    saved = member_client.form(
        f"/features/{feature.id}/edit",
        {"title": "Offline mode v2", "product_id": str(product.id), "status": "done", "tags": "sync"},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    page = member_client.get(saved.headers["location"]).text
    assert "Offline mode v2" in page and "Done" in page
    service.set_status(session, ACTOR, feature.id, "new")
    edit = member_client.get(f"/features/{feature.id}/edit")
    assert '<option value="new" selected>' in edit.text and '<option value="done" selected>' not in edit.text
    bad = member_client.form(f"/features/{feature.id}/edit", {"title": ""})
    assert bad.status_code == 422 and 'id="e-title"' in bad.text

    options = member_client.get("/features/status-options", params={"product_id": product.id, "status": "done"})
    assert '<option value="done" selected>' in options.text and "idea" not in options.text


def test_status_votes_subscribers_and_delete_forms(member_client: Client, session: Session) -> None:
    feature = make_feature(session)
    moved = member_client.form(f"/features/{feature.id}/status", {"status": "in_progress"}, follow_redirects=False)
    assert moved.status_code == 303
    assert "is now In progress" in member_client.get(moved.headers["location"]).text
    refused = member_client.form(f"/features/{feature.id}/status", {"status": "nope"})
    assert "not a status of the workspace" in refused.text
    session.rollback()
    assert service.get_feature(session, feature.id).status == "in_progress"

    member_client.form(f"/features/{feature.id}/votes", {"email": "ann@customer.example", "name": "Ann"})
    member_client.form(f"/features/{feature.id}/subscribers", {"email": "ann@customer.example"})
    page = member_client.get(f"/features/{feature.id}").text
    assert "Ann" in page and 'Votes <span class="muted">(1)' in page and 'Followers <span class="muted">(1)' in page
    bad = member_client.form(f"/features/{feature.id}/votes", {"email": "nobody"})
    assert bad.status_code == 200 and "nobody is not an e-mail address" in bad.text
    session.rollback()
    person_id = service.voter_person_ids(session, feature.id)[0]
    member_client.form(f"/features/{feature.id}/votes/{person_id}/delete")
    member_client.form(f"/features/{feature.id}/subscribers/{person_id}/delete")
    session.rollback()
    assert service.voter_person_ids(session, feature.id) == []
    assert service.subscriber_person_ids(session, feature.id) == []

    gone = member_client.form(f"/features/{feature.id}/delete", follow_redirects=False)
    assert gone.status_code == 303
    assert member_client.get(f"/features/{feature.id}").status_code == 404


def test_merge_ui_searches_and_merges(member_client: Client, session: Session) -> None:
    source = make_feature(session, title="Dark mode")
    target = make_feature(session, title="Night theme")
    make_feature(session, title="Dark reports")
    page = member_client.get(f"/features/{source.id}/merge", params={"q": "night"})
    assert page.status_code == 200
    assert f'value="{target.id}"' in page.text and f'value="{source.id}"' not in page.text
    assert 'hx-get="/features/choices"' in page.text
    partial = member_client.get("/features/choices", params={"q": "dark", "exclude": source.id})
    assert "Dark reports" in partial.text and "Dark mode" not in partial.text and "<html" not in partial.text
    missing = member_client.form(f"/features/{source.id}/merge", {"into": ""})
    assert missing.status_code == 422 and "Pick the feature that stays" in missing.text
    itself = member_client.form(f"/features/{source.id}/merge", {"into": str(source.id)})
    assert itself.status_code == 422 and "cannot be merged into itself" in itself.text
    merged = member_client.form(f"/features/{source.id}/merge", {"into": str(target.id)}, follow_redirects=False)
    assert (merged.status_code, merged.headers["location"]) == (303, f"/features/{target.id}")
    assert "“Dark mode” merged into “Night theme”." in member_client.get(merged.headers["location"]).text


# --- permissions ----------------------------------------------------------------------------


def test_viewers_are_refused_on_writes(viewer_client: Client, session: Session) -> None:
    feature = make_feature(session)
    for url, data in (
        ("/features/new", {"title": "x"}),
        (f"/features/{feature.id}/edit", {"title": "x"}),
        (f"/features/{feature.id}/status", {"status": "planned"}),
        (f"/features/{feature.id}/delete", {}),
        (f"/features/{feature.id}/merge", {"into": "1"}),
        (f"/features/{feature.id}/votes", {"email": "a@b.example"}),
    ):
        assert viewer_client.form(url, data).status_code == 403, url
    assert viewer_client.get("/features/new").status_code == 403
    assert viewer_client.get(f"/features/{feature.id}/merge").status_code == 403
    assert viewer_client.get("/admin/features/statuses").status_code == 403
    assert viewer_client.get(f"/features/{feature.id}").status_code == 200


def test_member_forms_need_the_csrf_token_and_admin_pages_the_admin_role(member_client: Client) -> None:
    assert member_client.get("/admin/features/statuses").status_code == 403
    del member_client.headers["X-CSRF-Token"]
    assert member_client.post("/features/new", data={"title": "No token"}).status_code == 403
    assert member_client.post("/features/new", data={"title": "Bad", "csrf_token": "forged"}).status_code == 403
    assert member_client.form("/features/new", {"title": "With token"}, follow_redirects=False).status_code == 303


# --- lifecycle admin ------------------------------------------------------------------------


def test_admin_configures_a_product_lifecycle(admin_client: Client, session: Session) -> None:
    product = make_product(session, name="Mobile")
    page = admin_client.get("/admin/features/statuses", params={"product_id": product.id})
    assert page.status_code == 200
    assert "Mobile follows the workspace lifecycle" in page.text and "Under consideration" in page.text
    rows = {
        "product_id": str(product.id),
        "key": ["idea", "under_consideration", "planned", "in_progress", "shipped", "declined", ""],
        "label": ["Idea", "Thinking about it", "Planned", "In progress", "Shipped", "Declined", "Beta"],
        "kind": ["idea", "considering", "planned", "active", "shipped", "declined", "active"],
        "position": ["1", "2", "3", "5", "6", "7", "4"],
        "notify": ["4", "6"],
        "remove": ["5"],
    }
    saved = admin_client.form("/admin/features/statuses", rows, follow_redirects=False)
    assert saved.status_code == 303, saved.text
    statuses = service.statuses_for(session, product.id)
    assert [(s.key, s.label, s.notify) for s in statuses] == [
        ("idea", "Idea", False),
        ("under_consideration", "Thinking about it", False),
        ("planned", "Planned", False),
        ("beta", "Beta", True),
        ("in_progress", "In progress", False),
        ("shipped", "Shipped", True),
    ]
    assert "Mobile has its own lifecycle" in admin_client.get(saved.headers["location"]).text

    make_feature(session, product_id=product.id, status="beta")
    make_feature(session, product_id=product.id, status="beta")
    refused = admin_client.form(
        "/admin/features/statuses",
        {
            "product_id": str(product.id),
            "key": ["idea", "beta"],
            "label": ["Idea", "Beta"],
            "kind": ["idea", "active"],
            "position": ["1", "2"],
            "remove": ["1"],
        },
    )
    assert refused.status_code == 422
    assert "2 features are “Beta”" in refused.text
    dup = admin_client.form(
        "/admin/features/statuses",
        {
            "product_id": str(product.id),
            "key": ["idea", "beta", ""],
            "label": ["Idea", "Beta", "beta"],
            "kind": ["idea", "active", "idea"],
            "position": ["1", "2", "3"],
        },
    )
    assert dup.status_code == 422 and 'id="e-2-label"' in dup.text
    session.rollback()
    assert session.scalar(select(func.count()).select_from(FeatureStatus)) == 6

    reset = admin_client.form("/admin/features/statuses/reset", {"product_id": str(product.id)}, follow_redirects=False)
    assert reset.status_code == 303
    assert "move them to another status" in admin_client.get(reset.headers["location"]).text


# --- statement counts -----------------------------------------------------------------------


def test_list_statements_do_not_grow_with_page_size(member_client: Client, session: Session) -> None:
    seed(session, 60)
    counts = {}
    for per_page in (10, 50):
        for path in ("/features", "/api/v1/features"):
            member_client.get(path, params={"per_page": per_page})  # warm caches (templates, compiled SQL)
            with count_statements() as statements:
                response = member_client.get(path, params={"per_page": per_page, "sort": "-votes"})
            assert response.status_code == 200
            counts[(path, per_page)] = len(statements)
    for path in ("/features", "/api/v1/features"):
        assert counts[(path, 10)] == counts[(path, 50)], (path, counts)
    assert counts[("/features", 50)] <= 10, counts
    assert counts[("/api/v1/features", 50)] <= 3, counts


def test_detail_statements_are_bounded(member_client: Client, session: Session) -> None:
    ids = seed(session, 8)
    member_client.get(f"/features/{ids[7]}")
    with count_statements() as statements:
        assert member_client.get(f"/features/{ids[7]}").status_code == 200
    assert len(statements) <= 10, statements
