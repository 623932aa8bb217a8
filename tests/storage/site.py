"""A kiosk home with one admin and its database, driven through the real command line
(the ``site`` fixture of ``conftest.py``), and the attacker's plain SQL beside it."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Engine, text

from kiosk.config import Settings
from kiosk.domain.access import AccessEvent, Decision
from kiosk.domain.faces import ModelInfo
from kiosk.storage.store import Store, open_store

SITE_PASSWORD = "Corr3ct-horse-battery"
SITE_MODEL = ModelInfo("test-net", "1", "a" * 64)


def unit_vector(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal(128).astype(np.float32)
    return v / np.linalg.norm(v)


@dataclass
class Site:
    """A kiosk home with one admin (root) and its database, as the CLI sees it."""

    settings: Settings
    engine: Engine  # a plain engine: the attacker's SQL, without the key
    run: Callable[..., tuple[int, str, str]]

    def sql(self, statement: str, **params: Any) -> list[Any]:
        with self.engine.begin() as conn:
            result = conn.execute(text(statement), params)
            return list(result) if result.returns_rows else []

    def store(self) -> Store:
        return open_store(self.settings)

    def events(self, n: int, *, person_id: int | None = None) -> None:
        with self.store() as store:
            for i in range(n):
                with store.unit_of_work(write=True) as uow:
                    uow.events.append(
                        AccessEvent(
                            time=datetime(2026, 3, 1, 8, tzinfo=UTC) + timedelta(minutes=i),
                            kiosk_id="front",
                            decision=Decision.ALLOWED if person_id else Decision.DENIED_UNKNOWN,
                            person_id=person_id,
                            score=0.3,
                            threshold=0.61,
                        )
                    )
                    uow.commit()

    def person(self, name: str, badge: str, *, group: str | None = None) -> int:
        with self.store() as store, store.unit_of_work(write=True) as uow:
            person = uow.people.add(name=name, badge=badge, group=group)
            uow.templates.add(
                person.id, unit_vector(person.id), SITE_MODEL, quality=1.0, source="camera"
            )
            uow.commit()
            return person.id


def run_as(site: Site, user: str, password: str, *args: str) -> tuple[int, str, str]:
    """Run the command line as another account."""
    old = os.environ["KIOSK_ADMIN_PASSWORD"]
    os.environ["KIOSK_ADMIN_PASSWORD"] = password
    try:
        return site.run(*args, user=user)
    finally:
        os.environ["KIOSK_ADMIN_PASSWORD"] = old
