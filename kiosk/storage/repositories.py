"""Repositories over one SQLAlchemy session: they take and return plain objects.

They never commit; the unit of work (:mod:`kiosk.storage.store`) does, once per use case.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import and_, delete, func, select, text, update
from sqlalchemy.orm import Session

from kiosk.domain.access import AccessEvent, AccessSchedule, Decision, Person, TimeWindow
from kiosk.domain.faces import FloatArray, ModelInfo
from kiosk.storage.chain import GENESIS, ChainFields, ChainReport, link_hash, verify_chain
from kiosk.storage.crypto import EMBEDDING_DIM, PURPOSE_CROP, PURPOSE_SNAPSHOT, Cipher
from kiosk.storage.models import (
    AdminActionRow,
    AdminRow,
    ChainHead,
    EventRow,
    HolidayRow,
    Meta,
    PersonRow,
    ScheduleWindowRow,
    SnapshotRow,
    TemplateRow,
)
from kiosk.storage.records import (
    AdminAccount,
    AdminAction,
    EventFilter,
    LoggedEvent,
    PersonRecord,
    Role,
    TemplateInfo,
)


def utcnow() -> datetime:
    return datetime.now(UTC)


def _person(row: PersonRow) -> Person:
    return Person(
        id=row.id,
        name=row.name,
        badge=row.badge,
        group=row.group_name,
        active=row.active and row.erased_at is None,
        valid_from=row.valid_from,
        valid_until=row.valid_until,
    )


def _record(row: PersonRow, templates: int = 0) -> PersonRecord:
    return PersonRecord(
        person=_person(row),
        consent_at=row.consent_at,
        consent_by=row.consent_by,
        notes=row.notes,
        created_at=row.created_at,
        updated_at=row.updated_at,
        erased_at=row.erased_at,
        templates=templates,
    )


class MetaRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, key: str) -> str | None:
        row = self.session.get(Meta, key)
        return None if row is None else row.value

    def set(self, key: str, value: str) -> None:
        row = self.session.get(Meta, key)
        if row is None:
            self.session.add(Meta(key=key, value=value))
        else:
            row.value = value


class PeopleRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(
        self,
        *,
        name: str,
        badge: str,
        group: str | None = None,
        active: bool = True,
        valid_from: datetime | None = None,
        valid_until: datetime | None = None,
        consent_at: datetime | None = None,
        consent_by: str | None = None,
        notes: str = "",
    ) -> Person:
        now = utcnow()
        row = PersonRow(
            name=name,
            badge=badge,
            group_name=group,
            active=active,
            valid_from=valid_from,
            valid_until=valid_until,
            consent_at=consent_at,
            consent_by=consent_by,
            notes=notes,
            created_at=now,
            updated_at=now,
        )
        self.session.add(row)
        self.session.flush()
        return _person(row)

    def get(self, person_id: int) -> Person | None:
        row = self.session.get(PersonRow, person_id)
        return None if row is None else _person(row)

    def record(self, person_id: int) -> PersonRecord | None:
        row = self.session.get(PersonRow, person_id)
        if row is None:
            return None
        count = self.session.scalar(
            select(func.count()).select_from(TemplateRow).where(TemplateRow.person_id == row.id)
        )
        return _record(row, count or 0)

    def by_badge(self, badge: str) -> PersonRecord | None:
        row = self.session.scalar(select(PersonRow).where(PersonRow.badge == badge))
        return None if row is None else self.record(row.id)

    def list(self, *, include_erased: bool = False, group: str | None = None) -> list[PersonRecord]:
        counts = (
            select(TemplateRow.person_id, func.count().label("n"))
            .group_by(TemplateRow.person_id)
            .subquery()
        )
        query = (
            select(PersonRow, func.coalesce(counts.c.n, 0))
            .outerjoin(counts, counts.c.person_id == PersonRow.id)
            .order_by(PersonRow.name, PersonRow.id)
        )
        if not include_erased:
            query = query.where(PersonRow.erased_at.is_(None))
        if group is not None:
            query = query.where(PersonRow.group_name == group)
        return [_record(row, int(n)) for row, n in self.session.execute(query)]

    def count(self, *, active_only: bool = False) -> int:
        query = select(func.count()).select_from(PersonRow).where(PersonRow.erased_at.is_(None))
        if active_only:
            query = query.where(PersonRow.active.is_(True))
        return int(self.session.scalar(query) or 0)

    def update(self, person_id: int, **changes: Any) -> Person:
        """Change columns (``name``, ``group_name``, ``active``, ``valid_until``, ...)."""
        row = self.session.get(PersonRow, person_id, with_for_update=True)
        if row is None:
            raise LookupError(person_id)
        for key, value in changes.items():
            if not hasattr(PersonRow, key) or key in ("id", "created_at"):
                raise AttributeError(key)
            setattr(row, key, value)
        row.updated_at = utcnow()
        self.session.flush()
        return _person(row)

    def mark_erased(self, person_id: int) -> None:
        now = utcnow()
        self.session.execute(
            update(PersonRow)
            .where(PersonRow.id == person_id)
            .values(active=False, erased_at=now, updated_at=now, notes="")
        )


class TemplateRepository:
    def __init__(self, session: Session, cipher: Cipher) -> None:
        self.session = session
        self.cipher = cipher

    def add(
        self,
        person_id: int,
        embedding: FloatArray,
        model: ModelInfo,
        *,
        quality: float,
        source: str,
        crop_jpeg: bytes | None = None,
        created_at: datetime | None = None,
    ) -> int:
        row = TemplateRow(
            person_id=person_id,
            embedding=self.cipher.encrypt_embedding(embedding),
            model_name=model.name,
            model_version=model.version,
            model_checksum=model.checksum,
            quality=float(quality),
            source=source,
            created_at=created_at or utcnow(),
            crop=None if crop_jpeg is None else self.cipher.encrypt(crop_jpeg, PURPOSE_CROP),
        )
        self.session.add(row)
        self.session.flush()
        return row.id

    def for_person(self, person_id: int) -> list[TemplateInfo]:
        rows = self.session.scalars(
            select(TemplateRow).where(TemplateRow.person_id == person_id).order_by(TemplateRow.id)
        )
        return [
            TemplateInfo(
                id=r.id,
                person_id=r.person_id,
                model_name=r.model_name,
                model_version=r.model_version,
                model_checksum=r.model_checksum,
                quality=r.quality,
                source=r.source,
                created_at=r.created_at,
                has_crop=r.crop is not None,
            )
            for r in rows
        ]

    def coverage(self, model_checksum: str) -> dict[int, tuple[int, int]]:
        """For every person not erased: (templates of this model, templates of other
        models that kept their crop, so they can be made again for this model)."""
        rows = self.session.execute(
            select(TemplateRow.person_id, TemplateRow.model_checksum, TemplateRow.crop.is_not(None))
            .join(PersonRow, PersonRow.id == TemplateRow.person_id)
            .where(PersonRow.erased_at.is_(None))
        ).all()
        out: dict[int, tuple[int, int]] = {
            int(pid): (0, 0)
            for pid in self.session.scalars(
                select(PersonRow.id).where(PersonRow.erased_at.is_(None))
            )
        }
        for person_id, checksum, has_crop in rows:
            same, other = out.get(int(person_id), (0, 0))
            if checksum == model_checksum:
                same += 1
            elif has_crop:
                other += 1
            out[int(person_id)] = (same, other)
        return out

    def with_crops_of_other_models(self, person_id: int, model_checksum: str) -> list[TemplateInfo]:
        """The person's templates of other models whose crop was kept."""
        return [
            t
            for t in self.for_person(person_id)
            if t.model_checksum != model_checksum and t.has_crop
        ]

    def crop(self, template_id: int) -> bytes | None:
        blob = self.session.scalar(select(TemplateRow.crop).where(TemplateRow.id == template_id))
        return None if blob is None else self.cipher.decrypt(blob, PURPOSE_CROP)

    def gallery(
        self, model_checksum: str | None = None, *, batch: int = 20_000
    ) -> tuple[FloatArray, list[int]]:
        """Every template of every person not erased, decrypted: (M, 128) and person ids.

        Deactivated people stay in: the kiosk must recognise them to say so."""
        # Textual SQL on purpose: with a million templates, SQLAlchemy's per-row result
        # processing costs more than the decryption (see bench/storage_scale.py).
        sql = (
            "SELECT t.person_id, t.embedding FROM templates t "
            "JOIN people p ON p.id = t.person_id WHERE p.erased_at IS NULL"
        )
        params: dict[str, str] = {}
        if model_checksum is not None:
            sql += " AND t.model_checksum = :checksum"
            params["checksum"] = model_checksum
        query = text(sql + " ORDER BY t.id").bindparams(**params)
        result = self.session.connection().execute(query.execution_options(yield_per=batch), params)
        chunks: list[FloatArray] = []
        labels: list[int] = []
        for partition in result.partitions(batch):
            labels.extend([int(row[0]) for row in partition])
            chunks.append(self.cipher.decrypt_embeddings([row[1] for row in partition]))
        if not chunks:
            return np.zeros((0, EMBEDDING_DIM), dtype=np.float32), []
        return np.concatenate(chunks), labels

    def count(self, model_checksum: str | None = None) -> int:
        query = select(func.count()).select_from(TemplateRow)
        if model_checksum is not None:
            query = query.where(TemplateRow.model_checksum == model_checksum)
        return int(self.session.scalar(query) or 0)

    def count_other_models(self, model_checksum: str) -> int:
        query = (
            select(func.count())
            .select_from(TemplateRow)
            .where(TemplateRow.model_checksum != model_checksum)
        )
        return int(self.session.scalar(query) or 0)

    def remove(self, template_id: int) -> tuple[int, str] | None:
        """Delete one template (and its crop); its person's id and source, or ``None``
        when there is no such template."""
        row = self.session.get(TemplateRow, template_id)
        if row is None:
            return None
        person_id, source = row.person_id, row.source
        self.session.execute(delete(TemplateRow).where(TemplateRow.id == template_id))
        return person_id, source

    def delete_for(self, person_id: int) -> int:
        result = self.session.execute(delete(TemplateRow).where(TemplateRow.person_id == person_id))
        return int(getattr(result, "rowcount", 0) or 0)

    def purge_crops(self, before: datetime) -> int:
        result = self.session.execute(
            update(TemplateRow)
            .where(TemplateRow.crop.is_not(None), TemplateRow.created_at < before)
            .values(crop=None)
        )
        return int(getattr(result, "rowcount", 0) or 0)


