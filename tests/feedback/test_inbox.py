"""The triage inbox: filters, keyset pages, facets, the page and its fragments, triage and bulk actions."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from prodops.domains.customers import service as customers
from prodops.domains.customers.schemas import AccountIn, Condition, PersonIn, SegmentIn
from prodops.domains.features import service as features
from prodops.domains.features.schemas import FeatureIn
from prodops.domains.feedback import service
from prodops.domains.feedback.models import FeedbackItem, FeedbackLink, FeedbackTag
from prodops.domains.feedback.queries import inbox
from prodops.domains.feedback.queries.inbox import FeedbackFilters, facets, list_items
from prodops.domains.feedback.schemas import FeedbackIn, FeedbackUpdate, LinkIn
from prodops.platform.audit import AuditRecord
from prodops.platform.errors import ValidationFailed
from prodops.platform.org.schemas import ProductIn
from prodops.platform.org.service import create_product
from tests.conftest import Client, count_statements, make_user
from tests.feedback.conftest import ACTOR, make_item

T0 = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC)


@dataclass
class World:
    items: dict[str, int]
    accounts: dict[str, int]
    people: dict[str, int]
    products: dict[str, int]
    features: dict[str, int]
    users: dict[str, int]


@pytest.fixture
def world(session: Session) -> World:
    """Eight items with known sources, statuses, tags, accounts, dates and links."""
    users = {"ann": make_user("member", "ann@example.com").id, "bob": make_user("member", "bob@example.com").id}
    products = {
        name: create_product(session, ACTOR, ProductIn(key=name.lower(), name=name)).id for name in ("Mobile", "Web")
    }
    accounts = {
        "big": customers.create_account(
            session,
            ACTOR,
            AccountIn(name="Bigco", domain="big.example", plan="Enterprise", segment="Enterprise", arr=900_000),
        ).id,
        "small": customers.create_account(
            session, ACTOR, AccountIn(name="Smallco", domain="small.example", plan="Starter", segment="SMB", arr=1_200)
        ).id,
    }
    people = {
        "cio": customers.create_person(session, ACTOR, PersonIn(email="cio@big.example", name="Cia Io")).id,
        "dev": customers.create_person(session, ACTOR, PersonIn(email="dev@small.example", name="Dev Eloper")).id,
    }
    feats = {
        "export": features.create_feature(session, ACTOR, FeatureIn(title="PDF export")).id,
        "sso": features.create_feature(session, ACTOR, FeatureIn(title="Single sign-on")).id,
    }
    specs: list[tuple[str, dict[str, Any]]] = [
        (
            "pdf",
            {
                "text": "Exporting to PDF loses the charts",
                "source": "email",
                "person_id": people["cio"],
                "tags": ["export", "bug"],
                "importance": "critical",
                "product_id": products["Mobile"],
                "assignee_id": users["ann"],
            },
        ),
        (
            "sso",
            {
                "text": "We need SAML single sign-on",
                "title": "SSO please",
                "source": "sales_call",
                "person_id": people["cio"],
                "tags": ["security"],
                "importance": "important",
                "status": "triaged",
            },
        ),
        (
            "slow",
            {
                "text": "The app is slow on Android",
                "source": "app_review",
                "person_id": people["dev"],
                "tags": ["performance"],
                "product_id": products["Mobile"],
            },
        ),
        (
            "csv",
            {
                "text": "CSV export has 100% wrong_dates",
                "source": "email",
                "person_id": people["dev"],
                "tags": ["export"],
                "importance": "nice",
                "assignee_id": users["bob"],
            },
        ),
        ("old", {"text": "Old request about dark mode", "source": "widget", "status": "archived"}),
        (
            "linked",
            {
                "text": "Please let us export to PDF",
                "source": "support_ticket",
                "person_id": people["dev"],
                "status": "triaged",
            },
        ),
        ("anon", {"text": "Anonymous praise, no account", "source": "widget", "product_id": products["Web"]}),
        (
            "hidden",
            {
                "text": "Archived complaint about pricing",
                "source": "email",
                "person_id": people["cio"],
                "status": "archived",
                "tags": ["pricing"],
            },
        ),
    ]
    items: dict[str, int] = {}
    for n, (key, fields) in enumerate(specs):
        fields.setdefault("received_at", T0 - dt.timedelta(days=n))
        items[key] = make_item(session, **fields).id
    service.link_feature(session, ACTOR, items["linked"], LinkIn(feature_id=feats["export"], importance="important"))
    return World(items, accounts, people, products, feats, users)


def ids_of(session: Session, world: World, **params: Any) -> list[str]:
    names = {v: k for k, v in world.items.items()}
    page = list_items(session, FeedbackFilters.model_validate(params), me=world.users["ann"])
    return [names[i.id] for i in page.items]


# --- filters ---------------------------------------------------------------------------------


def test_default_inbox_is_what_waits_for_triage_newest_first(session: Session, world: World) -> None:
    assert ids_of(session, world) == ["pdf", "sso", "slow", "csv", "anon"]
    assert ids_of(session, world, status="all") == ["pdf", "sso", "slow", "csv", "old", "linked", "anon", "hidden"]
    assert ids_of(session, world, status=["archived", "linked"]) == ["old", "linked", "hidden"]
    assert ids_of(session, world, status="new,triaged") == ["pdf", "sso", "slow", "csv", "anon"]


def test_filters(session: Session, world: World) -> None:
    every = {"status": "all"}
    assert ids_of(session, world, source=["email", "widget"]) == ["pdf", "csv", "anon"]
    assert ids_of(session, world, tag="export", **every) == ["pdf", "csv"]
    assert ids_of(session, world, tag=["security", "pricing"], **every) == ["sso", "hidden"]  # any of the tags
    assert ids_of(session, world, assignee="me") == ["pdf"]
    assert ids_of(session, world, assignee=str(world.users["bob"])) == ["csv"]
    assert ids_of(session, world, assignee="none") == ["sso", "slow", "anon"]
    assert ids_of(session, world, importance="critical") == ["pdf"]
    assert ids_of(session, world, importance="none") == ["slow", "anon"]
    assert ids_of(session, world, product_id=world.products["Mobile"]) == ["pdf", "slow"]
    assert ids_of(session, world, account_id=world.accounts["small"], **every) == ["slow", "csv", "linked"]
    assert ids_of(session, world, person_id=world.people["cio"], **every) == ["pdf", "sso", "hidden"]
    assert ids_of(session, world, feature_id=world.features["export"], **every) == ["linked"]
    assert ids_of(session, world, unlinked=True, status="triaged") == ["sso"]
    assert ids_of(session, world, unlinked=False, **every) == ["linked"]
    first = (T0 - dt.timedelta(days=3)).date()
    assert ids_of(session, world, received_from=first, received_to=T0.date(), **every) == ["pdf", "sso", "slow", "csv"]
    assert ids_of(session, world, received_to=(T0 - dt.timedelta(days=6)).date(), **every) == ["anon", "hidden"]


def test_account_attribute_and_segment_filters(session: Session, world: World) -> None:
    every = {"status": "all"}
    assert ids_of(session, world, plan="Enterprise", **every) == ["pdf", "sso", "hidden"]
    assert ids_of(session, world, segment="SMB", **every) == ["slow", "csv", "linked"]
    assert ids_of(session, world, arr_min=10_000, **every) == ["pdf", "sso", "hidden"]
    assert ids_of(session, world, arr_max=10_000, **every) == ["slow", "csv", "linked"]
    segment = customers.create_segment(
        session, ACTOR, SegmentIn(name="Whales", filters=[Condition(field="arr", op="gte", value=500_000)])
    )
    assert ids_of(session, world, segment_id=segment.id) == ["pdf", "sso"]
    with pytest.raises(ValidationFailed) as exc:
        ids_of(session, world, segment_id=segment.id + 99)
    assert exc.value.field == "segment_id"


def test_text_search_is_case_insensitive_and_literal(session: Session, world: World) -> None:
    assert ids_of(session, world, q="pdf", status="all") == ["pdf", "linked"]
    assert ids_of(session, world, q="SSO PLEASE") == ["sso"]  # the title counts too
    assert ids_of(session, world, q="100%") == ["csv"]  # % and _ are plain characters
    assert ids_of(session, world, q="wrong_d") == ["csv"]
    assert ids_of(session, world, q="100%x") == []


def test_text_search_pages_and_totals(session: Session, world: World) -> None:
    # The search counts in the same pass as it pages (a window count): totals hold on every page.
    first = list_items(session, FeedbackFilters(q="pdf", status=["all"], per_page=1))
    second = list_items(session, FeedbackFilters(q="pdf", status=["all"], per_page=1, page=2))
    past = list_items(session, FeedbackFilters(q="pdf", status=["all"], per_page=1, page=5))
    assert (first.total, second.total, past.total) == (2, 2, 2)
    assert [first.items[0].id, second.items[0].id] == [world.items["pdf"], world.items["linked"]]
    assert first.has_next and not second.has_next and past.items == []
    assert list_items(session, FeedbackFilters(q="nothing like this")).total == 0


def test_sorting(session: Session, world: World) -> None:
    # Ties keep a stable order: the newer id first when descending.
    assert ids_of(session, world, sort="-importance") == ["pdf", "sso", "csv", "anon", "slow"]
    assert ids_of(session, world, sort="importance") == ["slow", "anon", "csv", "sso", "pdf"]
    # Highest account ARR first; items without an account last.
    assert ids_of(session, world, sort="-arr") == ["sso", "pdf", "csv", "slow", "anon"]
    assert ids_of(session, world, sort="arr") == ["anon", "slow", "csv", "pdf", "sso"]
    assert ids_of(session, world, sort="received_at") == ["anon", "csv", "slow", "sso", "pdf"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "open"}, "status"),
        ({"source": "fax"}, "source"),
        ({"assignee": "someone"}, "assignee"),
        ({"sort": "title"}, "sort"),
        ({"per_page": 0}, "per_page"),
        ({"arr_min": 10, "arr_max": 5}, "arr_max"),
        ({"received_from": "yesterday"}, "received_from"),
        ({"tag": "x" * 61}, "tag"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_filters_name_the_parameter(params: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        FeedbackFilters.model_validate(params)


# --- pages and cursors ------------------------------------------------------------------------


def seed_many(session: Session, n: int, *, rich: bool = False) -> list[int]:
    """``n`` items; ``rich`` ones each have a person, an account, a product and an assignee (every name lookup runs)."""
    extra: dict[str, Any] = {}
    if rich:
        customers.create_account(session, ACTOR, AccountIn(name="Acme", domain="acme.example", arr=5000))
        extra["product_id"] = create_product(session, ACTOR, ProductIn(key="core", name="Core")).id
        extra["assignee_id"] = make_user("member").id
    items = [
        FeedbackIn(
            text=f"Item {i:03d}",
            external_id=f"m{i}",
            received_at=T0 - dt.timedelta(hours=i // 2),  # pairs share a time: the id breaks the tie
            importance=["critical", "nice", None][i % 3],
            person_email=f"p{i}@acme.example" if rich else None,
            tags=["t1", "t2"] if rich else [],
            **extra,
        )
        for i in range(n)
    ]
    return service.ingest_many(session, ACTOR, items).ids


@pytest.mark.parametrize("sort", ["-received_at", "received_at", "-importance", "importance", "-arr"])
def test_cursor_pages_walk_the_whole_list_once_in_order(session: Session, sort: str) -> None:
    seed_many(session, 23)
    everything = [i.id for i in list_items(session, FeedbackFilters(sort=sort, per_page=100)).items]
    assert len(everything) == 23
    page = list_items(session, FeedbackFilters(sort=sort, per_page=5))
    pages = [page]
    while page.next_after is not None:
        page = list_items(session, FeedbackFilters(sort=sort, per_page=5, after=page.next_after))
        pages.append(page)
    assert [i.id for p in pages for i in p.items] == everything
    assert [p.start for p in pages] == [1, 6, 11, 16, 21]
    assert pages[-1].end == 23 and not pages[-1].has_next
    # And back again with `before`.
    back = list_items(session, FeedbackFilters(sort=sort, per_page=5, before=pages[-1].prev_before))
    assert [i.id for i in back.items] == [i.id for i in pages[-2].items]
    assert back.offset == 15 and back.next_after == pages[-2].items[-1].id
    first = list_items(session, FeedbackFilters(sort=sort, per_page=5, before=pages[1].items[0].id))
    assert [i.id for i in first.items] == [i.id for i in pages[0].items]
    assert first.offset == 0 and not first.has_prev and first.prev_before is None


def test_page_numbers_are_bounded_and_cursors_checked(session: Session) -> None:
    seed_many(session, 12)
    page3 = list_items(session, FeedbackFilters(per_page=5, page=3))
    assert page3.start == 11 and page3.end == 12 and page3.number == 3
    deep = inbox.MAX_OFFSET // 5 + 2
    with pytest.raises(ValidationFailed) as exc:
        list_items(session, FeedbackFilters(per_page=5, page=deep))
    assert exc.value.field == "page" and "after=" in exc.value.message
    with pytest.raises(ValidationFailed) as exc:
        list_items(session, FeedbackFilters(after=999_999))
    assert exc.value.field == "after"
    with pytest.raises(ValidationFailed) as exc:
        list_items(session, FeedbackFilters(after=page3.items[0].id, page=2))
    assert exc.value.field == "page"


def test_a_cursor_item_that_left_the_filter_still_pages(session: Session) -> None:
    seed_many(session, 6)
    everything = [i.id for i in list_items(session, FeedbackFilters()).items]
    first = list_items(session, FeedbackFilters(per_page=3))
    service.update_item(session, ACTOR, first.items[-1].id, FeedbackUpdate(status="archived"))
    rest = list_items(session, FeedbackFilters(per_page=3, after=first.next_after))
    assert [i.id for i in rest.items] == everything[3:]
    assert rest.offset == 2 and rest.total == 5  # the archived cursor row no longer counts


def test_list_statements_do_not_grow_with_the_page(session: Session) -> None:
    seed_many(session, 40, rich=True)
    world_ids = sorted(session.scalars(select(FeedbackItem.id)))
    feature = features.create_feature(session, ACTOR, FeatureIn(title="Anything")).id
    for item_id in world_ids[::2]:  # every page has linked items
        service.link_feature(session, ACTOR, item_id, LinkIn(feature_id=feature))
    counts = {}
    for per_page in (5, 40):
        list_items(session, FeedbackFilters(per_page=per_page, status="all"))
        session.rollback()
        with count_statements() as statements:
            page = list_items(session, FeedbackFilters(per_page=per_page, status="all"))
        assert len(page.items) == per_page
        counts[per_page] = len(statements)
        with count_statements() as statements:
            list_items(session, FeedbackFilters(per_page=per_page, status="all", after=page.items[0].id))
        counts[(per_page, "after")] = len(statements)
    assert counts[5] == counts[40] <= 11, counts
    assert counts[(5, "after")] == counts[(40, "after")] <= counts[5] + 2, counts


# --- facets -----------------------------------------------------------------------------------


def counts(values: list[inbox.FacetValue]) -> dict[str, int | None]:
    return {v.value: v.count for v in values if v.count}


def test_facets_count_every_dimension_without_its_own_filter(session: Session, world: World) -> None:
    found = facets(session, FeedbackFilters(source=["email"]))
    # Status is counted over e-mails (all statuses), source over open items (all sources).
    assert counts(found.status) == {"new": 2, "archived": 1}
    assert counts(found.source) == {"email": 2, "widget": 1, "sales_call": 1, "app_review": 1}
    assert counts(found.product) == {str(world.products["Mobile"]): 1}
    assert counts(found.tag) == {"export": 2, "bug": 1}
    assert found.skipped == ()
    everything = facets(session, FeedbackFilters(status=["all"]))
    assert counts(everything.status) == {"new": 4, "triaged": 1, "linked": 1, "archived": 2}
    assert counts(everything.tag) == {"export": 2, "bug": 1, "security": 1, "performance": 1, "pricing": 1}
    assert everything.total == 8


def test_facets_skip_slow_counts_on_big_sets(session: Session, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inbox, "FACET_COUNT_LIMIT", 3)
    found = facets(session, FeedbackFilters())  # 5 items wait for triage: more than the limit
    assert set(found.skipped) == {"source", "product", "tag", "kind", "sentiment"}
    assert counts(found.status) == {"new": 4, "triaged": 1, "linked": 1, "archived": 2}  # always exact
    assert all(v.count is None for v in found.source + found.product + found.tag)
    assert {v.value for v in found.tag} >= {"export", "security"}  # tags still offered, uncounted
    # With no filter at all an index answers alone: counted whatever the size.
    assert facets(session, FeedbackFilters(status=["all"])).skipped == ()
    small = facets(session, FeedbackFilters(source=["email"]))
    assert small.skipped == ("source",)  # 5 open items have a source; the others are counted over 2 e-mails


# --- the page ---------------------------------------------------------------------------------


def reload(session: Session, item_id: int) -> FeedbackItem:
    """The item as committed by the app now (a fresh snapshot, not this session's cached copy)."""
    session.rollback()
    item = session.get(FeedbackItem, item_id)
    assert item is not None
    return item


def rows_of(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<tr id="fb-row-(\d+)"', html)]


def test_inbox_page_lists_filters_and_escapes(member_client: Client, session: Session, world: World) -> None:
    evil = make_item(session, text="<script>alert(1)</script> & more", title="<b>bold</b>").id
    page = member_client.get("/feedback")
    assert page.status_code == 200
    assert rows_of(page.text)[0] == evil
    assert "<script>alert(1)</script>" not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "&lt;b&gt;bold&lt;/b&gt;" in page.text
    assert 'id="fb-bulk-form"' in page.text and 'name="ids"' in page.text  # members triage
    assert "Bigco" in page.text and "$900K ARR" in page.text
    filtered = member_client.get("/feedback?source=email&source=widget&tag=export")
    assert rows_of(filtered.text) == [world.items["pdf"], world.items["csv"]]
    assert "Source: E-mail" in filtered.text and "Tag: export" in filtered.text
    fragment = member_client.get("/feedback?source=widget", headers={"HX-Request": "true"})
    assert "<html" not in fragment.text and rows_of(fragment.text) == [world.items["anon"]]
    assert 'id="fb-total" hx-swap-oob="true">(1)' in fragment.text


def test_inbox_page_refuses_bad_filters_by_name(member_client: Client, world: World) -> None:
    page = member_client.get("/feedback?status=bogus&per_page=5")
    assert page.status_code == 422
    assert "status" in page.text and "These filters cannot be used" in page.text
    assert member_client.get("/feedback?after=424242").status_code == 422
    facets_page = member_client.get("/feedback/facets?sort=nope")
    assert facets_page.status_code == 422 and "Input should be" in facets_page.text


def test_viewers_read_without_controls(viewer_client: Client, world: World) -> None:
    page = viewer_client.get("/feedback")
    assert page.status_code == 200 and rows_of(page.text)
    assert 'id="fb-bulk-form"' not in page.text and 'name="ids"' not in page.text
    assert 'id="fb-link-dialog"' not in page.text and "Save these filters" not in page.text
    detail = viewer_client.get(f"/feedback/items/{world.items['pdf']}", headers={"HX-Request": "true"})
    assert detail.status_code == 200 and "Exporting to PDF" in detail.text
    assert "/status" not in detail.text and 'id="fb-triage"' not in detail.text and "Unlink" not in detail.text
    item = world.items["pdf"]
    for path, data in [
        (f"/feedback/items/{item}/status", {"status": "archived"}),
        (f"/feedback/items/{item}/triage", {"tags": "x"}),
        (f"/feedback/items/{item}/links", {"feature_id": world.features["sso"]}),
        ("/feedback/bulk", {"ids": item, "action": "archive"}),
        ("/feedback/views", {"name": "Mine", "query": ""}),
    ]:
        assert viewer_client.form(path, data).status_code == 403, path
    assert viewer_client.get("/feedback/feature-choices?q=pdf").status_code == 403


def test_facets_fragment(member_client: Client, world: World) -> None:
    html = member_client.get("/feedback/facets?source=email").text
    assert re.search(r'value="email" checked> E-mail <span class="fb-count">2</span>', html)
    assert re.search(r'value="new" checked> New <span class="fb-count">2</span>', html)
    assert 'id="fb-total" hx-swap-oob="true">(2)</span>' in html  # the list's count follows the counters


def test_script_is_served(client: Client) -> None:
    response = client.get("/feedback/inbox.js")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/javascript")
    assert "selectionIn" in response.text


def test_page_statements_do_not_grow_with_the_page(member_client: Client, session: Session) -> None:
    seed_many(session, 40, rich=True)
    counts_by_size = {}
    for per_page in (5, 40):
        member_client.get(f"/feedback?per_page={per_page}")
        with count_statements() as statements:
            assert member_client.get(f"/feedback?per_page={per_page}").status_code == 200
        counts_by_size[per_page] = len(statements)
    assert counts_by_size[5] == counts_by_size[40] <= 16, counts_by_size


# --- the detail pane and triage ---------------------------------------------------------------


def test_detail_shows_highlights_as_marks_over_the_exact_text(member_client: Client, session: Session) -> None:
    text = "Hi team,\r\nthe <export> to PDF drops charts 😀 and & tables."
    item = make_item(session, text=text).id
    feature = features.create_feature(session, ACTOR, FeatureIn(title="Better PDF export")).id
    start = text.index("<export>")
    end = text.index(" and")
    service.link_feature(session, ACTOR, item, LinkIn(feature_id=feature, highlight_start=start, highlight_end=end))
    html = member_client.get(f"/feedback/items/{item}", headers={"HX-Request": "true"}).text
    body = re.search(r'<div id="fb-text" class="fb-text" data-length="(\d+)">(.*?)</div>', html, re.S)
    assert body is not None and int(body.group(1)) == len(text)
    assert body.group(2) == (
        "Hi team,&#13;\nthe "
        '<mark title="Better PDF export (nice)" data-links="1">&lt;export&gt; to PDF drops charts 😀</mark>'
        " and &amp; tables."
    ).replace('data-links="1"', f'data-links="{session.scalar(select(FeedbackLink.id))}"')
    assert "“&lt;export&gt; to PDF drops charts 😀”" in html  # the passage quoted under the link


def test_status_buttons_update_pane_and_row(member_client: Client, session: Session, world: World) -> None:
    item = world.items["pdf"]
    response = member_client.form(
        f"/feedback/items/{item}/status", {"status": "archived"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200 and response.headers["HX-Trigger"] == "fb-changed"
    assert f'<tr id="fb-row-{item}" data-item="{item}" class="fb-done" hx-swap-oob="true">' in response.text
    assert reload(session, item).status == "archived"
    session.rollback()
    bad = member_client.form(f"/feedback/items/{item}/status", {"status": "done"}, headers={"HX-Request": "true"})
    assert bad.status_code == 422 and "field-error" in bad.text
    assert reload(session, item).status == "archived"
    plain = member_client.form(f"/feedback/items/{item}/status", {"status": "triaged"}, follow_redirects=False)
    assert plain.status_code == 303 and plain.headers["location"] == f"/feedback/items/{item}"
    no_csrf = member_client.post(f"/feedback/items/{item}/status", data={"status": "new"})
    assert no_csrf.status_code == 403


def test_triage_form_changes_only_what_it_sends(member_client: Client, session: Session, world: World) -> None:
    item = world.items["slow"]
    me = member_client.user.id  # type: ignore[union-attr]
    response = member_client.form(
        f"/feedback/items/{item}/triage",
        {
            "tags": "Performance, android ,  crash",
            "assignee_id": str(me),
            "importance": "important",
            "product_id": "",
            "area": "Mobile UX",
        },
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200, response.text
    row = reload(session, item)
    assert (row.tags, row.assignee_id, row.importance, row.product_id, row.area) == (
        ["android", "crash", "performance"],
        me,
        "important",
        None,
        "Mobile UX",
    )
    session.rollback()
    notes = member_client.form(
        f"/feedback/items/{item}/triage",
        {"notes": "**Call** them <script>x()</script>"},
        headers={"HX-Request": "true"},
    )
    assert "<strong>Call</strong>" in notes.text and "<script>x()" not in notes.text
    row = reload(session, item)
    assert row.tags == ["android", "crash", "performance"]  # untouched by the notes form
    history = session.scalars(
        select(AuditRecord).where(
            AuditRecord.entity_type == "feedback", AuditRecord.entity_id == str(item), AuditRecord.action == "update"
        )
    ).all()
    assert len(history) == 2


def test_triage_errors_are_inline_and_nothing_is_written(member_client: Client, session: Session, world: World) -> None:
    item = world.items["slow"]
    before = session.scalar(select(func.count()).select_from(AuditRecord))
    too_long = member_client.form(
        f"/feedback/items/{item}/triage", {"tags": "ok, " + "x" * 61}, headers={"HX-Request": "true"}
    )
    assert too_long.status_code == 422
    assert re.search(r'<small class="field-error" id="fb-e-tags">[^<]*longer than 60', too_long.text)
    nobody = member_client.form(
        f"/feedback/items/{item}/triage", {"assignee_id": "99999"}, headers={"HX-Request": "true"}
    )
    assert nobody.status_code == 422 and 'id="fb-e-assignee"' in nobody.text and "no user 99999" in nobody.text
    session.rollback()
    row = reload(session, item)
    assert row.tags == ["performance"] and row.assignee_id is None
    assert session.scalar(select(func.count()).select_from(AuditRecord)) == before
    assert member_client.form("/feedback/items/424242/triage", {"tags": "x"}).status_code == 404


def test_link_a_highlight_and_unlink(member_client: Client, session: Session, world: World) -> None:
    item = world.items["pdf"]
    text = "Exporting to PDF loses the charts"
    response = member_client.form(
        f"/feedback/items/{item}/links",
        {
            "feature_id": world.features["export"],
            "importance": "critical",
            "highlight_start": 13,
            "highlight_end": 33,
            "q": "pdf",
        },
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200 and response.headers["HX-Trigger"] == "fb-changed"
    session.rollback()
    link = session.scalars(select(FeedbackLink).where(FeedbackLink.item_id == item)).one()
    assert (link.highlight, link.importance, link.feature_id) == (text[13:33], "critical", world.features["export"])
    assert "<mark" in response.text and reload(session, item).status == "linked"
    session.rollback()
    whole = member_client.form(
        f"/feedback/items/{item}/links", {"feature_id": world.features["sso"]}, follow_redirects=False
    )
    assert whole.status_code == 303
    unlink = member_client.form(f"/feedback/links/{link.id}/delete", headers={"HX-Request": "true"})
    assert unlink.status_code == 200
    session.rollback()
    assert session.scalars(select(FeedbackLink.feature_id).where(FeedbackLink.item_id == item)).all() == [
        world.features["sso"]
    ]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({}, "feature_id"),
        ({"feature_id": 424242}, "feature_id"),
        ({"feature_id": "PDF", "highlight_start": 1, "highlight_end": 5}, "feature_id"),
        ({"feature_id": "EXPORT", "highlight_start": 5, "highlight_end": 2}, "_"),
        ({"feature_id": "EXPORT", "highlight_start": 5}, "_"),
        ({"feature_id": "EXPORT", "highlight_start": 0, "highlight_end": 500}, "highlight_end"),
        ({"feature_id": "EXPORT", "importance": "urgent"}, "importance"),
    ],
)
def test_bad_links_are_refused_by_field(
    member_client: Client, session: Session, world: World, data: dict[str, Any], field: str
) -> None:
    data = {k: (world.features["export"] if v == "EXPORT" else v) for k, v in data.items()}
    response = member_client.form(f"/feedback/items/{world.items['pdf']}/links", data, headers={"HX-Request": "true"})
    assert response.status_code == 422, response.text
    assert response.headers["HX-Retarget"] == "#fb-link-errors"
    assert f'data-field="{field}"' in response.text
    assert session.scalar(select(func.count()).select_from(FeedbackLink)) == 1  # only the world's own link


def test_feature_choices(member_client: Client, world: World) -> None:
    html = member_client.get("/feedback/feature-choices?q=sign").text
    assert "Single sign-on" in html and "PDF export" not in html and "checked" in html
    assert "No feature has “zzz”" in member_client.get("/feedback/feature-choices?q=zzz").text


# --- bulk -------------------------------------------------------------------------------------


def flashes(client: Client, url: str = "/feedback?status=all") -> str:
    return " ".join(re.findall(r'<div class="flash [a-z]+" role="status">([^<]*)</div>', client.get(url).text))


def test_bulk_actions(member_client: Client, session: Session, world: World) -> None:
    picked = [world.items["pdf"], world.items["slow"], world.items["csv"]]

    def bulk(**data: Any) -> Any:
        return member_client.form(
            "/feedback/bulk", {"ids": picked, "back": "/feedback?status=all", **data}, follow_redirects=False
        )

    assert bulk(action="add_tag", tag="Q3 review").headers["location"] == "/feedback?status=all"
    assert "3 items updated" in flashes(member_client)
    session.rollback()
    assert set(session.scalars(select(FeedbackTag.item_id).where(FeedbackTag.tag == "q3 review"))) == set(picked)
    bulk(action="remove_tag", tag="export")
    session.rollback()
    assert session.scalars(select(FeedbackTag.item_id).where(FeedbackTag.tag == "export")).all() == []
    bulk(action="assign", assignee_id="me")
    bulk(action="importance", importance="nice")
    bulk(action="product", product_id=world.products["Web"])
    session.rollback()
    rows = [reload(session, i) for i in picked]
    assert {(r.assignee_id, r.importance, r.product_id) for r in rows} == {
        (member_client.user.id, "nice", world.products["Web"])  # type: ignore[union-attr]
    }
    bulk(action="assign", assignee_id="none")
    bulk(action="archive")
    assert "3 items updated" in flashes(member_client)
    session.rollback()
    assert {reload(session, i).status for i in picked} == {"archived"}
    assert {reload(session, i).assignee_id for i in picked} == {None}
    again = bulk(action="archive")
    assert again.status_code == 303 and "0 items updated" in flashes(member_client)


def test_bad_bulk_requests_change_nothing(member_client: Client, session: Session, world: World) -> None:
    before = session.scalar(select(func.count()).select_from(AuditRecord))
    for data, message in [
        ({"action": "archive"}, "Select at least one item first."),
        ({"ids": world.items["pdf"], "action": "explode"}, "Choose what to do"),
        ({"ids": world.items["pdf"], "action": "status"}, "Choose the status"),
        ({"ids": [world.items["pdf"], 424242], "action": "archive"}, "unknown feedback item(s): 424242"),
        ({"ids": world.items["pdf"], "action": "assign", "assignee_id": "77777"}, "no user 77777"),
        ({"ids": world.items["pdf"], "action": "add_tag", "tag": "y" * 70}, "longer than 60"),
    ]:
        response = member_client.form("/feedback/bulk", {"back": "/feedback", **data}, follow_redirects=False)
        assert response.status_code == 303
        assert message in flashes(member_client), data
    session.rollback()
    assert session.scalar(select(func.count()).select_from(AuditRecord)) == before
    assert reload(session, world.items["pdf"]).status == "new"
    # An outside "back" address is not followed.
    away = member_client.form(
        "/feedback/bulk", {"back": "https://evil.example/", "action": "archive"}, follow_redirects=False
    )
    assert away.headers["location"] == "/feedback"


def test_type_sentiment_and_theme_filters_show_as_removable_chips(member_client: Client) -> None:
    page = member_client.get("/feedback?kind=bug&kind=praise&sentiment=negative&theme_id=999")
    assert page.status_code == 200
    for label in ("Type: Bug", "Type: Praise", "Sentiment: negative", "Theme: #999"):
        assert label in page.text
    assert "/feedback?kind=praise&amp;sentiment=negative&amp;theme_id=999" in page.text  # "Type: Bug" removed
    assert member_client.get("/feedback?kind=&sentiment=").status_code == 200  # "Any" sends empty values
