"""Fixtures for the use-case tests: a real SQLite store and, for the logic tests, a small
fake face analyzer (the real pipeline is used in test_services_real_photos.py)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from kiosk.config import Settings
from kiosk.domain.faces import Box, DetectedFace, FaceResult, ImageArray, ModelInfo
from kiosk.errors import InputError
from kiosk.services.accounts import AccountService, Actor
from kiosk.storage.records import Role
from kiosk.storage.store import Store, open_store

PASSWORD = "Corr3ct-horse-battery"


def identity_vector(identity: int) -> np.ndarray:
    v = np.random.default_rng(identity).standard_normal(128).astype(np.float32)
    return v / np.linalg.norm(v)


@dataclass(frozen=True)
class FakePhoto:
    """What a fake photo shows: faces of these identities, with this chip and pose."""

    identities: tuple[int, ...] = (1,)
    size: float = 200.0
    brightness: int = 128
    blurred: bool = False
    yaw: float = 0.0  # nose offset / eye distance


def frontal_landmarks(box: Box, yaw: float = 0.0) -> np.ndarray:
    w = box.width
    x, y = box.x1, box.y1
    left_eye, right_eye = (x + 0.3 * w, y + 0.4 * w), (x + 0.7 * w, y + 0.4 * w)
    nose = (x + 0.5 * w + yaw * 0.4 * w, y + 0.55 * w)
    return np.array(
        [left_eye, right_eye, nose, (x + 0.35 * w, y + 0.7 * w), (x + 0.65 * w, y + 0.7 * w)],
        dtype=np.float32,
    )


def chip_for(photo: FakePhoto, seed: int) -> ImageArray:
    rng = np.random.default_rng(seed)
    if photo.blurred:
        base = np.full((150, 150), photo.brightness, dtype=np.float64)
        base += np.linspace(-70, 70, 150)[None, :]  # smooth: contrast but no edges
    else:
        base = photo.brightness + rng.normal(0, 30, (150, 150))
    grey = np.clip(base, 0, 255).astype(np.uint8)
    return np.repeat(grey[:, :, None], 3, axis=2)


@dataclass
class FakeAnalyzer:
    """Stands in for ``FacePipeline``: the 'image' is an index into ``photos``."""

    photos: list[FakePhoto] = field(default_factory=list)
    model_info: ModelInfo = ModelInfo("fake", "1", "f" * 64)

    def analyze(self, rgb: ImageArray) -> list[FaceResult]:
        photo = self.photos[int(rgb[0, 0, 0])]
        results = []
        for i, identity in enumerate(photo.identities):
            box = Box(10 + 300 * i, 10, 10 + 300 * i + photo.size, 10 + photo.size)
            face = DetectedFace(box, 0.999, frontal_landmarks(box, photo.yaw))
            results.append(FaceResult(face, chip_for(photo, identity), identity_vector(identity)))
        return results


@dataclass
class FakeFiles:
    """Photo 'files' for the fake analyzer: paths under tmp that map to FakePhotos."""

    root: Path
    analyzer: FakeAnalyzer
    index: dict[Path, int] = field(default_factory=dict)

    def add(self, name: str, photo: FakePhoto) -> Path:
        self.analyzer.photos.append(photo)
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"fake " + name.encode())  # each photo has its own content
        self.index[path] = len(self.analyzer.photos) - 1
        return path

    def load(self, path: Path) -> ImageArray:
        if path not in self.index:
            raise InputError(f"{path}: no such file; check the path")
        image = np.zeros((64, 64, 3), dtype=np.uint8)  # above the smallest face size
        image[0, 0, 0] = self.index[path]
        return image


@pytest.fixture()
def settings(tmp_path: Path) -> Settings:
    home = tmp_path / "home"
    home.mkdir()
    return Settings(home=home)


@pytest.fixture()
def store(settings: Settings) -> Iterator[Store]:
    s = open_store(settings)
    yield s
    s.close()


@pytest.fixture()
def admin(store: Store) -> Actor:
    accounts = AccountService(store)
    accounts.add_admin(None, "root", PASSWORD, Role.ADMIN)
    return accounts.authenticate("root", PASSWORD)


@pytest.fixture()
def files(tmp_path: Path) -> FakeFiles:
    root = tmp_path / "photos"
    root.mkdir()
    return FakeFiles(root, FakeAnalyzer())
