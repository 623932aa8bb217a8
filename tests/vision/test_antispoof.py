"""MiniFASNet, written here from its description, on real frames: a live face scores
real, a phone replay scores fake, and a damaged weight file is one clear error."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from kiosk.domain.faces import Box
from kiosk.errors import ModelFileError
from kiosk.vision.antispoof import ASSETS, NETS, PassiveScorer, crop_box, load_net
from kiosk.vision.detector import FaceDetector


@pytest.fixture(scope="module")
def scorer() -> PassiveScorer:
    s = PassiveScorer()
    s.load()
    return s


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    return FaceDetector(torch.device("cpu"))


def _frame_and_box(path: Path, detector: FaceDetector, index: int = 10) -> tuple[np.ndarray, Box]:
    if not path.is_file():
        pytest.skip(f"{path} is missing")
    cap = cv2.VideoCapture(str(path))
    try:
        for _ in range(index + 1):
            ok, bgr = cap.read()
            assert ok, f"{path.name} has fewer than {index + 1} frames"
    finally:
        cap.release()
    rgb = np.ascontiguousarray(bgr[:, :, ::-1])
    faces = detector.detect(rgb)
    assert faces, f"no face in frame {index} of {path.name}"
    return rgb, max(faces, key=lambda f: f.box.area).box


def test_every_inference_weight_is_loaded_from_both_files() -> None:
    for f in NETS:
        net = load_net(ASSETS / f.name, f.sha256)
        raw = torch.load(ASSETS / f.name, map_location="cpu", weights_only=True)
        assert set(net.state_dict()) == {k.removeprefix("module.") for k in raw}
        out = net(torch.zeros(1, 3, 80, 80))
        assert out.shape == (1, 3)


def test_a_live_face_scores_real(faces_dir: Path, scorer, detector) -> None:  # type: ignore[no-untyped-def]
    rgb, box = _frame_and_box(
        faces_dir / "video" / "liveness" / "genuine" / "liveportrait_d12.mp4", detector
    )
    assert scorer.score(rgb, box) > 0.5


def test_a_replayed_face_scores_fake(faces_dir: Path, scorer, detector) -> None:  # type: ignore[no-untyped-def]
    rgb, box = _frame_and_box(
        faces_dir / "video" / "liveness" / "attack" / "lestari_fake.mp4", detector
    )
    assert scorer.score(rgb, box) < 0.5


def test_a_wrong_checksum_is_one_clear_error(tmp_path: Path) -> None:
    for f in NETS:
        shutil.copy(ASSETS / f.name, tmp_path / f.name)
    damaged = tmp_path / NETS[1].name
    data = bytearray(damaged.read_bytes())
    data[-1] ^= 0xFF
    damaged.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="checksum mismatch") as err:
        PassiveScorer(assets=tmp_path).load()
    assert NETS[1].name in str(err.value) and "\n" not in str(err.value)
    (tmp_path / NETS[0].name).unlink()
    with pytest.raises(ModelFileError, match="missing"):
        PassiveScorer(assets=tmp_path).load()


def test_the_crop_stays_inside_the_frame() -> None:
    # a face at the top-left corner: the 4x box is shifted in, not cut
    x1, y1, x2, y2 = crop_box(Box(0, 0, 50, 60), 4.0, 640, 480)
    assert (x1, y1) == (0, 0) and (x2, y2) == (200, 240)
    # a box too large for the frame: the scale shrinks to fit
    x1, y1, x2, y2 = crop_box(Box(100, 100, 300, 400), 2.7, 640, 480)
    assert 0 <= x1 < x2 <= 640 and 0 <= y1 < y2 <= 480
