"""The busiest goals pages run a fixed number of statements, whatever the number of goals, initiatives and plans."""

from __future__ import annotations

from sqlalchemy.orm import Session

from prodops.domains.roadmap import service
from prodops.domains.roadmap.schemas.goals import CheckInIn, GoalIn, InitiativeIn, KeyResultIn, PlanUpdate
from tests.conftest import Client, count_statements
from tests.roadmap.conftest import ACTOR, make_feature, make_team


def _grow(session: Session, n: int, parent: int | None) -> int:
    team = make_team(session).id
    first = 0
    for i in range(n):
        gid = service.create_goal(session, ACTOR, GoalIn(title=f"Goal {i}", parent_id=parent, team_id=team)).id
        first = first or gid
        kr = service.create_key_result(session, ACTOR, gid, KeyResultIn(title="KR", target_value=10)).id
        service.check_in(session, ACTOR, kr, CheckInIn(value=i % 10, confidence="on_track"))
        ini = service.create_initiative(session, ACTOR, InitiativeIn(title=f"Ini {i}", goal_ids=[gid], team_id=team)).id
        for _ in range(2):
            service.update_plan(session, ACTOR, make_feature(session).id, PlanUpdate(initiative_id=ini, effort=3))
    return first


def _counts(client: Client, urls: list[str]) -> list[int]:
    found = []
    for url in urls:
        with count_statements() as statements:
            response = client.get(url)
        assert response.status_code == 200, url
        found.append(len(statements))
    return found


def test_statement_counts_do_not_grow_with_the_data(viewer_client: Client, session: Session) -> None:
    root = service.create_goal(session, ACTOR, GoalIn(title="Root")).id
    _grow(session, 3, root)
    urls = [
        "/roadmap/goals",
        f"/roadmap/goals/{root}",
        f"/roadmap/goals/{root}/progress.json",
        "/roadmap/initiatives",
        "/roadmap/alignment",
        "/api/v1/roadmap/goals",
    ]
    small = _counts(viewer_client, urls)
    _grow(session, 12, root)
    assert _counts(viewer_client, urls) == small
