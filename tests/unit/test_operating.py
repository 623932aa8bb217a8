"""The door's operating point: thresholds from measured stranger comparisons, never
extrapolated, and honest figures (a count and a 95 % bound)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from kiosk.config import VisionSettings
from kiosk.domain.operating import LEVELS, DistanceCurve, choose, choose_covering, fpir_for
from kiosk.domain.stats import Rate, upper_bound
from kiosk.vision.calibration import distance_curve, frame_curve, operating_point


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
    curve = _curve(2_000_000)
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
    # a gallery smaller than the level's smallest gets that one's threshold
    assert 0.9 < normal[2] < normal[1] == normal[0] < 1.2
    assert choose(sface, 50, LEVELS["normal"]).threshold < normal[1]
    # secure is stricter than normal at every size
    for n in (3, 50, 500):
        assert (
            choose(sface, n, LEVELS["secure"]).threshold
            <= choose(sface, n, LEVELS["normal"]).threshold
        )


def _frames(n: int = 50_000, start: float = 0.7) -> DistanceCurve:
    """Camera frames of strangers: closer to everyone than the photos of ``_curve``."""
    tail = tuple(start + 0.0001 * i for i in range(2000))
    return DistanceCurve(
        "sface", "centre", "test", n, tail, genuine=(0.6, 0.8, 1.0), population="camera frames"
    )


def test_the_threshold_holds_the_target_on_every_population_measured() -> None:
    level = LEVELS["normal"]
    for n in (1, 5, 24):
        photos, frames = choose(_curve(), n, level), choose(_frames(), n, level)
        point = choose_covering([_curve(), _frames()], n, level)
        # the frames sit closer to everyone: their threshold is the stricter one
        assert point.threshold == frames.threshold < photos.threshold
        assert point.limited_by == "camera frames"
        # each population's own figures at the threshold in force, and the worst counts
        (evidence,) = point.evidence
        assert evidence.population == "camera frames"
        assert evidence.impostor == frames.impostor
        assert evidence.own_threshold == frames.threshold
        assert point.impostor.events < photos.impostor.events
        assert point.fpir_bound == pytest.approx(frames.fpir_bound)
        assert point.floored == frames.floored
        if not point.floored:
            assert point.fpir_bound <= level.fpir * 1.0001
    # where the photos are the stricter population, they set it, and the frames are shown
    point = choose_covering([_curve(), _frames(start=0.95)], 5, level)
    assert point.threshold == choose(_curve(), 5, level).threshold
    assert point.limited_by == "development photos"
    text = point.fpir_text()
    assert "of 100,000 stranger comparisons on the development photos" in text
    assert "of 50,000 on camera frames" in text


def test_an_explicit_threshold_is_shown_with_every_population() -> None:
    point = choose_covering([_curve(), _frames()], 20, None, explicit=0.85)
    assert point.threshold == 0.85 and point.source == "explicit"
    assert point.impostor.events == 500 and point.evidence[0].impostor.events == 1501
    # the frames' count is the larger chance: the bound shown is theirs
    assert point.expected_fpir == pytest.approx(fpir_for(1501 / 50_000, 20))


def test_a_small_gallery_gets_the_threshold_of_the_levels_smallest_one() -> None:
    level = replace(LEVELS["normal"], min_people=24)
    at_24 = choose(_curve(2_000_000), 24, level)
    for n in (1, 2, 5, 23):
        point = choose(_curve(2_000_000), n, level)
        assert point.threshold == at_24.threshold
        # the figures are those of the gallery's real size: fewer people, fewer chances
        assert point.people == n and point.expected_fpir < at_24.expected_fpir
    assert choose(_curve(2_000_000), 50, level).threshold < at_24.threshold
    # without the floor, one person would get a looser threshold
    assert choose(_curve(2_000_000), 1, replace(level, min_people=1)).threshold > at_24.threshold


def test_the_shipped_curves_set_the_door_on_photos_and_frames() -> None:
    photos = distance_curve("sface", "centre")
    frames = frame_curve("sface", "centre")
    assert frames is not None and frames.population == "camera frames"
    assert frames.impostor_comparisons > 500_000
    normal = LEVELS["normal"]
    vision = VisionSettings()
    for n in (1, 2, 5, 24, 50, 547):
        point = operating_point(vision, n)
        assert point.threshold == min(
            choose(photos, n, normal).threshold, choose(frames, n, normal).threshold
        )
        assert point.evidence[0].population == "camera frames"
    # small galleries: the 24-person threshold, far below the 1.115 photos alone gave one
    assert operating_point(vision, 1).threshold == operating_point(vision, 24).threshold < 1.03
    # a building: the frames are the stricter population
    assert operating_point(vision, 547).limited_by == "camera frames"
    assert operating_point(vision, 547).threshold < choose(photos, 547, normal).threshold
    # photos compared with photos (verify, enrollment's checks): the photo curve at its size
    alone = choose(photos, 1, replace(normal, min_people=1)).threshold
    assert operating_point(vision, 1, door=False).threshold == alone > 1.1
