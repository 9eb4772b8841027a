"""The whole e-mail-link flow in a real browser: a member schedules a wave, the personal link is read from the test
SMTP server, the customer answers the NPS question and "why?", sees the thank-you page (and the link then answers
nothing more), and the answer shows in the survey's results and as feedback."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from prodops.domains.feedback.models import FeedbackItem
from prodops.domains.surveys import service
from prodops.domains.surveys.schemas import SurveyIn
from prodops.platform.audit import Actor
from prodops.platform.config import get_settings
from prodops.platform.db import session_scope
from tests.browser.test_shell import sign_in
from tests.conftest import make_user
from tests.platform.test_email import Mailbox, _free_port

pytestmark = pytest.mark.browser
LINK = re.compile(r"(http://127\.0\.0\.1:\d+/survey/i/i_[A-Za-z0-9_-]+)")


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch, live_server: str) -> Iterator[Mailbox]:
    box = Mailbox()
    port = _free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    settings = get_settings()
    for name, value in {
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "smtp_tls": "none",
        "smtp_username": "",
        "workspace_name": "Acme Analytics",
    }.items():
        monkeypatch.setattr(settings, name, value)
    # Straight into the instance's values: setting the attribute would also mark base_url as "set by the
    # administrator" for the rest of the session, and the widget snippet honours that over the request's address.
    monkeypatch.setitem(settings.__dict__, "base_url", live_server)
    try:
        yield box
    finally:
        controller.stop()


def test_email_link_flow(page, browser, live_server: str, smtp: Mailbox, artifacts: Path) -> None:  # type: ignore[no-untyped-def]
    with session_scope() as s:
        survey = service.create_survey(s, Actor.system("test"), SurveyIn(name="Quarterly NPS", languages=["en", "de"]))
    sign_in(page, live_server, make_user("member").email)
    page.goto(f"{live_server}/surveys/{survey.id}/waves")
    page.get_by_label("Name").fill("Q1 customers")
    page.get_by_label("…or e-mail addresses").fill("ann@acme.example")
    page.get_by_role("button", name="Schedule the wave").click()
    page.wait_for_load_state()
    assert page.get_by_text("Wave Q1 customers scheduled").is_visible()

    message = smtp.wait_for(1)[0]
    assert message.message["To"] == "ann@acme.example"
    assert message.message["Subject"].startswith("Acme Analytics: Quarterly NPS")
    link = LINK.search(message.part("plain"))
    assert link, message.part("plain")

    customer = browser.new_context(viewport={"width": 900, "height": 800})
    visitor = customer.new_page()
    visitor.goto(link.group(1))
    assert visitor.get_by_role(
        "heading", name="How likely are you to recommend us to a friend or colleague?"
    ).is_visible()
    assert visitor.get_by_text("Acme Analytics").is_visible()
    assert "Sign in" not in visitor.content()  # nothing internal on the customer's page
    visitor.get_by_role("button", name="Next").click()
    visitor.wait_for_load_state()
    assert visitor.get_by_role("alert").inner_text() == "Please answer this question."
    visitor.locator(".scale span", has_text=re.compile(r"^9$")).click()
    assert visitor.get_by_role("radio", name="9", exact=True).is_checked()
    visitor.screenshot(path=str(artifacts / "survey-question.png"), full_page=True)
    visitor.get_by_role("button", name="Next").click()
    visitor.wait_for_load_state()
    assert visitor.get_by_role("heading", name="What is the main reason for your score?").is_visible()
    visitor.get_by_role("textbox").fill("The weekly reports save my team hours.")
    visitor.get_by_role("button", name="Send").click()
    visitor.wait_for_load_state()
    assert visitor.get_by_role("heading", name="Thank you! Your answers help us improve.").is_visible()
    visitor.screenshot(path=str(artifacts / "survey-thanks.png"), full_page=True)
    # Single use: the link now only says thank you.
    visitor.goto(link.group(1))
    assert visitor.get_by_role("heading", name="Thank you! Your answers help us improve.").is_visible()
    assert visitor.locator("form").count() == 0
    customer.close()

    page.goto(f"{live_server}/surveys/{survey.id}")
    assert page.locator("#headline").inner_text().startswith("NPS 100, ")
    page.locator("figure.chart svg, figure.chart canvas").first.wait_for(timeout=15_000)
    page.screenshot(path=str(artifacts / "survey-results.png"), full_page=True)
    page.goto(f"{live_server}/surveys/{survey.id}/responses")
    assert page.get_by_text("The weekly reports save my team hours.").is_visible()
    with session_scope() as s:
        item = s.scalar(select(FeedbackItem).where(FeedbackItem.source == "survey"))
        assert item is not None and item.meta["score"] == 9 and item.meta["group"] == "promoter"
        item_id = item.id
    page.goto(f"{live_server}/feedback/items/{item_id}")
    assert page.get_by_text("The weekly reports save my team hours.").first.is_visible()
    page.goto(f"{live_server}/surveys/{survey.id}/waves")
    assert page.locator("table").first.inner_text().count("100%") == 1
