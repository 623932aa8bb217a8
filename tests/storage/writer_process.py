"""A separate process that writes to the kiosk database, for the crash and concurrency
tests. Run: python writer_process.py MODE SECONDS RATE (database from KIOSK_HOME /
KIOSK_DATABASE_URL). Prints one line per committed write, flushed: "E <event id>" or
"P <person id>", so the parent knows exactly what was acknowledged.

MODE ``stall``: starts an enrollment, writes the person and templates without
committing, prints "S" and waits to be killed. MODE ``mixed``: enrollments (a person + 5
templates + an event, one transaction) between bursts of events, as fast as possible.
MODE ``events``: RATE events per second.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime

import numpy as np

from kiosk.config import Settings
from kiosk.domain.access import AccessEvent, Decision
from kiosk.domain.faces import ModelInfo
from kiosk.services.access import open_access_service

MODEL = ModelInfo("crash-test", "1", "c" * 64)
TEMPLATES_PER_PERSON = 5


def main() -> int:
    mode, seconds, rate = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
    settings = Settings.load()
    service = open_access_service(settings)
    store = service.store
    rng = np.random.default_rng()
    tag = f"{settings.kiosk_id}-{rng.integers(1 << 30)}"
    if mode == "stall":
        with store.unit_of_work(write=True) as uow:
            person = uow.people.add(name="Half", badge=f"half-{tag}")
            for _ in range(TEMPLATES_PER_PERSON):
                vec = rng.standard_normal(128).astype(np.float32)
                uow.templates.add(person.id, vec, MODEL, quality=1.0, source="camera")
            uow.events.append(
                AccessEvent(time=datetime.now(UTC), kiosk_id=tag, decision=Decision.ALLOWED)
            )
            print("S", flush=True)
            time.sleep(seconds)
        return 3
    deadline = time.monotonic() + seconds
    n = 0
    next_at = time.monotonic()
    while time.monotonic() < deadline:
        n += 1
        if mode == "mixed" and n % 10 == 0:
            with store.unit_of_work(write=True) as uow:
                person = uow.people.add(name=f"P{n}", badge=f"{tag}-{n}")
                for _ in range(TEMPLATES_PER_PERSON):
                    vec = rng.standard_normal(128).astype(np.float32)
                    uow.templates.add(person.id, vec, MODEL, quality=1.0, source="camera")
                uow.events.append(
                    AccessEvent(
                        time=datetime.now(UTC),
                        kiosk_id=settings.kiosk_id,
                        decision=Decision.ALLOWED,
                        person_id=person.id,
                        snapshot_jpeg=b"\xff\xd8" + bytes(500),
                    )
                )
                uow.commit()
            print(f"P {person.id}", flush=True)
            continue
        event_id = service.record_event(
            AccessEvent(
                time=datetime.now(UTC),
                kiosk_id=settings.kiosk_id,
                decision=Decision.DENIED_UNKNOWN,
                score=float(rng.uniform(0.6, 1.2)),
                threshold=0.6,
                reason=f"burst {n}",
                snapshot_jpeg=b"\xff\xd8" + bytes(300) if n % 3 == 0 else None,
            )
        )
        print(f"E {event_id}", flush=True)
        if mode == "events":
            next_at += 1.0 / rate
            time.sleep(max(0.0, next_at - time.monotonic()))
    service.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
