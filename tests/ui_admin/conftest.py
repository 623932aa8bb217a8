"""Fixtures for the admin console tests: a real database in a temporary KIOSK_HOME, the
real pipeline (loaded once per session, ``tests/conftest.py``), photos from
../shared/faces, and a check that no test leaves a thread running."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kiosk.config import Settings
from kiosk.services.accounts import Actor
from kiosk.services.admin_console import AdminConsole
from kiosk.storage.records import Role
from kiosk.storage.store import Store, open_store
from tests.support.accounts import ADMIN, PASSWORD


@pytest.fixture(autouse=True)
def no_thread_left() -> Iterator[None]:
    """Fail a test that leaves a worker, camera or loader thread running (Python threads
    and the console's QThreads)."""
    from kiosk.ui.admin.tasks import running_threads

    before = set(threading.enumerate())
    yield
    left = [t for t in threading.enumerate() if t not in before and t.is_alive()]
    left = [t for t in left if not t.daemon or t.name == "camera"]
    assert not left, f"threads left running: {left}"
    assert not running_threads(), f"QThreads left running: {running_threads()}"


@pytest.fixture
def settings(kiosk_home: Path) -> Settings:
    return Settings.load()


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    s = open_store(settings)
    yield s
    s.close()


@pytest.fixture
def console(store: Store, settings: Settings) -> AdminConsole:
    """The console's use cases without the face pipeline (tests that enroll use
    ``vision_console``)."""
    return AdminConsole(store, settings)


@pytest.fixture
def vision_console(console: AdminConsole, pipeline: Any) -> AdminConsole:
    """The console with the real pipeline (loaded once per session)."""
    console._analyzer = pipeline
    return console


@pytest.fixture
def admin(console: AdminConsole) -> Actor:
    return console.create_first_admin(ADMIN, PASSWORD, PASSWORD)


@pytest.fixture
def auditor(console: AdminConsole, admin: Actor) -> Actor:
    console.accounts.add_admin(admin, "reader", "Aud1tor-only!", Role.AUDITOR)
    return Actor("reader", Role.AUDITOR)


@pytest.fixture
def photos(faces_dir: Path) -> Path:
    return faces_dir / "face_recognition"