class EventRepository:
    """The hash-chained access log and the (expiring, encrypted) snapshots."""

    HEAD_ID = 1

    def __init__(self, session: Session, cipher: Cipher, chain_key: bytes) -> None:
        self.session = session
        self.cipher = cipher
        self.chain_key = chain_key

    def append(self, event: AccessEvent, *, keep_snapshot: bool = True) -> int:
        """Add ``event`` at the end of the chain; returns its id (chain position).

        The chain head is locked for the rest of the transaction (SELECT ... FOR UPDATE on
        PostgreSQL; BEGIN IMMEDIATE already serialises writers on SQLite)."""
        if event.time.tzinfo is None:
            raise ValueError("AccessEvent.time must be timezone-aware")
        head = self.session.scalar(
            select(ChainHead).where(ChainHead.id == self.HEAD_ID).with_for_update()
        )
        if head is None:
            head = ChainHead(id=self.HEAD_ID, last_id=0, last_hash=GENESIS)
            self.session.add(head)
        fields = ChainFields(
            id=head.last_id + 1,
            time=event.time.astimezone(UTC),
            kiosk_id=event.kiosk_id,
            decision=str(Decision(event.decision)),
            person_id=event.person_id,
            score=None if event.score is None else float(event.score),
            threshold=None if event.threshold is None else float(event.threshold),
            model_version=event.model_version,
            latency_ms=None if event.latency_ms is None else float(event.latency_ms),
            reason=event.reason,
            prev_hash=head.last_hash,
        )
        digest = link_hash(self.chain_key, fields)
        self.session.add(
            EventRow(
                id=fields.id,
                time=fields.time,
                kiosk_id=fields.kiosk_id,
                decision=fields.decision,
                person_id=fields.person_id,
                score=fields.score,
                threshold=fields.threshold,
                model_version=fields.model_version,
                latency_ms=fields.latency_ms,
                reason=fields.reason,
                prev_hash=fields.prev_hash,
                hash=digest,
            )
        )
        head.last_id = fields.id
        head.last_hash = digest
        self.session.flush()
        if keep_snapshot and event.snapshot_jpeg:
            self.session.add(
                SnapshotRow(
                    event_id=fields.id,
                    person_id=event.person_id,
                    created_at=fields.time,
                    data=self.cipher.encrypt(event.snapshot_jpeg, PURPOSE_SNAPSHOT),
                )
            )
            self.session.flush()
        return fields.id

    def page(
        self, flt: EventFilter | None = None, *, before_id: int | None = None, limit: int = 50
    ) -> list[LoggedEvent]:
        """Newest first; pass the smallest id of a page as ``before_id`` for the next one
        (keyset paging: as fast on page 10,000 as on page 1)."""
        query = filter_events(event_listing(), flt)
        if before_id is not None:
            query = query.where(EventRow.id < before_id)
        query = query.order_by(EventRow.id.desc()).limit(limit)
        return [logged_event(row) for row in self.session.execute(query)]

    def stream(self, flt: EventFilter | None = None, *, batch: int = 5000) -> Iterator[LoggedEvent]:
        """Oldest first, fetched in batches (a server-side cursor on PostgreSQL)."""
        query = (
            filter_events(event_listing(), flt)
            .order_by(EventRow.id)
            .execution_options(yield_per=batch)
        )
        for row in self.session.execute(query):
            yield logged_event(row)

    def count(self, flt: EventFilter | None = None) -> int:
        query = filter_events(select(func.count()).select_from(EventRow), flt)
        return int(self.session.scalar(query) or 0)

    def verify(self, *, batch: int = 10_000) -> ChainReport:
        head_row = self.session.get(ChainHead, self.HEAD_ID)
        head = None if head_row is None else (head_row.last_id, head_row.last_hash)
        query = select(EventRow.__table__).order_by(EventRow.id).execution_options(yield_per=batch)

        def rows() -> Iterator[tuple[ChainFields, str]]:
            for row in self.session.execute(query):
                yield (
                    ChainFields(
                        id=row.id,
                        time=row.time,
                        kiosk_id=row.kiosk_id,
                        decision=row.decision,
                        person_id=row.person_id,
                        score=row.score,
                        threshold=row.threshold,
                        model_version=row.model_version,
                        latency_ms=row.latency_ms,
                        reason=row.reason,
                        prev_hash=row.prev_hash,
                    ),
                    row.hash,
                )

        return verify_chain(self.chain_key, rows(), head)

    def snapshot(self, event_id: int) -> bytes | None:
        blob = self.session.scalar(select(SnapshotRow.data).where(SnapshotRow.event_id == event_id))
        return None if blob is None else self.cipher.decrypt(blob, PURPOSE_SNAPSHOT)

    def purge_snapshots(self, before: datetime) -> int:
        result = self.session.execute(delete(SnapshotRow).where(SnapshotRow.created_at < before))
        return int(getattr(result, "rowcount", 0) or 0)

    def delete_snapshots_for(self, person_id: int) -> int:
        result = self.session.execute(
            delete(SnapshotRow).where(
                SnapshotRow.event_id.in_(select(EventRow.id).where(EventRow.person_id == person_id))
                | (SnapshotRow.person_id == person_id)
            )
        )
        return int(getattr(result, "rowcount", 0) or 0)

    def count_snapshots(self) -> int:
        return int(self.session.scalar(select(func.count()).select_from(SnapshotRow)) or 0)


