"""The border cue (a picture's straight edges around the face) on real images and made
attacks, the rule over an attempt's frames, and what the checks do with it."""

from __future__ import annotations

import random
from pathlib import Path

import cv2
import numpy as np
import pytest

from kiosk.config import LivenessSettings
from kiosk.liveness.check import (
    PICTURE_MESSAGE,
    ActiveLiveness,
    BorderWatch,
    PassiveLiveness,
)
from kiosk.liveness.cues import BORDER_SIDES_NEEDED, Border, border_sides
from kiosk.vision.imageio import load_image
from tools.liveness.attacks import (
    Attacker,
    AttackKind,
    Camera,
    Strategy,
    background,
    camera_effects,
    make_medium,
)
from tools.liveness.frames import load_photo, look

from .heads import HEAD, view

FPS = 8.0
FRAMED = Border(frozenset({"left", "right", "top"}))
OPEN = Border(frozenset({"left"}))


def _sides(pipeline, rgb: np.ndarray) -> int:  # type: ignore[no-untyped-def]
    seen = look(pipeline, rgb, 0.0, embed=False)
    assert seen is not None and seen.box is not None, "no face found"
    return border_sides(rgb, seen.box, seen.points).count


def _small(rgb: np.ndarray) -> np.ndarray:
    scale = 640 / max(rgb.shape[:2])
    if scale >= 1:
        return rgb
    return np.asarray(cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA))


def test_a_tablet_held_up_is_framed_and_a_live_office_is_not(faces_dir: Path, pipeline) -> None:  # type: ignore[no-untyped-def]
    root = faces_dir / "video" / "liveness"
    tablet = root / "attack" / "tablet_screen_F2.jpg"
    office = root / "genuine" / "office_live_T1.jpg"
    if not (tablet.is_file() and office.is_file()):
        pytest.skip("the liveness stills are missing")
    assert _sides(pipeline, _small(load_image(tablet))) >= BORDER_SIDES_NEEDED
    assert _sides(pipeline, _small(load_image(office))) < BORDER_SIDES_NEEDED


def test_portraits_of_live_people_in_rooms_are_not_framed(faces_dir: Path, pipeline) -> None:  # type: ignore[no-untyped-def]
    paths = sorted((faces_dir / "deepface").glob("*/*.jpg"))[::6]
    assert len(paths) >= 8
    sides = [_sides(pipeline, _small(load_image(p))) for p in paths]
    assert max(sides) < BORDER_SIDES_NEEDED, dict(zip((p.name for p in paths), sides, strict=True))


def test_a_screen_replay_is_framed_and_a_live_clip_is_not(faces_dir: Path, pipeline) -> None:  # type: ignore[no-untyped-def]
    root = faces_dir / "video" / "liveness"
    replay, live = root / "attack" / "tranv_fake.mp4", root / "genuine" / "tranv_real.mp4"
    if not (replay.is_file() and live.is_file()):
        pytest.skip("the liveness clips are missing")

    def framed(path: Path) -> list[bool]:
        cap = cv2.VideoCapture(str(path))
        out, i = [], 0
        while len(out) < 8:
            ok, bgr = cap.read()
            if not ok:
                break
            i += 1
            if i % 40 == 0:  # every 1.3 s or so
                rgb = _small(np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)))
                out.append(_sides(pipeline, rgb) >= BORDER_SIDES_NEEDED)
        cap.release()
        return out

    attack, genuine = framed(replay), framed(live)
    assert len(attack) == len(genuine) == 8
    assert sum(attack) >= 5 and sum(genuine) == 0, (attack, genuine)


@pytest.mark.parametrize("kind", [AttackKind.PHONE, AttackKind.PRINT])
def test_made_attacks_held_upright_are_framed(kind: AttackKind, faces_dir: Path, pipeline) -> None:  # type: ignore[no-untyped-def]
    photo = load_photo(faces_dir / "deepface" / "Angelina" / "img1.jpg", pipeline)
    assert photo is not None
    rng = random.Random(11)
    framed = 0
    for _ in range(6):
        camera = Camera(480, 360)
        medium = make_medium(photo.rgb, photo.face, kind, rng)
        attacker = Attacker(camera, medium, Strategy.HANDHELD, rng)
        attacker.face_px = 0.2 * camera.width  # held far enough for its edges to show
        attacker.z0 = camera.distance_for(medium, attacker.face_px)
        frame = camera.render(medium, attacker.pose(0.0, None, 0.0), background(480, 360, rng))
        framed += _sides(pipeline, camera_effects(frame, rng)) >= BORDER_SIDES_NEEDED
    assert framed >= 4


def test_the_rule_over_an_attempt_needs_repeated_framed_frames() -> None:
    watch = BorderWatch(True)
    watch.add(FRAMED)
    assert not watch.spoof  # one frame is not enough
    watch.add(FRAMED)
    assert watch.spoof
    watch.reset()
    for border in [FRAMED, FRAMED] + [OPEN] * 5:
        watch.add(border)
    assert not watch.spoof  # 2 of 7: less than a third
    off = BorderWatch(False)
    for _ in range(5):
        off.add(FRAMED)
    assert not off.spoof and off.seen == 0


def test_a_framed_face_is_denied_before_any_challenge_with_what_to_do() -> None:
    check = ActiveLiveness(LivenessSettings(mode="active"), random.Random(1))
    for i in range(3):
        check.observe_points(i / FPS, view(HEAD), None, FRAMED if i else OPEN)
    verdict = check.assess()
    assert not verdict.live and not verdict.pending
    assert verdict.reason == PICTURE_MESSAGE
    assert "picture's edges framed the face on 2 of 3 frames" in verdict.detail
    # switched off, the same frames start the challenge
    off = ActiveLiveness(LivenessSettings(mode="active", border_check=False), random.Random(1))
    for i in range(3):
        off.observe_points(i / FPS, view(HEAD), None, FRAMED)
    assert off.assess().pending
    passive = PassiveLiveness(LivenessSettings(mode="passive"))
    for i in range(3):
        passive.observe_points(i / FPS, view(HEAD), None, FRAMED)
    assert passive.assess().reason == PICTURE_MESSAGE
