"""The roll-up definitions, checked on hand-computed trees (no database)."""

from __future__ import annotations

import datetime as dt

import pytest

from prodops.domains.roadmap.service.progress import (
    GoalNode,
    KrNode,
    expected_progress,
    goal_health,
    kr_health,
    kr_progress,
    rollup,
)


@pytest.mark.parametrize(
    ("start", "target", "current", "expected"),
    [
        (0, 100, 25, 0.25),
        (10, 20, 15, 0.5),
        (40, 10, 25, 0.5),  # a measure that should fall: 40 → 10, now 25 = half way
        (40, 10, 50, 0.0),  # the wrong way clamps at 0
        (40, 10, 5, 1.0),  # beyond the target clamps at 1
        (0, 100, 150, 1.0),
        (0, 100, -5, 0.0),
        (0, 100, None, 0.0),  # no value yet: at the start
        (5, 5, 5, 1.0),
        (5, 5, 4, 0.0),
    ],
)
def test_key_result_progress(start: float, target: float, current: float | None, expected: float) -> None:
    assert kr_progress(start, target, current) == pytest.approx(expected)


def test_weighted_rollup_through_a_tree() -> None:
    # company(1) ← product(2, weight 3) ← team(3, weight 1); company also has its own KR.
    goals = [GoalNode(1, None), GoalNode(2, 1, weight=3), GoalNode(3, 2, weight=1)]
    krs = [
        KrNode(10, 1, 0, 100, 40, weight=1),  # 0.4
        KrNode(20, 2, 0, 10, 10, weight=2),  # 1.0
        KrNode(21, 2, 100, 50, 75, weight=1),  # decreasing: 0.5
        KrNode(30, 3, 0, 4, 1, weight=1),  # 0.25
    ]
    got = rollup(goals, krs)
    assert got[3] == pytest.approx(0.25)
    # goal 2: (1.0*2 + 0.5*1 + 0.25*1) / 4 = 0.6875
    assert got[2] == pytest.approx(0.6875)
    # goal 1: (0.4*1 + 0.6875*3) / 4 = 0.615625
    assert got[1] == pytest.approx(0.615625)


def test_zero_weights_and_unmeasured_children_are_left_out() -> None:
    goals = [GoalNode(1, None), GoalNode(2, 1, weight=0), GoalNode(3, 1, weight=2), GoalNode(4, 1, weight=5)]
    krs = [
        KrNode(10, 1, 0, 10, 2, weight=0),  # weight 0: ignored
        KrNode(11, 1, 0, 10, 8, weight=1),  # 0.8
        KrNode(20, 2, 0, 10, 10, weight=1),  # child 2 has weight 0 in its parent
        KrNode(30, 3, 0, 10, 5, weight=1),  # 0.5
        # goal 4 has no key results: not measured, left out despite its weight
    ]
    got = rollup(goals, krs)
    assert got[2] == pytest.approx(1.0)
    assert got[4] is None
    # (0.8*1 + 0.5*2) / 3 = 0.6
    assert got[1] == pytest.approx(0.6)


def test_all_weights_zero_means_not_measured() -> None:
    got = rollup([GoalNode(1, None)], [KrNode(1, 1, 0, 10, 5, weight=0)])
    assert got[1] is None


def test_archived_children_do_not_count_and_cycles_do_not_hang() -> None:
    goals = [GoalNode(1, None), GoalNode(2, 1, status="archived"), GoalNode(3, 4), GoalNode(4, 3)]
    krs = [KrNode(1, 1, 0, 10, 10), KrNode(2, 2, 0, 10, 0), KrNode(3, 3, 0, 10, 5)]
    got = rollup(goals, krs)
    assert got[1] == pytest.approx(1.0)
    assert got[3] == pytest.approx(0.5)


def test_health_from_confidence_then_pace() -> None:
    day = dt.date(2026, 7, 1)
    expected = expected_progress(dt.date(2026, 1, 1), dt.date(2026, 12, 31), day)
    assert expected == pytest.approx(181 / 364)
    assert kr_health("off_track", 0.9, expected) == "off_track"
    assert kr_health(None, 0.45, expected) == "on_track"
    assert kr_health(None, 0.30, expected) == "at_risk"
    assert kr_health(None, 0.10, expected) == "off_track"
    assert kr_health(None, 0.10, None) == "no_data"
    goals = [GoalNode(1, None), GoalNode(2, 1), GoalNode(3, 1)]
    assert goal_health(goals, {2: ["on_track", "at_risk"], 3: ["on_track"]}) == {
        1: "at_risk",
        2: "at_risk",
        3: "on_track",
    }
