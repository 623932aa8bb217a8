"""Counts with honest bounds: what the operator is shown is a count and its 95 % bound."""

from __future__ import annotations

import math
from dataclasses import dataclass


def _binom_cdf(k: int, n: int, p: float) -> float:
    """P(X <= k) for X ~ Binomial(n, p), summed in log space (n up to millions)."""
    if p <= 0.0:
        return 1.0
    if p >= 1.0:
        return 1.0 if k >= n else 0.0
    log_p, log_q = math.log(p), math.log1p(-p)
    total = 0.0
    for i in range(0, k + 1):
        log_term = (
            math.lgamma(n + 1)
            - math.lgamma(i + 1)
            - math.lgamma(n - i + 1)
            + i * log_p
            + (n - i) * log_q
        )
        total += math.exp(log_term)
    return min(1.0, total)


def upper_bound(events: int, trials: int, confidence: float = 0.95) -> float:
    """One-sided Clopper-Pearson upper bound of a rate seen ``events`` times in ``trials``
    (0 of 48 -> 0.0605: "at most 6 %"). 1.0 when there were no trials."""
    if trials <= 0:
        return 1.0
    if events >= trials:
        return 1.0
    alpha = 1.0 - confidence
    if events == 0:
        return 1.0 - alpha ** (1.0 / trials)
    if trials >= 1000 and events / trials < 0.01 and abs(confidence - 0.95) < 1e-12:
        # rare events in many trials: the Poisson bound, chi2(0.95, 2k+2) / 2n, with the
        # Wilson-Hilferty form of the chi-square quantile (within 1 % of the exact bound)
        nu = 2.0 * (events + 1)
        z = 1.6448536269514722
        chi2 = nu * (1.0 - 2.0 / (9.0 * nu) + z * math.sqrt(2.0 / (9.0 * nu))) ** 3
        return min(1.0, chi2 / (2.0 * trials))
    lo, hi = events / trials, 1.0
    for _ in range(60):  # bisection: the p at which seeing <= events has chance alpha
        mid = (lo + hi) / 2
        if _binom_cdf(events, trials, mid) > alpha:
            lo = mid
        else:
            hi = mid
    return hi


@dataclass(frozen=True)
class Rate:
    """``events`` out of ``trials``, with its 95 % upper bound."""

    events: int
    trials: int

    @property
    def value(self) -> float:
        return self.events / self.trials if self.trials else 0.0

    @property
    def bound(self) -> float:
        return upper_bound(self.events, self.trials)

    def text(self) -> str:
        """ "3 of 200 (1.5 %, at most 3.9 %)"; "0 of 48 (at most 6.1 %)"; "not measured"."""
        if self.trials == 0:
            return "not measured"
        if self.events == 0:
            return f"0 of {self.trials:,} (at most {percent(self.bound)})"
        return (
            f"{self.events:,} of {self.trials:,} ({percent(self.value)}, "
            f"at most {percent(self.bound)})"
        )


def percent(value: float) -> str:
    """A rate as a percentage with the digits it deserves (6.1 %, 0.31 %, 0.004 %)."""
    pct = value * 100
    if pct == 0:
        return "0 %"
    if pct >= 10:
        return f"{pct:.0f} %"
    if pct >= 1:
        return f"{pct:.1f} %"
    digits = max(1, -math.floor(math.log10(pct)) + 1)
    return f"{pct:.{digits}f} %"
