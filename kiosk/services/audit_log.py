"""The access log for people who audit it: list, export (streaming), verify, purge, and
the operators' actions.

There is one export and one integrity check, used by the command line and the console
alike (with optional progress and cancel for the console's worker threads).
"""

from __future__ import annotations

import csv
import json
import logging
import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from kiosk.config import Settings
from kiosk.errors import InputError
from kiosk.services.accounts import Actor
from kiosk.services.action_words import describe_filter
from kiosk.storage import integrity, limits
from kiosk.storage.anchor import ROSTER_ACK
from kiosk.storage.chain import ChainReport
from kiosk.storage.integrity import ROSTER_TABLES
from kiosk.storage.records import AdminAction, EventFilter, LoggedEvent, Role
from kiosk.storage.store import Store, UnitOfWork

log = logging.getLogger(__name__)

CSV_COLUMNS = [
    "id",
    "time_utc",
    "time_local",
    "kiosk_id",
    "decision",
    "person_id",
    "name",
    "badge",
    "score",
    "threshold",
    "model_version",
    "latency_ms",
    "reason",
    "snapshot",
]


def _rounded(value: float | None, digits: int) -> float | None:
    return None if value is None else round(float(value), digits)


def event_row(logged: LoggedEvent) -> dict[str, Any]:
    """One event as plain JSON-ready values (times in UTC and local time). Figures are
    rounded to what they can tell: distances and thresholds to 4 decimals (a float32
    embedding's distance is not exact further), latency to 0.1 ms."""
    e = logged.event
    return {
        "id": logged.id,
        "time_utc": e.time.astimezone(UTC).isoformat(timespec="milliseconds"),
        "time_local": e.time.astimezone().isoformat(timespec="seconds"),
        "kiosk_id": e.kiosk_id,
        "decision": str(e.decision),
        "person_id": e.person_id,
        "name": logged.person_name,
        "badge": logged.person_badge,
        "score": _rounded(e.score, 4),
        "threshold": _rounded(e.threshold, 4),
        "model_version": e.model_version,
        "latency_ms": _rounded(e.latency_ms, 1),
        "reason": e.reason,
        "snapshot": logged.has_snapshot,
    }


@dataclass(frozen=True)
class PurgeReport:
    snapshots: int
    crops: int
    snapshot_cutoff: datetime
    crop_cutoff: datetime | None
    #: visitors whose pass ended, erased (templates, crops and snapshots) in this run
    visitors: int = 0


