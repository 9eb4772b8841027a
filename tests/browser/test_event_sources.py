"""Event sources in a real browser: an admin adds a source, copies its write key into a client, sees the traffic."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from prodops.domains.analytics.service import pipeline
from tests.analytics.conftest import _wipe
from tests.browser.test_shell import sign_in
from tests.conftest import make_user

pytestmark = pytest.mark.browser


def test_add_a_source_send_events_and_see_them(page, live_server: str, artifacts: Path) -> None:  # type: ignore[no-untyped-def]
    _wipe()
    try:
        sign_in(page, live_server, make_user("admin").email)
        page.get_by_role("link", name="Event sources").first.click()
        page.wait_for_load_state()
        assert page.get_by_role("heading", name="No event sources yet").is_visible()
        page.get_by_label("Name").fill("Web app <script>")
        page.get_by_label("Accepts").select_option("segment")
        page.get_by_role("button", name="Add source").click()
        page.wait_for_load_state()
        assert page.get_by_role("heading", name="Web app <script>").is_visible()  # shown as text, not markup
        key = page.locator("#write-key").inner_text().strip()
        assert key.startswith("wk_")
        assert key in page.locator("pre.snippet").first.inner_text()  # the snippet carries the key

        batch = [{"type": "track", "userId": f"u{i}", "event": "Signed Up", "messageId": f"b{i}"} for i in range(3)]
        response = httpx.post(f"{live_server}/v1/batch", json={"batch": batch}, auth=(key, ""))
        assert response.status_code == 200
        pipeline.flush()

        page.reload()
        page.wait_for_selector("figure.chart canvas, figure.chart svg", timeout=20_000)
        facts = page.locator("dl.facts").inner_text()
        assert "3 in 1 request" in facts and "requests" not in facts
        page.screenshot(path=str(artifacts / "event-source.png"), full_page=True)

        page.once("dialog", lambda dialog: dialog.accept())
        page.get_by_role("button", name="Rotate write key").click()
        page.wait_for_load_state()
        assert page.locator("#write-key").inner_text().strip() != key
        assert httpx.post(f"{live_server}/v1/batch", json={"batch": batch}, auth=(key, "")).status_code == 401
    finally:
        _wipe()
