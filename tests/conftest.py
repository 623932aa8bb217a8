"""Shared fixtures: the real face photos and one real pipeline per test session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _faces_dir() -> Path:
    env = os.environ.get("KIOSK_FACES_DIR")
    return Path(env) if env else REPO.parent / "shared" / "faces"


@pytest.fixture(scope="session")
def faces_dir() -> Path:
    """``../shared/faces`` (or ``KIOSK_FACES_DIR``): real photos, read-only."""
    path = _faces_dir()
    if not (path / "lfw_dev").is_dir():
        pytest.skip(f"the face photos are not at {path}; set KIOSK_FACES_DIR")
    return path


@pytest.fixture(scope="session")
def pipeline():  # type: ignore[no-untyped-def]
    """The real MTCNN + dlib landmarks + embedding network, loaded once (on the CPU)."""
    from kiosk.config import VisionSettings
    from kiosk.vision.pipeline import FacePipeline

    return FacePipeline.load(VisionSettings(device=os.environ.get("KIOSK_TEST_DEVICE", "cpu")))


@pytest.fixture()
def kiosk_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh KIOSK_HOME (database, key, config) for one test."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("KIOSK_HOME", str(home))
    monkeypatch.delenv("KIOSK_DATABASE_URL", raising=False)
    yield home
