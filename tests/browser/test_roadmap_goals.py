"""Goals in a real browser: the progress chart draws, a check-in moves the numbers, and the feature page's strategy
panel loads the goals the feature serves."""

from __future__ import annotations

from pathlib import Path

import pytest

from prodops.domains.roadmap import service
from prodops.domains.roadmap.schemas.goals import CheckInIn, GoalIn, InitiativeIn, KeyResultIn, PlanUpdate
from prodops.platform.db import session_scope
from tests.browser.test_shell import sign_in
from tests.conftest import make_user
from tests.roadmap.conftest import ACTOR, make_feature

pytestmark = pytest.mark.browser


def test_goal_check_in_and_feature_panel(page, live_server: str, artifacts: Path) -> None:  # type: ignore[no-untyped-def]
    user = make_user("member")
    with session_scope() as s:
        gid = service.create_goal(s, ACTOR, GoalIn(title="Delight night owls", owner_id=user.id)).id
        kid = service.create_key_result(s, ACTOR, gid, KeyResultIn(title="Dark sessions", target_value=100)).id
        service.check_in(s, ACTOR, kid, CheckInIn(value=20, confidence="on_track"))
        ini = service.create_initiative(s, ACTOR, InitiativeIn(title="Themes", goal_ids=[gid])).id
        fid = make_feature(s, title="Dark mode").id
        service.update_plan(s, ACTOR, fid, PlanUpdate(initiative_id=ini, effort=5))
    sign_in(page, live_server, user.email)
    page.goto(f"{live_server}/roadmap/goals")
    page.get_by_role("link", name="Delight night owls").click()
    page.wait_for_load_state()
    assert page.locator("#goal-progress").inner_text().count("20%") == 1
    page.wait_for_selector("figure.chart svg, figure.chart canvas", timeout=15_000)

    page.get_by_role("link", name="Dark sessions").click()
    page.wait_for_load_state()
    page.get_by_label("Value now").fill("60")
    page.get_by_label("Confidence").select_option("at_risk")
    page.get_by_label("What happened, what comes next").fill("Half the themes shipped.")
    page.get_by_role("button", name="Check in").click()
    page.wait_for_load_state()
    assert "60" in page.locator("#kr-now").inner_text() and "60%" in page.locator("#kr-now").inner_text()
    assert page.get_by_text("Half the themes shipped.").is_visible()
    page.screenshot(path=str(artifacts / "roadmap-key-result.png"), full_page=True)

    page.goto(f"{live_server}/features/{fid}")
    panel = page.locator("#roadmap-evidence")
    panel.wait_for(timeout=15_000)
    assert "Delight night owls" in panel.inner_text() and "60%" in panel.inner_text()
    assert "Themes" in page.locator("#evidence-plan").inner_text()
