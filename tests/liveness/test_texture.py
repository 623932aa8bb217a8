"""The texture test through the real pipeline: a picture tilted far enough to fool the
landmarks still moves as one plane; a live head's turn does not."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from kiosk.config import LivenessSettings
from kiosk.liveness.challenge import COMBINATION, ChallengeRules, Move
from kiosk.liveness.check import ActiveLiveness
from kiosk.liveness.geometry import parallax, tilt
from kiosk.liveness.texture import fit_plane, plane_fit, surround_motion
from tools.liveness.attacks import AttackKind, Camera, Medium, Pose, background, make_medium
from tools.liveness.frames import Seen, find_turns, load_photo, look
from tools.liveness.relief import relief

GATE = LivenessSettings().min_parallax


class _Tilted:
    """A tablet showing a real photo, held 13 degrees back, turned about its vertical
    axis (the pose of a made attack that the landmarks alone let through)."""

    def __init__(self, faces_dir: Path, pipeline) -> None:  # type: ignore[no-untyped-def]
        photo = load_photo(faces_dir / "deepface" / "Marissa" / "img23.jpg", pipeline)
        if photo is None:
            pytest.skip("the photo has no single clear face")
        rng = random.Random(1)
        self.pipeline = pipeline
        self.medium: Medium = make_medium(photo.rgb, photo.face, AttackKind.TABLET, rng)
        self.camera = Camera(480, 360)
        self.z = self.camera.distance_for(self.medium, 0.3 * 480)
        h, w = self.medium.rgb.shape[:2]
        fx, fy = self.medium.face.center
        self.offset = ((0.5 - fx / w) * self.medium.width_m, (0.5 - fy / h) * self.medium.height_m)
        self.scene = background(480, 360, rng)

    def seen(self, yaw: float, t: float = 0.0) -> Seen:
        pose = Pose(yaw, 13.0, -5.0, self.offset[0], self.offset[1], self.z)
        seen = look(self.pipeline, self.camera.render(self.medium, pose, self.scene), t, False)
        assert seen is not None and seen.grey is not None, f"no face at {yaw} degrees"
        return seen


def test_a_tilted_picture_fools_the_landmarks_but_not_the_texture(
    faces_dir: Path, pipeline
) -> None:  # type: ignore[no-untyped-def]
    tablet = _Tilted(faces_dir, pipeline)
    ref = tablet.seen(0.0)
    assert ref.grey is not None
    fooled = 0
    for yaw in (-30.0, -40.0, -45.0):
        cur = tablet.seen(yaw)
        assert cur.grey is not None
        side = parallax(ref.points, cur.points)[0]
        # what the landmark test alone would count as a head turned to its left
        fooled += side > GATE and side >= ChallengeRules().min_ratio * tilt(ref.points, cur.points)
        # a flat picture fits one homography (live turns: 0.37 to 0.91 on the turned frames)
        assert plane_fit(ref.grey, ref.points, cur.grey, cur.points) > 0.9
    assert fooled >= 2


def test_a_live_head_turns_in_front_of_a_room_that_stays(
    krzysiek: tuple[str, list[Seen]],
) -> None:
    name, seen = krzysiek
    turns = find_turns(name, seen, min_peak=0.15)
    assert len(turns) >= 2
    for turn in turns:
        ref = seen[turn.start - 1]
        assert ref.grey is not None
        fits, rooms = [], []
        for cur in seen[turn.start : turn.end + 1]:
            assert cur.grey is not None
            if abs(parallax(ref.points, cur.points)[0]) >= 0.12:
                fit = fit_plane(ref.grey, ref.points, cur.grey, cur.points)
                fits.append(fit.correlation)
                rooms.append(surround_motion(ref.grey, ref.points, cur.grey, fit.warp))
        # the face does not fit one plane, and its surroundings stayed while it moved
        assert sum(f < 0.85 for f in fits) >= 2, (turn, fits)
        assert sum(r > 0.5 for r in rooms) >= 2, (turn, rooms)


def test_the_tilted_picture_scores_under_the_threshold(faces_dir: Path, pipeline) -> None:  # type: ignore[no-untyped-def]
    tablet = _Tilted(faces_dir, pipeline)
    check = ActiveLiveness(LivenessSettings(mode="active", border_check=False), _Left(0))
    t = 0.0
    for _ in range(3):
        s = tablet.seen(0.0, t)
        check.observe_points(t, s.points, None, None, s.grey, s.box)
        t += 0.125
    assert check.assess().move == "left"
    for yaw in (0.0, -20.0, -30.0, -35.0, -40.0, -45.0):
        s = tablet.seen(yaw, t)
        check.observe_points(t, s.points, None, None, s.grey, s.box)
        t += 0.125
    challenge = check.challenge
    assert challenge is not None and len(challenge.turned_scores) >= 2
    assert max(challenge.turned_scores) < COMBINATION.threshold, challenge.turned


class _Left(random.Random):
    def choice(self, seq):  # type: ignore[no-untyped-def]
        return Move.LEFT if Move.LEFT in seq else seq[0]


@pytest.mark.parametrize("with_frames", [True, False])
def test_the_check_stops_the_picture_only_with_its_frames(
    with_frames: bool,
    faces_dir: Path,
    pipeline,  # type: ignore[no-untyped-def]
) -> None:
    tablet = _Tilted(faces_dir, pipeline)
    check = ActiveLiveness(LivenessSettings(mode="active", count=1, border_check=False), _Left(0))
    t = 0.0
    for _ in range(3):
        s = tablet.seen(0.0, t)
        check.observe_points(t, s.points, None, image=s.grey if with_frames else None)
        t += 0.125
    assert check.assess().move == "left"
    for yaw in (-10.0, -20.0, -30.0, -35.0, -40.0, -40.0, -45.0, -45.0):
        s = tablet.seen(yaw, t)
        check.observe_points(t, s.points, None, image=s.grey if with_frames else None)
        t += 0.125
    verdict = check.assess()
    if with_frames:
        assert verdict.pending and not verdict.live  # still waiting for a real turn
        challenge = check.challenge
        assert challenge is not None and challenge.status.flat_frames >= 2
    else:  # the landmarks alone take the tilted tablet for a turning head
        assert verdict.live


def test_tracked_points_show_a_heads_relief_and_not_a_pictures(
    faces_dir: Path, pipeline, krzysiek: tuple[str, list[Seen]]
) -> None:  # type: ignore[no-untyped-def]
    """The denser geometric cue (tools.liveness.relief, measured and not kept): the points
    in the middle of a turning head move further the asked way than one plane through the
    rest; on a flat picture tilted as far they do not (tracking noise only)."""
    tablet = _Tilted(faces_dir, pipeline)
    ref = tablet.seen(0.0)
    assert ref.grey is not None
    flat = []
    for yaw in (-30.0, -40.0, -45.0):
        cur = tablet.seen(yaw)
        assert cur.grey is not None
        flat.append(relief(ref.grey, ref.points, cur.grey, cur.points, 1.0))
    assert all(abs(v) < 0.03 for v in flat if v == v), flat
    name, seen = krzysiek
    heads = []
    for turn in find_turns(name, seen, min_peak=0.15):
        before = seen[turn.start - 1]
        assert before.grey is not None
        sign = 1.0 if turn.direction == "left" else -1.0
        for cur in seen[turn.start : turn.end + 1]:
            assert cur.grey is not None
            if parallax(before.points, cur.points)[0] * sign >= GATE:
                heads.append(relief(before.grey, before.points, cur.grey, cur.points, sign))
    assert sum(v > 0.05 for v in heads) >= 3, heads
