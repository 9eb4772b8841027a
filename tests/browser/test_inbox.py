"""The triage inbox in a real browser: keyboard moves and actions, linking a highlighted passage, filters in the
address bar with a working back button, bulk actions, and the read-only view of a viewer."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from prodops.domains.features import service as features
from prodops.domains.features.schemas import FeatureIn
from prodops.domains.feedback import service
from prodops.domains.feedback.models import FeedbackItem, FeedbackLink
from prodops.domains.feedback.schemas import FeedbackIn
from prodops.platform.audit import Actor
from prodops.platform.db import session_scope
from tests.browser.test_shell import sign_in
from tests.conftest import make_user

pytestmark = pytest.mark.browser

ACTOR = Actor.system("test")
NOW = dt.datetime.now(dt.UTC)
# An emoji (two UTF-16 units, one code point), a CRLF (HTML parsing would fold it) and markup characters, all
# before the passage: its offsets must still be those of the raw text.
TEXT = "Love it 😀 but\r\nthe <PDF> export drops charts & tables."
PASSAGE = "<PDF> export drops charts"


def seed() -> dict[str, int]:
    with session_scope() as s:
        features.create_feature(s, ACTOR, FeatureIn(title="PDF export"))
        features.create_feature(s, ACTOR, FeatureIn(title="Offline mode"))
        result = service.ingest_many(
            s,
            ACTOR,
            [
                FeedbackIn(text=TEXT, source="email", received_at=NOW),
                FeedbackIn(
                    text="Second: offline mode please", source="widget", received_at=NOW - dt.timedelta(hours=1)
                ),
                FeedbackIn(text="Third: sync is slow", source="email", received_at=NOW - dt.timedelta(hours=2)),
                FeedbackIn(text="Fourth: dark theme", source="app_review", received_at=NOW - dt.timedelta(hours=3)),
            ],
        )
    return dict(zip(("first", "second", "third", "fourth"), result.ids, strict=True))


def current_row(page) -> str:  # type: ignore[no-untyped-def]
    return page.eval_on_selector("#fb-list tr.is-current", "r => r.dataset.item")


def open_item(page) -> str | None:  # type: ignore[no-untyped-def]
    return page.evaluate("(document.getElementById('fb-item') || {dataset: {}}).dataset.itemId || null")


def item(item_id: int) -> FeedbackItem:
    with session_scope() as s:
        found = s.get(FeedbackItem, item_id)
        assert found is not None
        s.expunge(found)
        return found


def test_keyboard_triage_and_highlight_link(page, live_server: str, artifacts: Path) -> None:  # type: ignore[no-untyped-def]
    ids = seed()
    user = make_user("member")
    sign_in(page, live_server, user.email)
    page.goto(f"{live_server}/feedback")
    page.wait_for_selector("#fb-list tr.is-current")
    assert current_row(page) == str(ids["first"])
    page.keyboard.press("j")
    page.keyboard.press("j")
    assert current_row(page) == str(ids["third"])
    page.keyboard.press("k")
    page.keyboard.press("k")
    page.keyboard.press("Enter")
    page.wait_for_selector(f"#fb-item[data-item-id='{ids['first']}']")
    assert f"item={ids['first']}" in page.url  # the open item is part of the address

    # The text element holds exactly the raw text, so browser offsets are offsets into it.
    assert page.evaluate("document.getElementById('fb-text').textContent") == TEXT
    page.evaluate(
        """passage => {
            const node = document.getElementById('fb-text').firstChild;
            const at = node.data.indexOf(passage);
            const range = document.createRange();
            range.setStart(node, at); range.setEnd(node, at + passage.length);
            const sel = window.getSelection(); sel.removeAllRanges(); sel.addRange(range);
        }""",
        PASSAGE,
    )
    page.wait_for_selector("#fb-link-highlight:not([disabled])")
    page.keyboard.press("l")
    dialog = page.locator("#fb-link-dialog")
    dialog.wait_for(state="visible")
    assert page.locator("#fb-link-quote").inner_text() == f"“{PASSAGE}”"
    page.locator("#fb-link-q").fill("pdf")
    page.wait_for_function("document.querySelectorAll('#fb-link-choices label').length === 1")
    assert page.locator("#fb-link-choices label").inner_text().startswith("PDF export")
    assert page.locator("#fb-link-choices input[type=radio]").is_checked()
    page.select_option("#fb-link-importance", "important")
    page.locator("#fb-link-q").press("Enter")
    dialog.wait_for(state="hidden")
    page.wait_for_selector("#fb-text mark")
    assert page.locator("#fb-text mark").inner_text() == PASSAGE
    with session_scope() as s:
        link = s.scalars(select(FeedbackLink)).one()
        assert (link.highlight, link.importance) == (PASSAGE, "important")
        assert TEXT[link.highlight_start : link.highlight_end] == PASSAGE  # type: ignore[misc]
    page.screenshot(path=str(artifacts / "inbox-linked.png"), full_page=True)

    # e archives and opens the next item.
    page.keyboard.press("e")
    page.wait_for_selector(f"#fb-item[data-item-id='{ids['second']}']")
    assert item(ids["first"]).status == "archived"
    assert "fb-done" in (page.get_attribute(f"#fb-row-{ids['first']}", "class") or "")
    assert current_row(page) == str(ids["second"])

    # t edits tags, a picks the assignee; Escape leaves the field so keys work again.
    page.keyboard.press("t")  # focus moves once the newly opened pane has settled
    page.wait_for_function("document.activeElement && document.activeElement.id === 'fb-tags'", timeout=5000)
    page.keyboard.type("offline, mobile")
    page.keyboard.press("Enter")
    page.wait_for_selector(f"#fb-row-{ids['second']} .fb-tag")
    assert item(ids["second"]).tags == ["mobile", "offline"]
    page.wait_for_load_state("networkidle")  # the pane re-renders after the save (and loads its suggestions)
    page.keyboard.press("a")
    page.wait_for_function("document.activeElement && document.activeElement.id === 'fb-assignee'", timeout=5000)
    page.keyboard.press("Escape")
    assert page.evaluate("document.activeElement.id") != "fb-assignee"

    # ? lists the keys.
    page.keyboard.press("?")
    assert page.locator("#shortcuts").is_visible()
    assert "Archive, then open the next item" in page.locator("#shortcuts").inner_text()
    page.keyboard.press("Escape")

    # x selects rows for a bulk action.
    page.keyboard.press("j")
    page.keyboard.press("x")
    page.keyboard.press("j")
    page.keyboard.press("x")
    assert page.eval_on_selector_all("input[name=ids]:checked", "els => els.map(e => e.value)") == [
        str(ids["third"]),
        str(ids["fourth"]),
    ]
    page.get_by_role("button", name="Archive", exact=True).first.click()
    page.wait_for_load_state()
    assert page.get_by_text("2 items updated.").is_visible()
    assert item(ids["third"]).status == item(ids["fourth"]).status == "archived"
    assert page.locator("#fb-list tbody tr").count() == 1  # only the second item still waits for triage


def test_filters_live_in_the_address_and_back_works(page, live_server: str, artifacts: Path) -> None:  # type: ignore[no-untyped-def]
    ids = seed()
    sign_in(page, live_server, make_user("member").email)
    page.goto(f"{live_server}/feedback")
    page.wait_for_selector(".fb-count")  # facet counts arrive after the page
    page.get_by_role("checkbox", name=re.compile("^E-mail")).check()
    page.wait_for_function("document.querySelectorAll('#fb-list tbody tr').length === 2")
    assert "source=email" in page.url
    assert page.locator(".chip", has_text="Source: E-mail").is_visible()
    page.wait_for_selector(".fb-count")
    page.screenshot(path=str(artifacts / "inbox-filtered.png"), full_page=True)
    page.go_back()
    page.wait_for_function("document.querySelectorAll('#fb-list tbody tr').length === 4")
    assert "source=email" not in page.url
    page.go_forward()
    page.wait_for_function("document.querySelectorAll('#fb-list tbody tr').length === 2")
    # A shared link opens the same list with the item open.
    page.goto(f"{live_server}/feedback?source=email&item={ids['third']}")
    page.wait_for_selector(f"#fb-item[data-item-id='{ids['third']}']")
    assert page.locator("#fb-list tbody tr").count() == 2


def test_viewers_read_only(page, live_server: str) -> None:  # type: ignore[no-untyped-def]
    ids = seed()
    sign_in(page, live_server, make_user("viewer").email)
    page.goto(f"{live_server}/feedback")
    page.wait_for_selector("#fb-list tr.is-current")
    page.keyboard.press("Enter")
    page.wait_for_selector(f"#fb-item[data-item-id='{ids['first']}']")
    assert page.locator("input[name=ids]").count() == 0
    assert page.locator("#fb-item form").count() == 0
    page.keyboard.press("e")
    page.keyboard.press("l")
    page.wait_for_timeout(300)
    assert item(ids["first"]).status == "new"
    assert page.locator("dialog[open]").count() == 0
