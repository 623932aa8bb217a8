"""Fixtures for the kiosk screen tests: a real database in a temporary KIOSK_HOME, people
enrolled with the real pipeline, small videos from ../shared/faces, and a check that no
test leaves a thread running."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import cv2
import pytest

from kiosk.config import Settings
from kiosk.domain.access import AccessEvent
from tests.support.videos import framed, write_video


@pytest.fixture(autouse=True)
def no_thread_left() -> Iterator[None]:
    """Fail a test that leaves a camera, recognition or door thread running."""
    before = set(threading.enumerate())
    yield
    left = [t for t in threading.enumerate() if t not in before and t.is_alive()]
    left = [t for t in left if not t.daemon or t.name == "camera"]
    assert not left, f"threads left running: {left}"


@pytest.fixture
def settings(kiosk_home: Path) -> Settings:
    """Settings for a test kiosk: decided on few frames, quickly even on a loaded machine."""
    base = Settings.load()
    return dataclasses.replace(
        base,
        kiosk_id="test-kiosk",
        # at most three frames: the shared 2-core test machine can take seconds per
        # recognition (there it decides on two); the rule itself is tested in tests/unit
        decision=dataclasses.replace(base.decision, max_frames=3),
        capture=dataclasses.replace(base.capture, retry_max_seconds=0.5, stall_seconds=5.0),
        screen=dataclasses.replace(base.screen, sounds=False, result_seconds=3.0),
    )


@pytest.fixture
def faces(faces_dir: Path) -> Path:
    return faces_dir / "face_recognition"


@pytest.fixture
def make_video(tmp_path: Path, faces: Path) -> Callable[..., str]:
    def make(photos: Sequence[str], name: str = "visit.avi", **kwargs: Any) -> str:
        return str(write_video(tmp_path / name, [faces / p for p in photos], **kwargs))

    return make


@pytest.fixture
def enroll(settings: Settings, pipeline: Any, faces: Path) -> Callable[..., int]:
    """Enroll a person with the real pipeline into the test database; returns the id."""
    from kiosk.storage.store import open_store

    def do(name: str, badge: str, photos: Sequence[str], **person: Any) -> int:
        with open_store(settings) as store, store.unit_of_work(write=True) as uow:
            added = uow.people.add(name=name, badge=badge, **person)
            for photo in photos:
                rgb = cv2.cvtColor(framed(faces / photo, (640, 480)), cv2.COLOR_BGR2RGB)
                found = pipeline.detect(rgb)
                assert found, f"no face in {photo}"
                result = pipeline.analyze(rgb, [found[0]])[0]
                uow.templates.add(
                    added.id, result.embedding, pipeline.model_info, quality=1.0, source=photo
                )
            uow.commit()
        return added.id

    return do


@pytest.fixture
def logged(settings: Settings) -> Callable[[], list[AccessEvent]]:
    """The access log as recorded so far."""
    from kiosk.storage.store import open_store

    def read() -> list[AccessEvent]:
        with open_store(settings) as store, store.unit_of_work() as uow:
            return [row.event for row in uow.events.stream()]

    return read