class AuditLogService:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings

    def person_filter(self, badge: str | None) -> int | None:
        if badge is None:
            return None
        with self.store.unit_of_work() as uow:
            record = uow.people.by_badge(badge)
        if record is None:
            raise InputError(
                f"no person has the badge {limits.printable(badge, 100)}: see `people list`"
            )
        return record.person.id

    def page(
        self,
        actor: Actor,
        flt: EventFilter | None = None,
        *,
        before_id: int | None = None,
        limit: int = 50,
    ) -> list[LoggedEvent]:
        """Newest first; the next page starts before the smallest id of this one."""
        actor.require(Role.AUDITOR)
        with self.store.unit_of_work() as uow:
            return uow.events.page(flt, before_id=before_id, limit=limit)

    def stream(self, actor: Actor, flt: EventFilter | None = None) -> Iterator[LoggedEvent]:
        actor.require(Role.AUDITOR)
        with self.store.unit_of_work() as uow:
            yield from uow.events.stream(flt)

    def export_csv(
        self,
        actor: Actor,
        target: Path | IO[str],
        flt: EventFilter | None = None,
        *,
        progress: Callable[[int], None] | None = None,
        stop: threading.Event | None = None,
        every: int = 2000,
        force: bool = False,
    ) -> int:
        """Write the (filtered) log as CSV, oldest first, streaming; returns the row count.

        A new file is created exclusively in the target's folder (mode 0600: it holds
        names) and renamed to the target at the end, so an interrupted, failed or
        cancelled (``stop``) export never leaves a partial file that looks complete, and
        a link planted where a partial file would be is never followed. An existing
        target is refused unless ``force``. ``progress`` hears the row count every
        ``every`` rows and at the end."""
        actor.require(Role.AUDITOR)
        count = 0
        if isinstance(target, Path):
            if not force and os.path.lexists(target):
                raise InputError(f"{target} already exists: choose another name, or --force")
            try:
                # a new file of our own in the target's folder (exclusive, never through a
                # link someone planted there), renamed over the target at the end
                fd, name = tempfile.mkstemp(
                    dir=target.parent, prefix=f".{target.name}.", suffix=".partial"
                )
            except OSError as exc:
                raise InputError(f"cannot write {target}: {exc.strerror or exc}") from exc
            partial = Path(name)
            try:
                with open(fd, "w", newline="", encoding="utf-8") as f:
                    count = self._write_csv(actor, f, flt, progress, stop, every)
                _publish(partial, target, force=force)
            except _Stopped:
                partial.unlink(missing_ok=True)
                raise InputError("export cancelled; no file was written") from None
            except FileExistsError:
                partial.unlink(missing_ok=True)
                raise InputError(
                    f"{target} already exists: choose another name, or --force"
                ) from None
            except OSError as exc:
                partial.unlink(missing_ok=True)
                raise InputError(f"cannot write {target}: {exc.strerror or exc}") from exc
            except BaseException:
                partial.unlink(missing_ok=True)
                raise
            destination = str(target)
        else:
            try:
                count = self._write_csv(actor, target, flt, progress, stop, every)
            except _Stopped:
                raise InputError("export cancelled") from None
            destination = "stdout"
        if progress is not None:
            progress(count)
        with self.store.unit_of_work(write=True) as uow:
            uow.audit.record(
                actor.username, "export-log", destination, rows=count, filter=describe_filter(flt)
            )
            uow.commit()
        return count

    def _write_csv(
        self,
        actor: Actor,
        f: IO[str],
        flt: EventFilter | None,
        progress: Callable[[int], None] | None,
        stop: threading.Event | None,
        every: int,
    ) -> int:
        writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        count = 0
        for logged in self.stream(actor, flt):
            writer.writerow(_csv_safe(event_row(logged)))
            count += 1
            if count % every == 0:
                if stop is not None and stop.is_set():
                    raise _Stopped
                if progress is not None:
                    progress(count)
        return count

    def verify(
        self,
        actor: Actor,
        *,
        progress: Callable[[int], None] | None = None,
        stop: threading.Event | None = None,
    ) -> ChainReport | None:
        """Check everything the kiosk can prove about its data: both hash chains against
        their authenticated heads and the checkpoint file, and the seals of accounts,
        people, group rules and templates (``kiosk.storage.integrity``). ``None`` when
        ``stop`` was set before the end."""
        actor.require(Role.AUDITOR)
        with self.store.unit_of_work() as uow:
            return integrity.check(uow, self.store.anchor, progress=progress, stop=stop)

    def acknowledge_rollback(self, actor: Actor) -> list[str]:
        """An admin takes the database as it is now although it is older than its
        checkpoint file: what the checkpoints said is kept as an operator's action (in the
        chain), the checkpoint file restarts from the current heads, and the kiosk starts
        again. Returns what was acknowledged (empty: nothing to acknowledge)."""
        actor.require(Role.ADMIN)
        anchor = self.store.anchor
        with self.store.unit_of_work() as uow:
            problems = integrity.rollback(uow, anchor)
        if not problems or anchor is None:
            return []
        with self.store.unit_of_work(write=True) as uow:
            uow.audit.record(actor.username, "acknowledge-rollback", "", problems=problems)
            uow.commit()
        with self.store.unit_of_work() as uow:
            heads = {"events": uow.events.head(), "actions": uow.audit.head()}
            rosters = {table: uow.roster.get(table) for table in ROSTER_TABLES}
        try:
            for chain, head in heads.items():
                if head is not None:
                    anchor.acknowledge(chain, head.last_id, head.last_hash)
            for table, roster in rosters.items():
                if roster is not None:
                    anchor.acknowledge(ROSTER_ACK + table, roster.generation, roster.seal)
        except OSError as exc:
            raise InputError(f"cannot write the checkpoint file: {exc.strerror or exc}") from exc
        return problems

    def admin_actions(
        self,
        actor: Actor,
        *,
        limit: int = 100,
        action: str | None = None,
        admin: str | None = None,
        before_id: int | None = None,
    ) -> list[AdminAction]:
        """The operators' actions (sign-ins, failed sign-ins, enrollments, erasures,
        threshold changes, exports, ...), newest first: the same listing as the console's
        operators' tab (``AccountService.actions``)."""
        from kiosk.services.accounts import AccountService

        return AccountService(self.store).actions(
            actor, limit=limit, action=action, admin=admin, before_id=before_id
        )

    def purge(self, actor: Actor | None, *, now: datetime | None = None) -> PurgeReport:
        """Delete snapshots older than the retention period, and enrollment crops older than
        ``crop_retention_days`` when that is set (templates stay). ``actor`` None: the
        kiosk's own retention run (:mod:`kiosk.services.retention`)."""
        if actor is not None:
            actor.require(Role.ADMIN)
        now = now or datetime.now(UTC)
        snapshot_cutoff = now - timedelta(days=max(0, self.settings.snapshot_retention_days))
        crop_days = self.settings.crop_retention_days
        crop_cutoff = now - timedelta(days=crop_days) if crop_days > 0 else None
        with self.store.unit_of_work(write=True) as uow:
            visitors = _erase_ended_visitors(uow, actor, now)
            snapshots = uow.events.purge_snapshots(snapshot_cutoff)
            crops = uow.templates.purge_crops(crop_cutoff) if crop_cutoff else 0
            if actor is None and not (snapshots or crops or visitors):
                return PurgeReport(0, 0, snapshot_cutoff, crop_cutoff)  # nothing to record
            uow.audit.record(
                None if actor is None else actor.username,
                "purge",
                "",
                snapshots=snapshots,
                crops=crops,
                before=snapshot_cutoff.isoformat(),
            )
            uow.commit()
        return PurgeReport(snapshots, crops, snapshot_cutoff, crop_cutoff, visitors)


