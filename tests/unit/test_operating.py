"""The door's operating point: thresholds from measured stranger comparisons, never
extrapolated, and honest figures (a count and a 95 % bound)."""

from __future__ import annotations

import pytest

from kiosk.domain.operating import LEVELS, DistanceCurve, choose, fpir_for
from kiosk.domain.stats import Rate, upper_bound
from kiosk.vision.calibration import distance_curve


def _curve(n: int = 100_000) -> DistanceCurve:
    tail = tuple(0.8 + 0.0001 * i for i in range(2000))  # impostor distances, sorted
    return DistanceCurve("sface", "centre", "test", n, tail, genuine=(0.5, 0.7, 0.9, 1.1))


def test_zero_of_48_is_at_most_six_percent() -> None:
    assert upper_bound(0, 48) == pytest.approx(0.0605, abs=1e-4)
    assert Rate(0, 48).text() == "0 of 48 (at most 6.1 %)"
    assert Rate(3, 200).text() == "3 of 200 (1.5 %, at most 3.8 %)"
    assert Rate(0, 0).text() == "not measured"
    # the Poisson form used for rare events agrees with the exact bound
    exact_k = 4
    approx = upper_bound(exact_k, 366_919)
    assert approx == pytest.approx(9.13 / 366_919 * 1.0, rel=0.02)


def test_threshold_falls_as_people_are_enrolled_and_keeps_the_bound() -> None:
    curve = _curve()
    level = LEVELS["normal"]
    points = [choose(curve, n, level) for n in (1, 10, 100, 1000)]
    thresholds = [p.threshold for p in points]
    assert thresholds == sorted(thresholds, reverse=True) and thresholds[0] > thresholds[-1]
    for p in points:
        if not p.floored:
            # the 95 % bound of the stranger chance is within the level's target
            assert p.fpir_bound <= level.fpir * 1.0001
    assert fpir_for(0.0, 100) == 0.0


def test_past_the_measurements_the_threshold_stops_falling() -> None:
    curve = _curve(n=10_000)  # too few comparisons to show 1 in 1,000 with 500 people
    point = choose(curve, 500, LEVELS["normal"])
    assert point.floored
    assert point.impostor.events == LEVELS["normal"].floor
    assert choose(curve, 50_000, LEVELS["normal"]).threshold == point.threshold
    # what the operator reads says what was measured, with the bound
    text = point.fpir_text()
    assert "of 10,000 stranger comparisons" in text and "at most" in text


def test_an_explicit_threshold_is_kept_and_described() -> None:
    point = choose(_curve(), 20, None, explicit=0.85)
    assert point.threshold == 0.85 and point.source == "explicit" and point.level is None
    assert point.impostor.events == 500  # 0.8000 .. 0.8499
    with pytest.raises(ValueError):
        choose(_curve(), 20, None)


def test_shipped_curves_give_the_door_its_thresholds() -> None:
    sface = distance_curve("sface", "centre")
    assert sface.impostor_comparisons > 300_000
    normal = [choose(sface, n, LEVELS["normal"]).threshold for n in (1, 24, 547)]
    assert 0.9 < normal[2] < normal[1] < normal[0] < 1.2
    # secure is stricter than normal at every size
    for n in (3, 50, 500):
        assert (
            choose(sface, n, LEVELS["secure"]).threshold
            <= choose(sface, n, LEVELS["normal"]).threshold
        )