def _account(row: AdminRow) -> AdminAccount:
    return AdminAccount(
        id=row.id,
        username=row.username,
        role=Role(row.role),
        failed_logins=row.failed_logins,
        locked_until=row.locked_until,
        created_at=row.created_at,
        last_login_at=row.last_login_at,
    )


class AdminRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, username: str, password_hash: str, role: Role) -> AdminAccount:
        row = AdminRow(
            username=username,
            password_hash=password_hash,
            role=str(role),
            failed_logins=0,
            created_at=utcnow(),
        )
        self.session.add(row)
        self.session.flush()
        return _account(row)

    def get(self, username: str) -> AdminAccount | None:
        row = self._row(username)
        return None if row is None else _account(row)

    def password_hash(self, username: str) -> str | None:
        row = self._row(username)
        return None if row is None else row.password_hash

    def _row(self, username: str, *, lock: bool = False) -> AdminRow | None:
        query = select(AdminRow).where(AdminRow.username == username)
        if lock:
            query = query.with_for_update()
        return self.session.scalar(query)

    def list(self) -> list[AdminAccount]:
        return [
            _account(r) for r in self.session.scalars(select(AdminRow).order_by(AdminRow.username))
        ]

    def count(self) -> int:
        return int(self.session.scalar(select(func.count()).select_from(AdminRow)) or 0)

    def update(self, username: str, **changes: Any) -> None:
        row = self._row(username, lock=True)
        if row is None:
            raise LookupError(username)
        for key, value in changes.items():
            if not hasattr(AdminRow, key) or key in ("id", "username"):
                raise AttributeError(key)
            setattr(row, key, value)
        self.session.flush()


