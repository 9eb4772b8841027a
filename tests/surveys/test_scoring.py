"""Scoring against hand-computed cases and independent references (a seeded bootstrap, SciPy)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from prodops.domains.surveys.service import scoring


def test_no_responses_is_no_score_not_zero() -> None:
    s = scoring.nps(0, 0, 0)
    assert s.n == 0 and s.value is None and s.low is None and s.margin is None
    assert scoring.csat({}).value is None
    assert scoring.ces({}).value is None
    change = scoring.change(s, scoring.nps(5, 0, 0))
    assert change.delta is None and change.verdict == "no responses in one of the periods"


def test_hand_computed_nps() -> None:
    # 5 promoters, 3 passives, 2 detractors: 50% − 20% = 30.
    s = scoring.nps(5, 3, 2)
    assert s.value == pytest.approx(30.0)
    # Wald: var = 0.5 + 0.2 − 0.3² = 0.61; se = sqrt(0.061) = 0.24698; ±1.96·se = ±48.41 points.
    assert s.std_error == pytest.approx(100 * math.sqrt(0.061), abs=1e-9)
    assert s.wald_low == pytest.approx(30 - 48.4076, abs=1e-3)
    assert s.wald_high == pytest.approx(30 + 48.4076, abs=1e-3)
    # Adjusted Wald: n = 13, p = 5.75/13, d = 2.75/13, centre 3/13 = 23.08;
    # var = (8.5/13) − (3/13)² = 0.60059; se = sqrt(0.60059/13) = 0.21494; ±42.13.
    assert s.low == pytest.approx(100 * (3 / 13 - scoring.Z95 * math.sqrt((8.5 / 13 - (3 / 13) ** 2) / 13)), abs=1e-9)
    assert s.low == pytest.approx(-19.05, abs=0.01)
    assert s.high == pytest.approx(65.21, abs=0.01)
    assert s.margin == pytest.approx(42.13, abs=0.01)


def test_all_passives_is_zero_with_a_real_interval() -> None:
    s = scoring.nps(0, 40, 0)
    assert s.value == 0
    assert s.wald_low == 0 and s.wald_high == 0  # Wald claims certainty...
    assert s.low < -5 and s.high > 5  # ...the adjusted interval does not
    assert s.low == pytest.approx(-s.high)


def test_one_response() -> None:
    promoter = scoring.nps_from_scores([10])
    assert promoter.n == 1 and promoter.value == 100
    # Adjusted: n = 4, centre (1.75 − 0.75)/4 = 0.25, se = sqrt((2.5/4 − 0.0625)/4) = 0.375 → −48.5..98.5,
    # widened to include the observed 100.
    assert promoter.low == pytest.approx(100 * (0.25 - scoring.Z95 * 0.375))
    assert promoter.high == 100
    detractor = scoring.nps_from_scores([0])
    assert detractor.value == -100 and detractor.low == -100
    assert scoring.ces({5: 1}).value == 5 and scoring.ces({5: 1}).low == 1


def test_boundaries_six_seven_eight_nine() -> None:
    assert [scoring.nps_group(s) for s in range(11)] == ["detractor"] * 7 + ["passive"] * 2 + ["promoter"] * 2
    # A tie at each boundary: one 6 and one 7 → one detractor, one passive: NPS −50.
    assert scoring.nps_from_scores([6, 7]).value == -50
    # One 8 and one 9 → one passive, one promoter: NPS +50.
    assert scoring.nps_from_scores([8, 9]).value == 50
    assert scoring.nps_from_scores([6, 7, 8, 9]).value == 0
    assert scoring.score("nps", {6: 1, 7: 1, 8: 1, 9: 1}).value == 0


def test_csat_and_ces_hand_computed() -> None:
    s = scoring.csat({5: 3, 4: 3, 3: 2, 1: 2})  # 6 of 10 satisfied
    assert s.value == pytest.approx(60.0)
    # Wilson for 6/10: centre (0.6 + 1.9208/10)/(1.38415) = 0.57223, half 0.26959...
    assert s.low == pytest.approx(31.27, abs=0.01)
    assert s.high == pytest.approx(83.18, abs=0.01)
    c = scoring.ces({7: 2, 6: 2, 5: 1, 2: 1})  # mean 33/6 = 5.5
    assert c.value == pytest.approx(5.5)
    sd = np.std([7, 7, 6, 6, 5, 2], ddof=1)
    half = stats.t.ppf(0.975, 5) * sd / math.sqrt(6)
    assert c.low == pytest.approx(5.5 - half) and c.high == pytest.approx(min(7, 5.5 + half))


def _bootstrap_interval(scores: np.ndarray, rng: np.random.Generator, draws: int = 20_000) -> tuple[float, float]:
    """Percentile bootstrap of NPS: the reference computed independently of the module."""
    n = len(scores)
    picks = scores[rng.integers(0, n, size=(draws, n))]
    values = 100 * ((picks >= 9).mean(axis=1) - (picks <= 6).mean(axis=1))
    return float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))


@pytest.mark.parametrize(("promoters", "passives", "detractors"), [(180, 120, 100), (400, 300, 300), (90, 60, 50)])
def test_interval_matches_a_bootstrap_reference(promoters: int, passives: int, detractors: int) -> None:
    rng = np.random.default_rng(20261201)
    scores = np.array([10] * promoters + [8] * passives + [3] * detractors)
    low, high = _bootstrap_interval(scores, rng)
    s = scoring.nps(promoters, passives, detractors)
    # With a few hundred responses the methods agree to within about a point.
    assert s.wald_low == pytest.approx(low, abs=1.2)
    assert s.wald_high == pytest.approx(high, abs=1.2)
    assert s.low == pytest.approx(low, abs=1.5)
    assert s.high == pytest.approx(high, abs=1.5)


def test_adjusted_wald_covers_better_than_wald_for_small_samples() -> None:
    """Simulated coverage at n = 15 with a true NPS of +40: the reason we show the adjusted interval."""
    rng = np.random.default_rng(7)
    p_true = np.array([0.55, 0.30, 0.15])  # promoters, passives, detractors → NPS 40
    hits_adj = hits_wald = 0
    runs = 4000
    for counts in rng.multinomial(15, p_true, size=runs):
        s = scoring.nps(int(counts[0]), int(counts[1]), int(counts[2]))
        hits_adj += s.low <= 40 <= s.high
        hits_wald += s.wald_low <= 40 <= s.wald_high
    assert hits_adj / runs > hits_wald / runs
    assert 0.93 <= hits_adj / runs <= 0.99


def test_change_matches_a_welch_test_on_the_scores() -> None:
    before = np.array([1] * 120 + [0] * 80 + [-1] * 100)
    after = np.array([1] * 160 + [0] * 80 + [-1] * 60)
    change = scoring.change(scoring.nps(120, 80, 100), scoring.nps(160, 80, 60))
    assert change.delta == pytest.approx(100 * (after.mean() - before.mean()))
    reference = stats.ttest_ind(after, before, equal_var=False)
    # The same statistic (ours uses n, Welch n − 1 in the variances) and the normal instead of the t distribution.
    assert stats.norm.isf(change.p_value / 2) == pytest.approx(reference.statistic, rel=0.01)
    assert change.p_value == pytest.approx(reference.pvalue, rel=0.2)
    assert change.significant and "rise" in change.verdict


def test_change_too_few_and_within_noise() -> None:
    small = scoring.change(scoring.nps(5, 3, 2), scoring.nps(9, 1, 0))
    assert small.p_value is None and not small.significant and "too few" in small.verdict
    same = scoring.change(scoring.nps(50, 30, 20), scoring.nps(51, 29, 20))
    assert not same.significant and same.p_value > 0.5
    csat = scoring.change(scoring.csat({5: 60, 1: 40}), scoring.csat({5: 80, 1: 20}))
    assert csat.significant


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 500), st.integers(0, 500), st.integers(0, 500))
def test_nps_properties(p: int, q: int, d: int) -> None:
    s = scoring.nps(p, q, d)
    if p + q + d == 0:
        assert s.value is None
        return
    assert -100 <= s.low <= s.high <= 100
    assert -100 <= s.value <= 100
    assert s.value == pytest.approx(100 * (p - d) / (p + q + d))
    assert scoring.score("nps", {10: p, 7: q, 0: d}).value == pytest.approx(s.value)
