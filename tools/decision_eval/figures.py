"""Step 5a: the figures: a rate with its count and 95 % upper bound, and the tally of one
rule over attempts (FNIR, wrong person, FPIR, time to the decision).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kiosk.domain.access import Decision
from tools.decision_eval.replay import Outcome


def upper95(k: int, n: int) -> float:
    """One-sided 95 % upper bound of a rate seen ``k`` times in ``n`` (Clopper-Pearson):
    0 of 48 is at most 6 %."""
    if n == 0:
        return 1.0
    if k >= n:
        return 1.0

    def cdf(p: float) -> float:  # P(X <= k) for X ~ Binomial(n, p)
        total = 0.0
        for i in range(k + 1):
            log_term = (
                math.lgamma(n + 1)
                - math.lgamma(i + 1)
                - math.lgamma(n - i + 1)
                + i * math.log(p)
                + (n - i) * math.log1p(-p)
            )
            total += math.exp(log_term)
        return total

    lo, hi = k / n, 1.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if cdf(mid) > 0.05:
            lo = mid
        else:
            hi = mid
    return hi


def rate_figure(k: int, n: int) -> dict[str, Any]:
    return {
        "count": k,
        "of": n,
        "rate": round(k / n, 4) if n else None,
        "upper95": round(upper95(k, n), 4),
        "text": f"{k} of {n}, at most {100 * upper95(k, n):.1f} %" if n else "no attempts",
    }


@dataclass
class Tally:
    mated: int = 0
    missed: int = 0  # not decided as their person (rejected, wrong, or no decision)
    wrong: int = 0  # decided as another enrolled person
    undecided: int = 0
    strangers: int = 0
    accepted: int = 0  # strangers let in
    times: list[float] = field(default_factory=list)

    def add(self, truth: int | None, outcome: Outcome) -> None:
        allowed = outcome.decision is Decision.ALLOWED
        if outcome.ms is not None:
            self.times.append(outcome.ms)
        if truth is None:
            self.strangers += 1
            self.accepted += allowed
            return
        self.mated += 1
        if not (allowed and outcome.person_id == truth):
            self.missed += 1
        self.wrong += allowed and outcome.person_id != truth
        self.undecided += outcome.decision is None

    def figures(self) -> dict[str, Any]:
        times = sorted(self.times)
        return {
            "FNIR": rate_figure(self.missed, self.mated),
            "wrong_person": rate_figure(self.wrong, self.mated),
            "undecided": self.undecided,
            "FPIR": rate_figure(self.accepted, self.strangers),
            "ms_to_decision": {
                "median": round(float(np.median(times))) if times else None,
                "max": round(times[-1]) if times else None,
            },
        }
