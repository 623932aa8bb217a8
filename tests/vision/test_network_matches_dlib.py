"""The PyTorch network reproduces dlib's own descriptors on the same aligned chips."""

from __future__ import annotations

from pathlib import Path

import dlib
import numpy as np
import pytest
import torch

from kiosk.config import VisionSettings
from kiosk.vision import weights
from kiosk.vision.embedder import Embedder
from kiosk.vision.imageio import load_image
from kiosk.vision.pipeline import FacePipeline


@pytest.fixture(scope="module")
def dlib_net() -> dlib.face_recognition_model_v1:
    return dlib.face_recognition_model_v1(str(weights.models_dir() / weights.RESNET_FILE))


@pytest.fixture(scope="module")
def dlib_pipeline() -> FacePipeline:
    """The pipeline with ``[vision] network = "dlib"`` (dlib's chips and network)."""
    return FacePipeline.load(VisionSettings(device="cpu", network="dlib"))


def test_descriptors_match_dlib(dlib_pipeline, faces_dir: Path, dlib_net) -> None:  # type: ignore[no-untyped-def]
    pipeline = dlib_pipeline
    photos = [
        faces_dir / "deepface/Angelina/img1.jpg",
        faces_dir / "face_recognition/obama/tests_obama.jpg",
        faces_dir / "orl/s1/1.pgm",
        faces_dir / "faceapi_bbt/sheldon/sheldon1.png",
    ]
    chips = []
    for photo in photos:
        if not photo.exists():
            continue
        results = pipeline.analyze(load_image(photo))
        assert results, f"no face in {photo}"
        chips.append(results[0].chip)
    assert len(chips) >= 3
    plain = Embedder(torch.device("cpu"), flip_average=False, network_key="dlib")
    ours = plain.embed(chips)
    reference = np.array([np.array(dlib_net.compute_face_descriptor(c)) for c in chips])
    assert np.abs(ours - reference).max() < 1e-4
    # Not normalised, as dlib's: the norms sit around 1.4-1.6.
    assert np.all((np.linalg.norm(ours, axis=1) > 1.0) & (np.linalg.norm(ours, axis=1) < 2.0))


def test_batch_equals_single(pipeline, faces_dir: Path) -> None:  # type: ignore[no-untyped-def]
    chips = [
        r.chip
        for r in pipeline.analyze(
            load_image(faces_dir / "face_recognition/_multi_face/ex_two_people.jpg")
        )
    ]
    assert len(chips) == 2
    batched = pipeline.embed(chips)
    single = np.stack([pipeline.embed([c])[0] for c in chips])
    assert np.abs(batched - single).max() < 1e-4
