"""Fixtures for the admin console tests: a real database in a temporary KIOSK_HOME, the
console's services built by the composition root, the real pipeline (loaded once per
session, ``tests/conftest.py``), photos from ../shared/faces, and a check that no test
leaves a thread running."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kiosk.app import admin_services
from kiosk.config import Settings
from kiosk.services.accounts import Actor
from kiosk.services.admin import AdminServices
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
def services(store: Store, settings: Settings) -> AdminServices:
    """The console's services as the composition root builds them (the face pipeline is
    loaded only if a test checks a photo; tests that enroll use ``vision_services``)."""
    return admin_services(store, settings)


@pytest.fixture
def vision_services(store: Store, settings: Settings, pipeline: Any) -> AdminServices:
    """The console's services with the real pipeline (loaded once per session)."""
    return admin_services(store, settings, analyzer=pipeline)


@pytest.fixture
def admin(services: AdminServices) -> Actor:
    account = services.accounts.add_admin(None, ADMIN, PASSWORD, Role.ADMIN)
    return Actor(account.username, account.role)


@pytest.fixture
def auditor(services: AdminServices, admin: Actor) -> Actor:
    services.accounts.add_admin(admin, "reader", "Aud1tor-only!", Role.AUDITOR)
    return Actor("reader", Role.AUDITOR)


@pytest.fixture
def photos(faces_dir: Path) -> Path:
    return faces_dir / "face_recognition"
