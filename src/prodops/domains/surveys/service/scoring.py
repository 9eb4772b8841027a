"""Scores and their uncertainty, from plain numbers (no database): NPS, CSAT and CES with 95% intervals, and the
significance of a change between two periods.

**NPS** = % promoters (9–10) − % detractors (0–6), from −100 to 100. Each response scores +1 (promoter), 0
(passive) or −1 (detractor); NPS is 100 × their mean, so its variance per response is
``p_P + p_D − (p_P − p_D)²`` and the standard error ``sqrt(var / n)``.

Two intervals are computed:

- **Wald**: NPS ± 1.96 × SE on the raw proportions. Correct for large samples, but too narrow for small ones and of
  zero width when every answer is the same (one response, or all passives), which claims certainty nobody has.
- **Adjusted Wald** (Rocks 2016, as recommended by Sauro & Lewis for NPS): add three pseudo-responses — ¾ promoter,
  ¾ detractor, 1½ passive — then apply the Wald formula to the adjusted proportions with n + 3. Its coverage stays
  near 95% down to small samples, and it never has zero width. (For tiny unanimous samples its shrunken centre could
  leave the observed NPS outside; the interval is then widened to include it.)

**We show the adjusted-Wald interval** (the point estimate stays the raw NPS), clipped to [−100, 100]; the Wald one is
in the API for comparison. Tests check both against a bootstrap reference and hand-computed cases.

**Change between two periods**: a two-sample z-test on the ±1/0 scores (unpooled standard errors, as Welch's test
would use; with the sample sizes NPS programmes have, the t and normal distributions agree). ``p < 0.05`` is called
significant; with fewer than 30 responses in either period we say "too few" instead.

**CSAT** = % of 4–5 answers on a 1–5 scale, with a Wilson score interval (good coverage for small n and for
proportions near 0 or 100%). **CES** = mean of 1–7 answers, with a Student t interval.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from scipy import stats

Z95 = 1.959963984540054
#: Below this many responses in a period, a change is "too few to tell" rather than tested.
MIN_FOR_TEST = 30

Kind = Literal["nps", "csat", "ces"]
Group = Literal["detractor", "passive", "promoter"]

#: Scale of each kind's main question.
SCALES: dict[str, tuple[int, int]] = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}


def nps_group(score: float) -> Group:
    """0–6 detractor, 7–8 passive, 9–10 promoter (the boundaries 6/7 and 8/9 belong to the lower/upper side)."""
    if score >= 9:
        return "promoter"
    if score >= 7:
        return "passive"
    return "detractor"


def group_of(kind: str, score: float) -> Group:
    """The NPS-style group of any kind's score: for CSAT 4–5 satisfied (promoter), 3 neutral, 1–2 unhappy
    (detractor); for CES (7 = very easy) 6–7 easy, 4–5 neutral, 1–3 hard."""
    if kind == "csat":
        return "promoter" if score >= 4 else ("passive" if score >= 3 else "detractor")
    if kind == "ces":
        return "promoter" if score >= 6 else ("passive" if score >= 4 else "detractor")
    return nps_group(score)


@dataclass(frozen=True)
class Score:
    """A score with its 95% interval. ``value`` is None when there are no responses (show "no responses")."""

    kind: Kind
    n: int
    value: float | None
    low: float | None
    high: float | None
    method: str
    promoters: int = 0
    passives: int = 0
    detractors: int = 0
    wald_low: float | None = None
    wald_high: float | None = None
    std_error: float | None = None

    @property
    def margin(self) -> float | None:
        """Half the interval's width (the "±" people read)."""
        if self.low is None or self.high is None:
            return None
        return (self.high - self.low) / 2

    def as_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "n": self.n,
            "value": self.value,
            "low": self.low,
            "high": self.high,
            "margin": self.margin,
            "method": self.method,
            "promoters": self.promoters,
            "passives": self.passives,
            "detractors": self.detractors,
            "wald_low": self.wald_low,
            "wald_high": self.wald_high,
            "std_error": self.std_error,
        }


def _clip(value: float, lo: float, hi: float) -> float:
    return max(lo, min(hi, value))


# --- NPS -------------------------------------------------------------------------------------------


def nps_variance(promoters: float, passives: float, detractors: float) -> float:
    """Variance of one response's ±1/0 score (on the −1..1 scale)."""
    n = promoters + passives + detractors
    if n <= 0:
        return 0.0
    p, d = promoters / n, detractors / n
    return max(0.0, p + d - (p - d) ** 2)


def nps(promoters: int, passives: int, detractors: int) -> Score:
    """NPS (−100..100) with its adjusted-Wald 95% interval (and the plain Wald one)."""
    n = promoters + passives + detractors
    if n == 0:
        return Score("nps", 0, None, None, None, "adjusted Wald")
    value = 100.0 * (promoters - detractors) / n
    se = math.sqrt(nps_variance(promoters, passives, detractors) / n)
    wald = (_clip(value - 100 * Z95 * se, -100, 100), _clip(value + 100 * Z95 * se, -100, 100))
    n_adj = n + 3
    p_adj, d_adj = (promoters + 0.75) / n_adj, (detractors + 0.75) / n_adj
    centre = p_adj - d_adj
    se_adj = math.sqrt(max(0.0, p_adj + d_adj - centre**2) / n_adj)
    # The adjusted centre is pulled towards 0; with a handful of unanimous answers the interval could then miss the
    # observed NPS itself (one promoter: −48..98), so it is widened to include it.
    low = min(_clip(100 * (centre - Z95 * se_adj), -100, 100), value)
    high = max(_clip(100 * (centre + Z95 * se_adj), -100, 100), value)
    return Score(
        "nps",
        n,
        value,
        low,
        high,
        "adjusted Wald",
        promoters=promoters,
        passives=passives,
        detractors=detractors,
        wald_low=wald[0],
        wald_high=wald[1],
        std_error=100 * se,
    )


