"""The decision policy: which face, how many agreeing recognitions, cooldown."""

from __future__ import annotations

import pytest

from kiosk.domain.faces import Box
from kiosk.domain.policy import Vote, Voter, VotingRule, choose_face


def test_choose_face_takes_the_largest_face_inside_the_region() -> None:
    small = Box(10, 10, 60, 60)
    large = Box(100, 100, 300, 300)
    outside = Box(560, 10, 640, 400)  # larger still, but its centre is right of the region
    assert choose_face([small, large, outside], 640, 480, (0.0, 0.0, 0.8, 1.0)) == 1
    assert choose_face([outside], 640, 480, (0.0, 0.0, 0.8, 1.0)) is None
    assert choose_face([], 640, 480) is None


def test_a_single_lucky_frame_never_decides() -> None:
    voter = Voter(VotingRule(needed=3, window=5, seconds=2.0))
    assert voter.add(Vote(0.0, 7, 0.4)) is None
    assert voter.add(Vote(0.1, None, 0.8)) is None
    assert voter.add(Vote(0.2, 7, 0.4)) is None
    verdict = voter.add(Vote(0.3, 7, 0.5))
    assert verdict is not None
    assert verdict.person_id == 7 and verdict.votes == 3 and not verdict.repeat
    assert verdict.distance == pytest.approx(0.433, abs=1e-3)


def test_unknown_is_denied_after_the_same_evidence() -> None:
    voter = Voter(VotingRule(needed=3, window=5, seconds=2.0))
    assert voter.add(Vote(0.0, None, 0.9)) is None
    assert voter.add(Vote(0.1, None, 0.9)) is None
    verdict = voter.add(Vote(0.2, None, 0.9))
    assert verdict is not None and verdict.person_id is None


def test_old_recognitions_do_not_count() -> None:
    voter = Voter(VotingRule(needed=3, window=5, seconds=2.0))
    voter.add(Vote(0.0, 7, 0.4))
    voter.add(Vote(0.5, 7, 0.4))
    assert voter.add(Vote(3.0, 7, 0.4)) is None  # the first two are older than 2 s
    assert voter.pending == 1


def test_only_the_last_window_counts() -> None:
    voter = Voter(VotingRule(needed=3, window=5, seconds=10.0))
    for t, person in enumerate([7, 8, 8, 9, 9, 7]):
        assert voter.add(Vote(float(t), person, 0.4)) is None
    # 7 has three recognitions in all, but only two among the last five
    assert voter.add(Vote(6.0, 7, 0.4)) is None
    verdict = voter.add(Vote(7.0, 7, 0.4))
    assert verdict is not None and verdict.person_id == 7


def test_cooldown_marks_repeats_and_ends() -> None:
    voter = Voter(VotingRule(needed=2, window=3, seconds=2.0, cooldown=10.0))
    voter.add(Vote(0.0, 7, 0.4))
    first = voter.add(Vote(0.1, 7, 0.4))
    assert first is not None and not first.repeat
    voter.add(Vote(5.0, 7, 0.4))
    again = voter.add(Vote(5.1, 7, 0.4))
    assert again is not None and again.repeat
    voter.add(Vote(10.5, 7, 0.4))
    later = voter.add(Vote(10.6, 7, 0.4))
    assert later is not None and not later.repeat
    # another person is not held back by 7's cooldown
    voter.add(Vote(11.0, 8, 0.4))
    other = voter.add(Vote(11.1, 8, 0.4))
    assert other is not None and other.person_id == 8 and not other.repeat


def test_rule_rejects_impossible_settings() -> None:
    with pytest.raises(ValueError):
        VotingRule(needed=6, window=5)


def test_decision_and_door_settings_from_the_config_file_and_environment(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from kiosk.config import Settings
    from kiosk.errors import ConfigError

    (tmp_path / "kiosk.toml").write_text(
        "[decision]\nvotes_needed = 4\nvote_window = 6\nregion = [0.2, 0, 0.8, 1]\n"
        '[door]\nkind = "webhook"\nurl = "http://door.local/open"\n'
        "[capture]\nwidth = 1280\nheight = 720\n"
    )
    env = {"KIOSK_HOME": str(tmp_path), "KIOSK_DECISION_COOLDOWN_SECONDS": "30"}
    settings = Settings.load(env)
    assert settings.decision.votes_needed == 4 and settings.decision.vote_window == 6
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