def _erase_ended_visitors(uow: UnitOfWork, actor: Actor | None, now: datetime) -> int:
    """Erase every visitor whose pass has ended: templates (with their crops) and
    snapshots deleted, the row kept and marked erased, as :meth:`PeopleService.erase`
    does; each one an ``erase`` action of its own."""
    ended = uow.people.ended_visitors(now)
    for record in ended:
        p = record.person
        templates = uow.templates.delete_for(p.id)
        snapshots = uow.events.delete_snapshots_for(p.id)
        uow.people.mark_erased(p.id)
        uow.audit.record(
            None if actor is None else actor.username,
            "erase",
            f"badge {p.badge}",
            name=p.name,
            templates=templates,
            snapshots=snapshots,
            reason="visitor pass ended",
        )
    return len(ended)


class _Stopped(Exception):
    pass


def _publish(partial: Path, target: Path, *, force: bool) -> None:
    """Give the finished file its name: over an existing one only with ``force``."""
    if force:
        os.replace(partial, target)
        return
    try:
        os.link(partial, target)  # fails if the target appeared meanwhile
    except FileExistsError:
        raise
    except OSError:  # a file system without hard links
        if os.path.lexists(target):
            raise FileExistsError(target) from None
        os.replace(partial, target)
        return
    partial.unlink()


def describe_details(details: str) -> str:
    """An operator's action's details as ``key=value`` words (the stored JSON, readable)."""
    if not details:
        return ""
    try:
        data = json.loads(details)
    except ValueError:
        return details
    if not isinstance(data, dict):
        return str(data)
    parts = []
    for key, value in data.items():
        if isinstance(value, list):
            value = ",".join(str(v) for v in value) or "-"
        parts.append(f"{key}={value}")
    return " ".join(parts)


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _csv_safe(row: dict[str, Any]) -> dict[str, Any]:
    """Text cells that a spreadsheet would run as a formula get a leading apostrophe (a
    name typed as ``=HYPERLINK(...)``); numbers are left alone."""
    out = {}
    for key, value in row.items():
        if isinstance(value, str) and value.startswith(_FORMULA_START):
            value = "'" + value
        out[key] = value
    return out
