"""The feedback widget in a real browser, embedded in a customer's page served from another origin: an admin creates
the site and copies the snippet, a visitor sends feedback through it (it lands in the database, with the person the
host page identified), a page on an origin the site does not allow shows an error, and a host page opens the form
from its own button."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import select

from prodops.domains.customers import queries as customer_queries
from prodops.domains.customers import service as customers
from prodops.domains.customers.schemas import AccountIn
from prodops.domains.feedback.models import FeedbackItem
from prodops.domains.feedback.service import widget
from prodops.domains.feedback.service.widget import WidgetSiteIn
from prodops.platform.audit import Actor
from prodops.platform.db import session_scope
from tests.browser.test_shell import sign_in
from tests.conftest import make_user

pytestmark = pytest.mark.browser

ACTOR = Actor.system("test")
THANKS = "Thank you! Your feedback was sent."
BLUE = "rgb(29, 78, 216)"
# A host page whose own styles would wreck any widget they reached: the Shadow DOM keeps them out.
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Customer app</title>
<style>
  * {{ color: rgb(0, 255, 0) !important; font-family: serif !important; }}
  button {{ background: rgb(255, 0, 0) !important; font-size: 40px !important; }}
  textarea, input {{ display: none !important; }}
</style></head>
<body>
  <h1>Customer app</h1>
  <button id="help" type="button" onclick="ProdOpsFeedback.open()">Help &amp; feedback</button>
  {before}
  {snippet}
</body></html>
"""


@dataclass
class CustomerSite:
    """A static HTTP server on its own port: a customer's web site, on an origin other than ProdOps'."""

    server: ThreadingHTTPServer
    pages: dict[str, str] = field(default_factory=dict)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"


def _serve() -> tuple[CustomerSite, threading.Thread]:
    site: CustomerSite

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = site.pages.get(self.path.split("?", 1)[0])
            if body is None:
                self.send_error(404)
                return
            data = body.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:  # the base class's name
            return

    site = CustomerSite(ThreadingHTTPServer(("127.0.0.1", 0), Handler))
    thread = threading.Thread(target=site.server.serve_forever, daemon=True)
    thread.start()
    return site, thread


@pytest.fixture
def customer_sites() -> Iterator[tuple[CustomerSite, CustomerSite]]:
    """Two customer sites: the first will be allowed, the second not."""
    served = [_serve(), _serve()]
    yield served[0][0], served[1][0]
    for site, thread in served:
        site.server.shutdown()
        site.server.server_close()
        thread.join(timeout=5)


@pytest.fixture(autouse=True)
def _fresh_limiter() -> Iterator[None]:
    widget.limiter.reset()
    yield
    widget.limiter.reset()


@pytest.fixture
def visitor(browser):  # type: ignore[no-untyped-def]
    """A visitor's own browser context: no ProdOps session, no cookies."""
    context = browser.new_context(viewport={"width": 1200, "height": 800})
    yield context
    context.close()


def widget_items() -> list[FeedbackItem]:
    with session_scope() as s:
        found = list(s.scalars(select(FeedbackItem).where(FeedbackItem.source == "widget").order_by(FeedbackItem.id)))
        for item in found:
            s.expunge(item)
        return found


def shadow_focus(page) -> str:  # type: ignore[no-untyped-def]
    return page.evaluate(
        "(document.querySelector('[data-prodops-feedback]').shadowRoot.activeElement || {}).className || ''"
    )


