"""The passive network as the check's second opinion: it denies a face it scores
confidently fake, never lets one in by itself, and says its score in the log. The logic
with given scores; then the real network on real frames through the real check."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from kiosk.config import LivenessSettings
from kiosk.domain.faces import Box, DetectedFace, FaceResult
from kiosk.liveness.check import ActiveLiveness, PassiveLiveness
from kiosk.liveness.passive import MAX_FRAMES, PICTURE_MESSAGE
from kiosk.vision.antispoof import PassiveScorer
from kiosk.vision.detector import FaceDetector


@dataclass
class _Frame:
    time: float
    rgb: np.ndarray


def _face(box: Box, detected: DetectedFace | None = None) -> FaceResult:
    landmarks = np.array([[40, 40], [60, 40], [50, 52], [43, 62], [57, 62]], np.float64)
    face = detected or DetectedFace(box, 0.99, landmarks)
    return FaceResult(face, np.zeros((150, 150, 3), np.uint8), np.zeros(128, np.float32))


def test_a_face_scored_confidently_fake_is_denied_and_a_real_score_lets_nobody_skip() -> None:
    box = Box(30, 30, 70, 70)
    rgb = np.zeros((100, 100, 3), np.uint8)
    calls: list[int] = []

    def fake(_rgb: np.ndarray, _box: Box) -> float:
        calls.append(1)
        return 0.05

    check = ActiveLiveness(LivenessSettings(), random.Random(1), passive=fake)
    for i in range(7):  # one frame in two is scored: 4 scores
        check.observe(_Frame(i / 8, rgb), _face(box))
    verdict = check.assess()
    assert not verdict.live and not verdict.pending and verdict.reason == PICTURE_MESSAGE
    assert "passive model scored the face 0.05" in verdict.detail
    # a confident "real" does not pass the active check: the challenge is still asked
    check = ActiveLiveness(LivenessSettings(), random.Random(1), passive=lambda r, b: 0.99)
    for i in range(7):
        check.observe(_Frame(i / 8, rgb), _face(box))
    assert check.assess().pending
    # at most MAX_FRAMES frames of an attempt are scored; switched off, none
    calls.clear()
    check = ActiveLiveness(LivenessSettings(), random.Random(1), passive=lambda r, b: 0.9)
    check._passive.score = fake  # the same counter
    for i in range(40):
        check.observe(_Frame(i / 8, rgb), _face(box))
    assert len(calls) == MAX_FRAMES
    calls.clear()
    off = ActiveLiveness(LivenessSettings(passive_model=False), random.Random(1), passive=fake)
    for i in range(7):
        off.observe(_Frame(i / 8, rgb), _face(box))
    assert calls == [] and off.assess().pending


def _frames(
    path: Path, detector: FaceDetector, count: int
) -> list[tuple[np.ndarray, DetectedFace]]:
    if not path.is_file():
        pytest.skip(f"{path} is missing")
    cap = cv2.VideoCapture(str(path))
    out: list[tuple[np.ndarray, DetectedFace]] = []
    try:
        while len(out) < count:
            ok, bgr = cap.read()
            if not ok:
                break
            rgb = np.ascontiguousarray(bgr[:, :, ::-1])
            faces = detector.detect(rgb)
            if faces:
                out.append((rgb, max(faces, key=lambda f: f.box.area)))
    finally:
        cap.release()
    assert len(out) == count, f"{path.name}: {len(out)} frames with a face"
    return out


def test_the_real_network_denies_a_phone_replay_and_passes_a_live_face(faces_dir: Path) -> None:
    scorer = PassiveScorer()
    scorer.load()
    detector = FaceDetector(torch.device("cpu"))
    root = faces_dir / "video" / "liveness"
    settings = LivenessSettings(mode="passive")
    for clip, live in (("attack/lestari_fake.mp4", False), ("genuine/lestari_real.mp4", True)):
        check = PassiveLiveness(settings, scorer.score)
        verdicts = []
        for i, (rgb, face) in enumerate(_frames(root / clip, detector, 6)):
            check.observe(_Frame(i / 8, rgb), _face(face.box, face))
            verdicts.append(check.assess())  # asked at every frame, as in the kiosk
            if not verdicts[-1].pending:
                break
        verdict = verdicts[-1]
        assert not verdict.pending and verdict.live is live, (clip, verdict)
        assert "passive model" in verdict.detail


def test_the_kiosk_loads_the_passive_network_unless_it_is_switched_off(tmp_path: Path) -> None:
    from dataclasses import replace

    from kiosk.app import make_liveness
    from kiosk.config import Settings

    settings = Settings.load({"KIOSK_HOME": str(tmp_path)})
    check = make_liveness(settings)
    assert isinstance(check, ActiveLiveness) and check._passive.score is not None
    off = replace(settings, liveness=replace(settings.liveness, passive_model=False))
    check = make_liveness(off)
    assert isinstance(check, ActiveLiveness) and check._passive.score is None