class AuditRepository:
    """Admin actions: who enrolled, edited, erased, changed a setting, exported the log."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def record(self, admin: str | None, action: str, target: str = "", **details: object) -> None:
        self.session.add(
            AdminActionRow(
                time=utcnow(),
                admin=admin,
                action=action,
                target=target,
                details=json.dumps(details, sort_keys=True, default=str) if details else "",
            )
        )

    def list(self, *, limit: int = 100, action: str | None = None) -> list[AdminAction]:
        query = select(AdminActionRow).order_by(AdminActionRow.id.desc()).limit(limit)
        if action is not None:
            query = query.where(AdminActionRow.action == action)
        return [
            AdminAction(r.id, r.time, r.admin, r.action, r.target, r.details)
            for r in self.session.scalars(query)
        ]


class ScheduleRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, group: str) -> AccessSchedule | None:
        """The group's schedule, or ``None`` when the group has none (any time)."""
        windows = self.session.scalars(
            select(ScheduleWindowRow)
            .where(ScheduleWindowRow.group_name == group)
            .order_by(ScheduleWindowRow.weekday, ScheduleWindowRow.start)
        ).all()
        holidays = self.session.scalars(
            select(HolidayRow.day).where(HolidayRow.group_name == group)
        ).all()
        if not windows and not holidays:
            return None
        return AccessSchedule(
            windows=tuple(TimeWindow(w.weekday, w.start, w.end) for w in windows),
            holidays=frozenset(holidays),
        )

    def set(self, group: str, schedule: AccessSchedule | None) -> None:
        self.session.execute(delete(ScheduleWindowRow).where(ScheduleWindowRow.group_name == group))
        self.session.execute(delete(HolidayRow).where(HolidayRow.group_name == group))
        if schedule is None:
            return
        for w in schedule.windows:
            self.session.add(
                ScheduleWindowRow(group_name=group, weekday=w.weekday, start=w.start, end=w.end)
            )
        for day in sorted(schedule.holidays):
            self.session.add(HolidayRow(group_name=group, day=day))
        self.session.flush()


