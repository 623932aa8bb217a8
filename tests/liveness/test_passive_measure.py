"""The passive-score measurement's own parts: edge-less prints really fill the frame, the
made attacks' old renderer is unchanged by them, and attempts are cut into 1 s windows."""

from __future__ import annotations

import random

import numpy as np
import pytest

from kiosk.domain.faces import Box
from tools.liveness.attacks import Attacker, AttackKind, Camera, Strategy, make_medium
from tools.liveness.edgeless import EdgelessAttacker, covers
from tools.liveness.passive_eval import windows


def _photo(rng: random.Random) -> tuple[np.ndarray, Box]:
    w, h = rng.randint(200, 500), rng.randint(200, 500)
    photo = np.full((h, w, 3), 128, np.uint8)
    fw = rng.uniform(0.25, 0.6) * w
    x1, y1 = rng.uniform(0, w - fw), rng.uniform(0, h - fw)
    return photo, Box(x1, y1, x1 + fw, y1 + fw)


@pytest.mark.parametrize("seed", range(501, 521))
def test_an_edgeless_print_covers_the_frame_while_it_answers(seed: int) -> None:
    rng = random.Random(seed)
    photo, face = _photo(rng)
    camera = Camera(480, 360, fov_deg=rng.uniform(55, 75))
    medium = make_medium(photo, face, AttackKind.PRINT, rng)
    attacker = EdgelessAttacker(camera, medium, rng)
    poses = [attacker.pose(0.25 + k / 8, "left", 0.0) for k in range(8)]
    covered = sum(covers(camera, medium, p) for p in poses)
    assert covered >= 6  # the eval scores only covered frames and redraws below half


def test_a_print_held_as_before_shows_its_edge() -> None:
    # the ordinary attacker (face 16-36 % of the frame) keeps the paper's edge in view:
    # covers() must say so, or the edge-less count would include framed prints
    rng = random.Random(501)
    photo, face = _photo(rng)
    camera = Camera(480, 360)
    medium = make_medium(photo, face, AttackKind.PRINT, rng)
    attacker = Attacker(camera, medium, Strategy.HANDHELD, rng)
    assert not covers(camera, medium, attacker.pose(0.5, None, 0.0))


def test_windows_of_one_second_every_half_second() -> None:
    times = [i / 8 for i in range(24)]  # 3 s at 8 frames a second
    scores = [1.0] * 8 + [0.0] * 16
    means, mins = windows(times, scores)
    assert len(means) == 4  # starts 0, 0.5, 1.0, 1.5 (the last frame is at 2.875 s)
    assert means[0] == 1.0 and means[1] == 0.5 and means[2] == 0.0
    assert mins[0] == 1.0 and mins[1] == 0.0
    assert windows([0.0], [0.7]) == ([0.7], [0.7])
    assert windows([], []) == ([], [])


def test_merged_runs_count_each_made_attack_once(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    import json

    from tools.liveness.passive_eval import main

    def made(seed: int, score: float) -> dict[str, object]:
        return {
            "index": 0,
            "seed": seed,
            "kind": "phone",
            "strategy": "follow",
            "photo": "a.jpg",
            "frames": 8,
            "scored": 8,
            "mean": score,
            "min": score,
            "max": score,
        }

    clip = {
        "name": "a.mp4",
        "kind": "genuine",
        "frames": 2,
        "faces": 2,
        "times": [0, 1],
        "scores": [0.9, 0.1],
        "windows_mean": [0.95, 0.1],
        "windows_min": [0.9, 0.1],
    }
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps({"clips": [clip], "made": [made(1, 0.1), made(2, 0.95)]}))
    b.write_text(json.dumps({"clips": [], "made": [made(2, 0.95), made(3, 0.5)]}))
    assert main(["--merge", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    assert "3 made attacks from 2 runs" in out
    assert "made phone (mean) | 1/3" in out  # one under 0.2
    assert "genuine windows (mean) | 1/2" in out
    (tmp_path / "bad.json").write_text("{")
    assert main(["--merge", str(tmp_path / "bad.json")]) == 2
    assert "is not a passive_eval --json file" in capsys.readouterr().err