def nps_from_scores(scores: Iterable[float]) -> Score:
    """NPS of raw 0–10 answers (any iterable: a list, a column of rows)."""
    counts = {"promoter": 0, "passive": 0, "detractor": 0}
    for s in scores:
        counts[nps_group(s)] += 1
    return nps(counts["promoter"], counts["passive"], counts["detractor"])


# --- CSAT and CES ----------------------------------------------------------------------------------


def wilson(successes: int, n: int) -> tuple[float, float]:
    """Wilson score 95% interval of a proportion, as fractions."""
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    z2 = Z95**2
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = Z95 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def csat(counts: Mapping[int, int]) -> Score:
    """CSAT: % of 4–5 among 1–5 answers (``counts`` maps each answer to how often it was given)."""
    n = sum(counts.values())
    if n == 0:
        return Score("csat", 0, None, None, None, "Wilson")
    happy = sum(c for v, c in counts.items() if v >= 4)
    unhappy = sum(c for v, c in counts.items() if v <= 2)
    low, high = wilson(happy, n)
    p = happy / n
    return Score(
        "csat",
        n,
        100 * p,
        100 * low,
        100 * high,
        "Wilson",
        promoters=happy,
        passives=n - happy - unhappy,
        detractors=unhappy,
        std_error=100 * math.sqrt(p * (1 - p) / n),
    )


def ces(counts: Mapping[int, int]) -> Score:
    """CES: the mean of 1–7 answers with a Student t 95% interval (none for a single answer: no spread to tell)."""
    n = sum(counts.values())
    if n == 0:
        return Score("ces", 0, None, None, None, "Student t")
    mean = sum(v * c for v, c in counts.items()) / n
    easy = sum(c for v, c in counts.items() if v >= 6)
    hard = sum(c for v, c in counts.items() if v <= 3)
    if n == 1:
        return Score("ces", 1, mean, 1.0, 7.0, "Student t", promoters=easy, passives=n - easy - hard, detractors=hard)
    var = sum(c * (v - mean) ** 2 for v, c in counts.items()) / (n - 1)
    se = math.sqrt(var / n)
    half = float(stats.t.ppf(0.975, n - 1)) * se
    return Score(
        "ces",
        n,
        mean,
        _clip(mean - half, 1, 7),
        _clip(mean + half, 1, 7),
        "Student t",
        promoters=easy,
        passives=n - easy - hard,
        detractors=hard,
        std_error=se,
    )


def score(kind: str, counts: Mapping[int, int]) -> Score:
    """Any kind's score from a histogram of its main answers (answer → count)."""
    if kind == "csat":
        return csat(counts)
    if kind == "ces":
        return ces(counts)
    promoters = sum(c for v, c in counts.items() if v >= 9)
    detractors = sum(c for v, c in counts.items() if v <= 6)
    return nps(promoters, sum(counts.values()) - promoters - detractors, detractors)


def histogram(values: Iterable[float]) -> dict[int, int]:
    found: dict[int, int] = {}
    for v in values:
        found[int(v)] = found.get(int(v), 0) + 1
    return found


# --- change between two periods --------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """The difference ``current − previous`` with a two-sided p-value; ``verdict`` says it in words."""

    delta: float | None
    p_value: float | None
    significant: bool
    verdict: str
    low: float | None = None
    high: float | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "delta": self.delta,
            "p_value": self.p_value,
            "significant": self.significant,
            "verdict": self.verdict,
            "low": self.low,
            "high": self.high,
        }


def _variance_per_response(s: Score) -> float:
    """Variance of one response on the score's own scale (NPS and CSAT in points of 100)."""
    if s.kind == "nps":
        return 100**2 * nps_variance(s.promoters, s.passives, s.detractors)
    if s.std_error is None:
        return 0.0
    return s.std_error**2 * s.n


def change(previous: Score, current: Score) -> Change:
    """Is ``current`` different from ``previous``? A two-sample z-test (unpooled) on the per-response scores."""
    if previous.value is None or current.value is None:
        return Change(None, None, False, "no responses in one of the periods")
    delta = current.value - previous.value
    if previous.n < MIN_FOR_TEST or current.n < MIN_FOR_TEST:
        return Change(delta, None, False, f"too few responses to tell (fewer than {MIN_FOR_TEST} in a period)")
    se = math.sqrt(_variance_per_response(previous) / previous.n + _variance_per_response(current) / current.n)
    p = (1.0 if delta == 0 else 0.0) if se == 0 else math.erfc(abs(delta / se) / math.sqrt(2))
    significant = p < 0.05
    if significant:
        verdict = f"a real {'rise' if delta > 0 else 'fall'} (p = {p:.3f})"
    else:
        verdict = f"within the noise (p = {p:.2f})"
    return Change(delta, p, significant, verdict, delta - Z95 * se, delta + Z95 * se)
