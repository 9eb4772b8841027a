"""The customer portal in a real browser: sign in by a magic link read from a real SMTP server, submit an idea
(similar ideas show while typing), comment on it, vote for and follow a similar idea; staff move the feature on in the staff UI, and the
follower's e-mail arrives. axe-core (vendored from npm) checks the portal's pages for serious or critical
accessibility violations."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from prodops.domains.portal.models import Board, Idea, Portal
from prodops.platform.db import session_scope, transaction
from tests.browser.test_shell import sign_in
from tests.conftest import make_user
from tests.platform.test_email import Mailbox, mailbox  # noqa: F401  # the real SMTP server, used by name below
from tests.portal.conftest import make_idea, make_portal_user

pytestmark = pytest.mark.browser

AXE = Path(__file__).parent / "vendor" / "axe.min.js"


def check_accessibility(page: Any, what: str) -> None:
    """Run axe-core on the page; fail on any serious or critical violation, naming the rule and the elements."""
    page.add_script_tag(path=str(AXE))
    results = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    bad = [v for v in results["violations"] if v.get("impact") in ("serious", "critical")]
    details = [
        f"{v['id']} ({v['impact']}): {v['help']} — " + "; ".join(n["target"][0] for n in v["nodes"][:5]) for v in bad
    ]
    assert not bad, f"{what}: " + "\n".join(details)


def _setup() -> tuple[str, str, int, int]:
    with session_scope() as s:
        with transaction(s):
            portal = Portal(slug="acme", name="Acme Ideas", primary_color="#0f766e", intro="Tell us what to build.")
            s.add(portal)
            s.flush()
            board = Board(portal_id=portal.id, slug="product", name="Product ideas", description="Ideas for Acme")
            s.add(board)
        s.refresh(portal)
        s.refresh(board)
        other = make_portal_user(s, email="early@customer.example", name="Early Bird")
        existing = make_idea(s, portal, board, other, "Export reports to PDF", "So I can mail them to my boss.")
        feature_id = s.scalar(select(Idea.feature_id).where(Idea.id == existing))
        assert feature_id is not None
        return portal.slug, board.slug, existing, feature_id


def test_customer_journey_and_accessibility(  # type: ignore[no-untyped-def]
    browser, page, live_server: str, request: pytest.FixtureRequest
) -> None:
    box: Mailbox = request.getfixturevalue("mailbox")
    slug, board_slug, existing, feature_id = _setup()
    home = f"{live_server}/p/{slug}"

    page.goto(home)
    assert page.get_by_role("heading", name="Acme Ideas").is_visible()
    check_accessibility(page, "portal home")

    # Sign in with a magic link read from the SMTP server.
    page.get_by_role("link", name="Sign in").click()
    page.wait_for_load_state()
    check_accessibility(page, "sign-in page")
    page.get_by_label("E-mail address").fill("casey@customer.example")
    page.get_by_role("button", name="E-mail me a sign-in link").click()
    assert page.get_by_role("heading", name="Check your e-mail").is_visible()
    mail = box.wait_for(1)[-1]
    assert mail.rcpt_tos == ["casey@customer.example"]
    link = re.search(r"https?://\S+/p/\S+", mail.part("plain"))
    assert link
    page.goto(live_server + urlsplit(link.group(0)).path)  # the link names the configured base URL
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    assert page.get_by_role("button", name="Sign out").is_visible()

    # The board, then submit an idea: similar ideas show while typing.
    page.goto(f"{home}/b/{board_slug}")
    assert page.get_by_role("link", name="Export reports to PDF").is_visible()
    check_accessibility(page, "board page")
    suggest = page.get_by_role("link", name="Suggest an idea")
    # The portal's own colour (#0f766e) wins over the CSS framework's, on buttons and on links.
    assert suggest.evaluate("el => getComputedStyle(el).backgroundColor") == "rgb(15, 118, 110)"
    link_colour = page.get_by_role("link", name="Export reports to PDF").evaluate("el => getComputedStyle(el).color")
    assert link_colour == "rgb(15, 118, 110)"
    suggest.click()
    page.wait_for_load_state()
    page.get_by_label("Your idea in one line").press_sequentially("Export dashboards to PDF", delay=20)
    similar = page.locator("#similar")
    similar.get_by_role("link", name="Export reports to PDF").wait_for()
    check_accessibility(page, "submit page")
    page.get_by_label("Tell us more (optional)").fill("Weekly, as **PDF**.")
    page.wait_for_timeout(3100)  # the minimum fill time
    page.get_by_role("button", name="Post idea").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", name="Export dashboards to PDF").is_visible()
    assert page.locator("strong", has_text="PDF").is_visible()
    check_accessibility(page, "idea page")

    # Comment on one's own idea (the author follows it already)...
    page.get_by_label("Add a comment").fill("Ideally as a **weekly e-mail**.")
    page.wait_for_timeout(3100)  # the minimum fill time
    page.get_by_role("button", name="Comment", exact=True).click()
    page.wait_for_load_state()
    assert page.locator(".comment-body strong", has_text="weekly e-mail").is_visible()
    check_accessibility(page, "idea page with a comment")

    # ...then vote for and follow the similar idea someone posted earlier.
    page.goto(f"{home}/i/{existing}")
    page.get_by_role("button", name=re.compile("^0 Vote")).click()
    page.get_by_role("button", name=re.compile("^1 Voted")).wait_for()
    page.get_by_role("button", name="Follow", exact=True).click()
    page.get_by_role("button", name="Following").wait_for()
    check_accessibility(page, "idea page after voting and following")

    # Staff move the feature on in the staff UI; the follower hears about it.
    staff = make_user("member")
    staff_context = browser.new_context()
    staff_page = staff_context.new_page()
    sign_in(staff_page, live_server, staff.email)
    staff_page.goto(f"{live_server}/features/{feature_id}")
    staff_page.get_by_label(re.compile("^Status")).select_option(label="Planned")
    staff_page.get_by_role("button", name="Move").click()
    staff_page.wait_for_load_state()
    staff_context.close()
    arrived = None
    for _ in range(50):
        arrived = next((m for m in box.received if m.rcpt_tos == ["casey@customer.example"] and m is not mail), None)
        if arrived is not None:
            break
        page.wait_for_timeout(100)
    assert arrived is not None, [m.message["Subject"] for m in box.received]
    text = arrived.part("plain")
    assert "Export reports to PDF" in text and "Planned" in text


def test_the_accessibility_check_catches_violations(page) -> None:  # type: ignore[no-untyped-def]
    page.set_content('<html><body><main><img src="chart.png"><button></button></main></body></html>')
    with pytest.raises(AssertionError, match="image-alt"):
        check_accessibility(page, "a page with an unlabelled image")
