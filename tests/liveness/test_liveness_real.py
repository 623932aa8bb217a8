"""The liveness check through the real pipeline (MTCNN landmarks, embeddings) on made
attacks rendered from real photos and on the real clips of ../shared/faces/video/liveness."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from kiosk.config import LivenessSettings
from kiosk.liveness.attacks import AttackKind, Strategy
from kiosk.liveness.check import ActiveLiveness
from kiosk.liveness.evaluate import (
    Photo,
    Seen,
    find_turns,
    genuine_challenges,
    load_photo,
    read_clip,
    run_attack,
)

ACTIVE = LivenessSettings(mode="active")
FPS = 8.0


def _clip(faces_dir: Path, kind: str, name: str) -> Path:
    path = faces_dir / "video" / "liveness" / kind / name
    if not path.is_file():
        pytest.skip(f"{path} is missing")
    return path


@pytest.fixture(scope="module")
def photos(faces_dir: Path, pipeline) -> list[Photo]:  # type: ignore[no-untyped-def]
    names = ("Angelina/img1.jpg", "Jack/img16.jpg", "Mark/img13.jpg", "Sundar/img24.jpg")
    loaded = (load_photo(faces_dir / "deepface" / name, pipeline) for name in names)
    out = [photo for photo in loaded if photo is not None]
    if len(out) < 2:
        pytest.skip("not enough photos with one face")
    return out


@pytest.mark.parametrize("kind", list(AttackKind))
def test_made_attack_following_the_prompt_is_denied(kind: AttackKind, photos, pipeline) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(7 + list(AttackKind).index(kind))
    quick = LivenessSettings(mode="active", time_limit_seconds=3.0)  # fewer frames to render
    for _ in range(4):  # renders the pipeline does not recognise never reach liveness
        photo = photos[rng.randrange(len(photos))]
        attempt = run_attack(
            pipeline, photo, kind, Strategy.FOLLOW, quick, rng, (400, 300), FPS, embed_every=4
        )
        if attempt.reached:
            break
    assert attempt.reached, "the made attack was never recognised as the photo's person"
    assert not attempt.active_live, attempt.reason
    assert "liveness failed" in attempt.reason


def test_genuine_head_turns_answer_the_challenge(krzysiek: tuple[str, list[Seen]]) -> None:
    name, seen = krzysiek
    assert all(s.grey is not None for s in seen)  # the texture test runs too
    turns = find_turns(name, seen, min_peak=0.15)
    assert {t.direction for t in turns} == {"left", "right"}
    accepted, seconds, details = genuine_challenges({name: seen}, turns, ACTIVE)
    assert accepted and all(accepted), details
    assert max(seconds) < ACTIVE.time_limit_seconds


def test_phone_replay_clip_is_denied(faces_dir: Path, pipeline) -> None:  # type: ignore[no-untyped-def]
    path = _clip(faces_dir, "attack", "lestari_fake.mp4")
    seen = read_clip(pipeline, path, FPS, embed_every=2)
    assert len(seen) > 10
    active = ActiveLiveness(ACTIVE, random.Random(3))
    for i, s in enumerate(seen):
        active.observe_points(s.time, s.points, s.embedding)
        if i == 2:
            assert active.assess().pending
    # the clip is shorter than the time limit: hold its last frame until time runs out
    last = seen[-1]
    for k in range(1, int(FPS * ACTIVE.time_limit_seconds) + 2):
        t = last.time + k / FPS
        jitter = last.points + np.random.default_rng(k).normal(0, 0.3, last.points.shape)
        active.observe_points(t, jitter, None)
    verdict = active.assess()
    assert not verdict.live and not verdict.pending and "liveness failed" in verdict.detail
