"""Golden checks with the real models on real photos, and the main-face rule."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kiosk.config import VisionSettings
from kiosk.domain.faces import Box, DetectedFace
from kiosk.vision.calibration import operating_point
from kiosk.vision.imageio import load_image
from kiosk.vision.pipeline import main_face_index

#: one comparison at the shipped level (a gallery of one person)
PAIR_THRESHOLD = operating_point(VisionSettings(), 1).threshold


def lfw_pairs(root: Path) -> list[tuple[Path, Path, bool]]:
    """LFW's pairs.txt: ``name i j`` (same person) or ``name1 i name2 j`` (different)."""
    pairs = []
    for line in (root / "pairs.txt").read_text().split("\n")[1:]:
        f = line.split()
        if len(f) == 3:
            a, b = (root / f[0] / f"{f[0]}_{int(n):04d}.jpg" for n in f[1:])
            pairs.append((a, b, True))
        elif len(f) == 4:
            a = root / f[0] / f"{f[0]}_{int(f[1]):04d}.jpg"
            b = root / f[2] / f"{f[2]}_{int(f[3]):04d}.jpg"
            pairs.append((a, b, False))
    return pairs


def _face(x1: float, y1: float, x2: float, y2: float) -> DetectedFace:
    return DetectedFace(Box(x1, y1, x2, y2), 0.99, np.zeros((5, 2), np.float32))


def test_main_face_is_largest_visible() -> None:
    faces = [_face(10, 10, 60, 70), _face(100, 80, 200, 200)]
    assert main_face_index(faces, 250, 250) == 1
    # A bystander whose box runs far past the border loses to the centred subject.
    cut = [_face(-120, 40, 90, 300), _face(80, 70, 170, 180)]
    assert main_face_index(cut, 250, 250) == 1
    assert main_face_index([], 250, 250) is None
    # Only faces inside the decision region count.
    region = Box(0, 0, 80, 80)
    assert main_face_index(faces, 250, 250, region) == 0


def _main_embedding(pipeline, path: Path) -> np.ndarray:  # type: ignore[no-untyped-def]
    rgb = load_image(path)
    results = pipeline.analyze(rgb)
    idx = main_face_index([r.face for r in results], rgb.shape[1], rgb.shape[0])
    assert idx is not None, f"no face in {path}"
    return results[idx].embedding


def test_golden_lfw_pairs(pipeline, faces_dir: Path) -> None:  # type: ignore[no-untyped-def]
    pairs = lfw_pairs(faces_dir / "lfw_dev")
    same = [p for p in pairs if p[2]][:6]
    diff = [p for p in pairs if not p[2]][:6]
    for a, b, is_same in same + diff:
        d = float(np.linalg.norm(_main_embedding(pipeline, a) - _main_embedding(pipeline, b)))
        if is_same:
            assert d < PAIR_THRESHOLD, (a.name, b.name, d)
        else:
            assert d > PAIR_THRESHOLD, (a.name, b.name, d)


def test_multi_face_photo_gives_every_face(pipeline, faces_dir: Path) -> None:  # type: ignore[no-untyped-def]
    rgb = load_image(faces_dir / "face_recognition/_multi_face/knn_obama_and_biden.jpg")
    results = pipeline.analyze(rgb)
    assert len(results) >= 2
    for r in results:
        assert r.chip.shape == (112, 112, 3)  # SFace's aligned chip
        assert r.embedding.shape == (128,) and r.embedding.dtype == np.float32
        assert r.face.landmarks.shape == (5, 2)
    obama = _main_embedding(pipeline, faces_dir / "face_recognition/obama/tests_obama.jpg")
    nearest = min(float(np.linalg.norm(r.embedding - obama)) for r in results)
    assert nearest < PAIR_THRESHOLD


@pytest.mark.parametrize("size", [240, 480, 1080])
def test_resolutions_agree(pipeline, faces_dir: Path, size: int) -> None:  # type: ignore[no-untyped-def]
    ref = _main_embedding(pipeline, faces_dir / "face_recognition/obama/ex_obama-720p.jpg")
    other = _main_embedding(pipeline, faces_dir / f"face_recognition/obama/ex_obama-{size}p.jpg")
    # the same photo at another resolution lands far closer than any stranger (the
    # smallest stranger distance on the development photos is 0.88)
    assert float(np.linalg.norm(ref - other)) < 0.5