def test_admin_embeds_the_widget_and_a_visitor_sends_feedback(  # type: ignore[no-untyped-def]
    page, visitor, live_server: str, customer_sites, artifacts: Path
) -> None:
    allowed, _ = customer_sites
    with session_scope() as s:
        acme = customers.create_account(s, ACTOR, AccountIn(name="Acme", domain="acme.com"))

    # The admin creates the site and copies its snippet.
    sign_in(page, live_server, make_user("admin").email)
    page.goto(f"{live_server}/admin/feedback/widget")
    page.get_by_label("Name").fill("Customer app")
    page.get_by_label("Allowed origins").fill(allowed.origin)
    page.get_by_role("button", name="Add site").click()
    page.wait_for_load_state()
    snippet = page.locator("#widget-snippet").inner_text()
    assert snippet.startswith(f'<script src="{live_server}/feedback/widget.js" data-site="site_')
    page.screenshot(path=str(artifacts / "widget-admin.png"), full_page=True)

    # The customer's page identifies its signed-in user before the script has even loaded.
    identify = '<script>(window.ProdOpsFeedback = window.ProdOpsFeedback || []).push(["identify", {email: "ada@acme.com", name: "Ada"}]);</script>'
    allowed.pages["/app.html"] = PAGE.format(before=identify, snippet=snippet)
    v = visitor.new_page()
    v.goto(f"{allowed.origin}/app.html")
    opener = v.get_by_role("button", name="Feedback", exact=True)
    opener.wait_for()
    assert opener.evaluate("el => getComputedStyle(el).backgroundColor") == BLUE  # the page's CSS stays out
    assert opener.evaluate("el => getComputedStyle(el).fontSize") == "14px"

    opener.click()
    dialog = v.get_by_role("dialog", name="Send feedback")
    dialog.wait_for()
    assert (
        v.evaluate("document.querySelector('[data-prodops-feedback]').shadowRoot.activeElement.id") == "text"
    )  # focus
    assert v.get_by_label("E-mail").input_value() == "ada@acme.com"
    assert v.get_by_label("Name").input_value() == "Ada"
    honeypot = v.locator("#pf-hp").bounding_box()
    assert honeypot is not None and honeypot["x"] + honeypot["width"] <= 0  # off-screen: people never fill it

    # An empty form is stopped in the browser, with the message next to the field.
    v.get_by_role("button", name="Send feedback").click()
    assert v.locator("#text-err").inner_text() == "Write your feedback first."
    v.get_by_label("What would you like to tell us?").fill("Exporting to PDF loses the charts")
    v.get_by_role("button", name="Send feedback").click()
    v.get_by_text(THANKS).wait_for()
    assert v.get_by_label("What would you like to tell us?").input_value() == ""
    v.screenshot(path=str(artifacts / "widget-sent.png"))

    [item] = widget_items()
    assert item.text == "Exporting to PDF loses the charts"
    assert item.meta["page_url"] == f"{allowed.origin}/app.html"
    assert item.meta["site"] == "Customer app"
    with session_scope() as s:
        ada = customer_queries.person_by_email(s, "ada@acme.com")
    assert ada is not None and ada.name == "Ada"
    assert (item.person_id, item.account_id) == (ada.id, acme.id)
    assert visitor.cookies() == []  # the widget sets none and the endpoint sends none

    # The form stays open with the thanks; Escape closes it and gives focus back to the button.
    assert dialog.is_visible()
    v.get_by_label("What would you like to tell us?").focus()
    v.keyboard.press("Escape")
    dialog.wait_for(state="hidden")
    assert shadow_focus(v) == "open"


def test_a_page_on_an_origin_the_site_does_not_allow_shows_an_error(  # type: ignore[no-untyped-def]
    visitor, live_server: str, customer_sites, artifacts: Path
) -> None:
    allowed, other = customer_sites
    with session_scope() as s:
        site = widget.create_site(s, ACTOR, WidgetSiteIn(name="Customer app", allowed_origins=[allowed.origin]))
    snippet = f'<script src="{live_server}/feedback/widget.js" data-site="{site.site_key}" async></script>'
    other.pages["/copied.html"] = PAGE.format(before="", snippet=snippet)
    v = visitor.new_page()
    v.goto(f"{other.origin}/copied.html")
    v.get_by_role("button", name="Feedback", exact=True).click()
    v.get_by_label("What would you like to tell us?").fill("Sent from a page that is not allowed")
    v.get_by_role("button", name="Send feedback").click()
    error = v.get_by_text("Your feedback could not be sent")
    error.wait_for()
    assert error.is_visible()
    assert v.get_by_label("What would you like to tell us?").input_value() == "Sent from a page that is not allowed"
    v.screenshot(path=str(artifacts / "widget-refused.png"))
    assert widget_items() == []


def test_host_page_opens_the_form_from_its_own_button(visitor, live_server: str, customer_sites) -> None:  # type: ignore[no-untyped-def]
    allowed, _ = customer_sites
    with session_scope() as s:
        site = widget.create_site(
            s, ACTOR, WidgetSiteIn(name="Customer app", allowed_origins=[allowed.origin], require_email=True)
        )
    snippet = f'<script src="{live_server}/feedback/widget.js" data-site="{site.site_key}" data-button="false" async></script>'
    allowed.pages["/custom.html"] = PAGE.format(before="", snippet=snippet)
    v = visitor.new_page()
    v.goto(f"{allowed.origin}/custom.html")
    v.wait_for_function("window.ProdOpsFeedback && window.ProdOpsFeedback.version === 1")
    assert not v.get_by_role("button", name="Feedback", exact=True).is_visible()
    v.locator("#help").click()
    v.get_by_role("dialog", name="Send feedback").wait_for()
    v.get_by_label("What would you like to tell us?").fill("Where is the export button?")
    v.get_by_role("button", name="Send feedback").click()
    # The site requires an e-mail address: the server's field error shows next to the field.
    v.locator("#email-err").get_by_text("Enter your e-mail address so we can reply.").wait_for()
    assert widget_items() == []
    v.get_by_label("E-mail").fill("grace@example.com")
    v.get_by_role("button", name="Send feedback").click()
    v.get_by_text(THANKS).wait_for()
    [item] = widget_items()
    assert item.text == "Where is the export button?"
    assert item.meta["page_url"] == f"{allowed.origin}/custom.html"