def filter_events(query: Any, flt: EventFilter | None) -> Any:
    """Restrict an event query to the filter's time range, person, decision and kiosk."""
    if flt is None:
        return query
    conditions = []
    if flt.since is not None:
        conditions.append(EventRow.time >= flt.since)
    if flt.until is not None:
        conditions.append(EventRow.time < flt.until)
    if flt.person_id is not None:
        conditions.append(EventRow.person_id == flt.person_id)
    if flt.decision is not None:
        conditions.append(EventRow.decision == flt.decision)
    if flt.kiosk_id is not None:
        conditions.append(EventRow.kiosk_id == flt.kiosk_id)
    return query.where(and_(*conditions)) if conditions else query


def event_listing() -> Any:
    """Events with the person's name and badge and whether a snapshot is kept."""
    # Plain columns rather than ORM entities: a million-row export or verify does not
    # pay for identity-map bookkeeping.
    events = EventRow.__table__
    return select(
        *events.c,
        PersonRow.name.label("person_name"),
        PersonRow.badge.label("person_badge"),
        SnapshotRow.event_id.is_not(None).label("has_snapshot"),
    ).select_from(
        events.outerjoin(PersonRow.__table__, PersonRow.id == EventRow.person_id).outerjoin(
            SnapshotRow.__table__, SnapshotRow.event_id == EventRow.id
        )
    )


def logged_event(row: Any) -> LoggedEvent:
    return LoggedEvent(
        id=row.id,
        event=AccessEvent(
            time=row.time,
            kiosk_id=row.kiosk_id,
            decision=Decision(row.decision),
            person_id=row.person_id,
            score=row.score,
            threshold=row.threshold,
            model_version=row.model_version,
            latency_ms=row.latency_ms,
            reason=row.reason,
        ),
        person_name=row.person_name,
        person_badge=row.person_badge,
        has_snapshot=bool(row.has_snapshot),
    )
