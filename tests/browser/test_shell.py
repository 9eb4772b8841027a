"""The shell in a real browser: sign in, navigate, sign out."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import PASSWORD, make_user

pytestmark = pytest.mark.browser


def sign_in(page, base: str, email: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{base}/")
    assert "/login" in page.url
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def test_sign_in_navigate_and_sign_out(page, live_server: str, artifacts: Path) -> None:  # type: ignore[no-untyped-def]
    user = make_user("admin")
    sign_in(page, live_server, user.email)
    assert page.get_by_role("heading", name=f"Welcome, {user.email}").is_visible()
    page.get_by_role("link", name="Audit log").first.click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", name="Audit log").is_visible()
    page.screenshot(path=str(artifacts / "audit.png"), full_page=True)
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_load_state()
    assert "/login" in page.url
