"""The decision policy: which face, the same face, when enough frames are in, what they add
up to."""

from __future__ import annotations

import numpy as np
import pytest

from kiosk.domain.faces import Box
from kiosk.domain.policy import (
    DecisionPace,
    Identity,
    RateMeter,
    Recognition,
    choose_face,
    fuse,
    identify,
    same_face,
    vote,
)


def test_choose_face_takes_the_largest_face_inside_the_region() -> None:
    small = Box(10, 10, 60, 60)
    large = Box(100, 100, 300, 300)
    outside = Box(560, 10, 640, 400)  # larger still, but its centre is right of the region
    assert choose_face([small, large, outside], 640, 480, (0.0, 0.0, 0.8, 1.0)) == 1
    assert choose_face([outside], 640, 480, (0.0, 0.0, 0.8, 1.0)) is None
    assert choose_face([], 640, 480) is None


def _rec(
    label: int | None, distance: float = 0.3, quality: float = 1.0, axis: int = 0
) -> Recognition:
    emb = np.zeros(8, np.float32)
    emb[axis] = 1.0
    return Recognition(0.0, emb, quality, label, distance)


def test_the_vote_needs_more_than_half_of_the_frames() -> None:
    assert vote([_rec(7), _rec(None, 0.9), _rec(7, 0.5)]) == Identity(7, 0.4, 3)
    assert vote([_rec(7), _rec(8)]).person_id is None  # a tie names nobody
    assert vote([_rec(7), _rec(None), _rec(8), _rec(None)]).person_id is None
    assert vote([_rec(None, 0.8), _rec(None, 1.0)]) == Identity(None, 0.9, 2)


def test_the_fused_embedding_leans_on_the_good_frames_and_keeps_the_length() -> None:
    good, poor = _rec(7, quality=0.9, axis=0), _rec(None, quality=0.1, axis=1)
    fused = fuse([good, poor])
    assert np.linalg.norm(fused) == pytest.approx(1.0)  # averaging would shorten it
    assert fused[0] == pytest.approx(0.9 / np.hypot(0.9, 0.1))
    plain = fuse([good, poor], weighted=False)
    assert plain[0] == pytest.approx(plain[1])
    tiny = fuse([_rec(7, quality=0.0, axis=0), _rec(7, quality=0.0, axis=1)])
    assert np.all(np.isfinite(tiny))  # a zero quality still counts a little
    with pytest.raises(ValueError):
        fuse([])


def test_identify_searches_the_fused_embedding_once() -> None:
    searched: list[np.ndarray] = []

    def search(embedding: np.ndarray) -> tuple[int | None, float]:
        searched.append(embedding)
        return 7, 0.2

    frames = [_rec(None, 0.9, axis=0), _rec(None, 0.9, axis=0)]
    assert identify(frames, "fused", search) == Identity(7, 0.2, 2)
    assert len(searched) == 1
    assert identify(frames, "vote", search).person_id is None  # no frame named anyone
    with pytest.raises(ValueError):
        identify(frames, "median", search)


def test_the_same_face_moves_a_little_another_face_is_elsewhere_or_another_size() -> None:
    face = Box(100, 100, 200, 220)
    assert same_face(face, Box(140, 110, 240, 230))  # walked a bit
    assert same_face(face, Box(90, 90, 220, 245))  # came closer
    assert not same_face(face, Box(300, 100, 400, 220))  # two widths away
    assert not same_face(face, Box(100, 100, 140, 148))  # far smaller: someone behind


def test_the_pace_decides_within_the_time_on_as_many_frames_as_fit() -> None:
    pace = DecisionPace(seconds=1.5, min_frames=2, max_frames=5)
    # ten recognitions a second: five frames, the fifth taken at 0.4 s
    assert [pace.ready(n, (n - 1) * 0.1, 0.1) for n in range(1, 6)] == [False] * 4 + [True]
    # two a second: the second frame (taken at 0.5 s, decided at 1.0 s); a third frame
    # would be decided at 1.5 s, too close to the promise on a wobbling machine
    assert not pace.ready(1, 0.0, 0.5) and pace.ready(2, 0.5, 0.5)
    for rate in (1.6, 2.0, 2.5, 3.0, 4.0, 6.0, 10.0):
        p = 1 / rate
        n = next(n for n in range(1, 20) if pace.ready(n, (n - 1) * p, p))
        assert n * p <= 1.5 + 1e-9, rate  # decided one period after its last frame
        assert not pace.slow(p)
    assert pace.slow(1 / 1.5) and pace.rate_needed == pytest.approx(1.6)
    with pytest.raises(ValueError):
        DecisionPace(min_frames=3, max_frames=2)


def test_the_rate_meter_prefers_the_recognitions_of_a_face() -> None:
    meter = RateMeter()
    assert meter.period is None
    for t in (0.0, 0.05, 0.10, 0.15):
        meter.add(t, recognised=False)  # an empty corridor: fast
    assert meter.period == pytest.approx(0.05) and meter.samples == 3
    for t in (0.5, 1.0, 1.5):
        meter.add(t, recognised=True)
    assert meter.period == pytest.approx(0.5) and meter.samples == 2


def test_decision_settings_are_checked() -> None:
    from kiosk.config import DecisionSettings
    from kiosk.errors import ConfigError

    with pytest.raises(ConfigError, match="method"):
        DecisionSettings(method="median")
    with pytest.raises(ConfigError, match="mode"):
        DecisionSettings(mode="badge")
    with pytest.raises(ConfigError, match="min_frames"):
        DecisionSettings(min_frames=6)
    with pytest.raises(ConfigError):
        DecisionSettings(decision_seconds=0)


def test_decision_and_door_settings_from_the_config_file_and_environment(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from kiosk.config import Settings
    from kiosk.errors import ConfigError

    (tmp_path / "kiosk.toml").write_text(
        '[decision]\nmethod = "vote"\nmax_frames = 6\nregion = [0.2, 0, 0.8, 1]\n'
        'mode = "badge+face"\n'
        '[door]\nkind = "webhook"\nurl = "http://door.local/open"\n'
        "[capture]\nwidth = 1280\nheight = 720\n"
    )
    env = {"KIOSK_HOME": str(tmp_path), "KIOSK_DECISION_COOLDOWN_SECONDS": "30"}
    settings = Settings.load(env)
    assert settings.decision.method == "vote" and settings.decision.max_frames == 6
    assert settings.decision.mode == "badge+face"
    assert settings.decision.region == (0.2, 0.0, 0.8, 1.0)
    assert settings.decision.cooldown_seconds == 30.0
    assert settings.door.kind == "webhook" and settings.door.url == "http://door.local/open"
    assert (settings.capture.width, settings.capture.height) == (1280, 720)
    assert settings.screen.result_seconds == 4.0  # untouched default
    with pytest.raises(ConfigError, match="region"):
        Settings.load({**env, "KIOSK_DECISION_REGION": "0,0,1"})
    with pytest.raises(ConfigError, match="unknown"):
        (tmp_path / "kiosk.toml").write_text("[door]\nkindd = 'log'\n")
        Settings.load(env)


def test_same_person_is_the_nearest_of_the_recent_frames_within_the_distance() -> None:
    from kiosk.domain.policy import same_person

    a, b, c = np.eye(3, dtype=np.float32)
    turning = np.array([0.6, 0.8, 0.0], np.float32)  # between a and b
    assert same_person([], c, 0.5)  # nothing to compare with yet
    assert same_person([a, turning], b, 0.7)  # followed step by step, not from the first
    assert not same_person([a], b, 0.7)
    assert not same_person([a, turning], c, 1.0)
