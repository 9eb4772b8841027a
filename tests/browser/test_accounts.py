"""The accounts journey in a real browser: sign in, open accounts, filter, open one account."""

from __future__ import annotations

from pathlib import Path

import pytest

from prodops.domains.customers import service
from prodops.domains.customers.schemas import AccountIn
from prodops.platform.audit import Actor
from prodops.platform.db import session_scope
from tests.browser.test_shell import sign_in
from tests.conftest import make_user

pytestmark = pytest.mark.browser

ACCOUNTS = [
    ("Globex Corporation", "globex.example", "Enterprise", "Enterprise", "EMEA", 1_250_000),
    ("Initech", "initech.example", "Growth", "Mid-Market", "NA", 84_000),
    ("Hooli", "hooli.example", "Enterprise", "Enterprise", "NA", 2_400_000),
    ("Tiny Shop <b>&</b>", "tiny.example", "Starter", "SMB", "APAC", 1_200),
]


def test_accounts_filter_and_detail(page, live_server: str, artifacts: Path) -> None:  # type: ignore[no-untyped-def]
    user = make_user("member")
    with session_scope() as s:
        for name, domain, plan, segment, region, arr in ACCOUNTS:
            service.create_account(
                s,
                Actor.system("test"),
                AccountIn(name=name, domain=domain, plan=plan, segment=segment, region=region, arr=arr),
            )
    sign_in(page, live_server, user.email)
    page.get_by_role("link", name="Accounts", exact=True).first.click()
    page.wait_for_load_state()
    rows = page.locator("#results tbody tr")
    assert rows.count() == 4
    assert page.get_by_text("Tiny Shop <b>&</b>").is_visible()  # user text is shown, never interpreted

    page.get_by_label("Segment", exact=True).select_option("Enterprise")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_function("document.querySelectorAll('#results tbody tr').length === 2")
    assert "segment=Enterprise" in page.url
    assert sorted(rows.locator("td:nth-child(2) a").all_inner_texts()) == ["Globex Corporation", "Hooli"]

    page.get_by_role("link", name="Globex Corporation").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", name="Globex Corporation").is_visible()
    assert page.get_by_text("$1.2M").first.is_visible()
    page.screenshot(path=str(artifacts / "account-detail.png"), full_page=True)
