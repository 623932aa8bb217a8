"""What the kiosk screen needs from the database, as one small object.

    service = open_access_service(settings)       # schema to head, key loaded
    embeddings, labels = service.load_gallery(pipeline.model_info)
    person = service.get_person(label)
    schedule = service.get_schedule(person.group) if person.group else None
    service.record_event(event)                    # from the worker thread is fine
    service.close()

Every call opens its own short unit of work (own session and connection), so one
instance can be shared by the GUI thread and a worker thread.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta

from kiosk.config import Settings
from kiosk.domain.access import AccessEvent, AccessSchedule, Person
from kiosk.domain.faces import FloatArray, ModelInfo
from kiosk.domain.kiosk_state import Heartbeat
from kiosk.errors import InputError
from kiosk.storage import integrity, limits
from kiosk.storage.errors import StorageError, TamperedRecord
from kiosk.storage.records import DamagedTemplate
from kiosk.storage.store import Store, open_store

log = logging.getLogger(__name__)


class AccessService:
    """Gallery, people, schedules and the access log for one kiosk process."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self._schedules: dict[str, tuple[datetime, AccessSchedule | None]] = {}
        self._lock = threading.Lock()
        #: schedules change rarely; the kiosk re-reads them at most this often
        self.schedule_ttl = timedelta(seconds=60)
        #: templates the last gallery load skipped (damaged, or moved to another person)
        self.damaged: list[DamagedTemplate] = []
        self._retention: object | None = None

    def load_gallery(self, model: ModelInfo | None = None) -> tuple[FloatArray, list[int]]:
        """Every template of every person not erased, decrypted once: float32 (M, 128) and
        the person id of each row. With ``model``, only templates that model produced
        (embeddings of different networks cannot be compared). A damaged template is
        skipped and logged (everyone else is still recognised) and kept in
        :attr:`damaged` for staff."""
        damaged: list[DamagedTemplate] = []
        with self.store.unit_of_work() as uow:
            gallery = uow.templates.gallery(
                None if model is None else model.checksum, damaged=damaged
            )
        self.damaged = damaged
        return gallery

    def staff_notices(self) -> list[str]:
        """What staff should know about the stored data (shown by the kiosk's status and
        printed by ``identify``)."""
        if not self.damaged:
            return []
        first = self.damaged[0].describe()
        more = f" (and {len(self.damaged) - 1} more)" if len(self.damaged) > 1 else ""
        return [f"{first}{more}; run `kiosk log verify`"]

    def templates_of_other_models(self, model: ModelInfo) -> int:
        """How many stored templates another model produced (re-enrollment needed)."""
        with self.store.unit_of_work() as uow:
            return uow.templates.count_other_models(model.checksum)

    def get_person(self, person_id: int) -> Person:
        """The person with this id; raises :class:`InputError` if there is none, or if
        their record or their group's rules were changed outside the kiosk (the seal does
        not match: refused and logged)."""
        try:
            with self.store.unit_of_work() as uow:
                person = uow.people.get_verified(person_id)
        except TamperedRecord as exc:
            log.error("access: %s", exc)
            raise
        if person is None:
            raise InputError(f"no enrolled person has the id {person_id}")
        return person

    def person_by_badge(self, badge: str) -> Person | None:
        """The person with this badge number (badge + face mode); ``None`` when nobody
        has it. An erased person keeps no badge that opens anything: inactive."""
        with self.store.unit_of_work() as uow:
            record = uow.people.by_badge(badge)
        return None if record is None else record.person

    def get_schedule(self, group: str) -> AccessSchedule | None:
        """The group's access schedule, ``None`` when it has none (access at any time)."""
        now = datetime.now(UTC)
        with self._lock:
            cached = self._schedules.get(group)
        if cached is not None and now - cached[0] < self.schedule_ttl:
            return cached[1]
        with self.store.unit_of_work() as uow:
            schedule = uow.schedules.get(group)
        with self._lock:
            self._schedules[group] = (now, schedule)
        return schedule

    def record_event(self, event: AccessEvent) -> int:
        """Append ``event`` to the hash-chained log; returns its id. The snapshot is stored
        (encrypted) only when the settings keep snapshots."""
        with self.store.unit_of_work(write=True) as uow:
            event_id = uow.events.append(event, keep_snapshot=self.settings.keep_snapshots)
            uow.commit()
        return event_id

    def write_heartbeat(self, beat: Heartbeat) -> None:
        """Store ``beat`` as this kiosk's latest heartbeat (the Today page reads it)."""
        with self.store.unit_of_work(write=True) as uow:
            uow.kiosks.beat(beat)
            uow.commit()

    def people_count(self, *, active_only: bool = False) -> int:
        """Enrolled people (not erased)."""
        with self.store.unit_of_work() as uow:
            return uow.people.count(active_only=active_only)

    def start_retention(self) -> None:
        """Delete expired snapshots now and then daily, on a thread of its own."""
        from kiosk.services.retention import RetentionRunner

        if self._retention is None:
            runner = RetentionRunner(self.store, self.settings)
            runner.start()
            self._retention = runner

    def close(self) -> None:
        runner = self._retention
        if runner is not None:
            runner.stop()  # type: ignore[attr-defined]
            self._retention = None
        self.store.close()

    def __enter__(self) -> AccessService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_access_service(settings: Settings) -> AccessService:
    """Open the database of ``settings`` for the kiosk (creating it on first run), and
    start the retention of snapshots (at start, then daily)."""
    limits.check_text(settings.kiosk_id, "kiosk id", limits.KIOSK_ID_MAX)
    store = open_store(settings)
    try:
        refuse_a_rolled_back_database(store)
    except BaseException:
        store.close()
        raise
    service = AccessService(store, settings)
    service.start_retention()
    return service


def refuse_a_rolled_back_database(store: Store) -> None:
    """Raise :class:`StorageError` when the database is older than its checkpoint file
    (put back to an older copy, or its last rows cut), unless an admin acknowledged it:
    the kiosk must not open the door over a log that lost what it recorded."""
    with store.unit_of_work() as uow:
        problems = integrity.rollback(uow, store.anchor)
    if problems:
        log.error("access: the database is older than its checkpoint: %s", "; ".join(problems))
        raise StorageError(
            f"the database is older than its checkpoint file: {problems[0]} (it was put back "
            "to an older copy or its last records were cut); the kiosk does not start: staff, "
            "run `kiosk log verify`, then `kiosk log acknowledge` once the cause is known"
        )
