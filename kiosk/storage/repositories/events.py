"""The access log: hash-chained events, their listing and filters, and the encrypted
snapshots."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, delete, func, literal_column, select
from sqlalchemy.orm import Session

from kiosk.domain.access import AccessEvent, Decision
from kiosk.storage import limits
from kiosk.storage.chain import (
    EVENTS_CHAIN,
    ChainFields,
    ChainReport,
    Head,
    Link,
    link_hash,
    walk_chain,
)
from kiosk.storage.crypto import PURPOSE_SNAPSHOT, Cipher
from kiosk.storage.models import EventRow, PersonRow, SnapshotRow
from kiosk.storage.records import EventFilter, LoggedEvent
from kiosk.storage.repositories.chain_head import OnExtend, _Chain, _stored_hashes

log = logging.getLogger(__name__)


class EventRepository:
    """The hash-chained access log and the (expiring, encrypted) snapshots."""

    HEAD_ID = EVENTS_CHAIN

    def __init__(
        self, session: Session, cipher: Cipher, chain_key: bytes, on_extend: OnExtend | None = None
    ) -> None:
        self.session = session
        self.cipher = cipher
        self.chain_key = chain_key
        self._chain = _Chain(session, chain_key, EVENTS_CHAIN, on_extend)

    def append(self, event: AccessEvent, *, keep_snapshot: bool = True) -> int:
        """Add ``event`` at the end of the chain, with the person's name and badge as they
        are now; returns its id (chain position)."""
        if event.time.tzinfo is None:
            raise ValueError("AccessEvent.time must be timezone-aware")
        kiosk_id = limits.check_text(event.kiosk_id, "kiosk id", limits.KIOSK_ID_MAX)
        head = self._chain.lock()
        name = badge = None
        if event.person_id is not None:
            person = self.session.get(PersonRow, event.person_id)
            if person is not None:
                name, badge = person.name, person.badge
        fields = ChainFields(
            id=head.last_id + 1,
            time=event.time.astimezone(UTC),
            kiosk_id=kiosk_id,
            decision=str(Decision(event.decision)),
            person_id=event.person_id,
            score=None if event.score is None else float(event.score),
            threshold=None if event.threshold is None else float(event.threshold),
            model_version=event.model_version,
            latency_ms=None if event.latency_ms is None else float(event.latency_ms),
            reason=event.reason,
            prev_hash=head.last_hash,
            person_name=name,
            person_badge=badge,
        )
        digest = link_hash(self.chain_key, fields)
        self.session.add(
            EventRow(
                id=fields.id,
                time=fields.time,
                kiosk_id=fields.kiosk_id,
                decision=fields.decision,
                person_id=fields.person_id,
                person_name=name,
                person_badge=badge,
                score=fields.score,
                threshold=fields.threshold,
                model_version=fields.model_version,
                latency_ms=fields.latency_ms,
                reason=fields.reason,
                prev_hash=fields.prev_hash,
                hash=digest,
            )
        )
        self._chain.advance(head, fields.id, digest)
        self.session.flush()
        # A snapshot row for an event not yet written cannot be the kiosk's (planted with
        # the foreign keys off): it would make this and every later event fail to save.
        stale = self.session.execute(delete(SnapshotRow).where(SnapshotRow.event_id == fields.id))
        if getattr(stale, "rowcount", 0):
            log.error("access log: a snapshot planted for event %d was removed", fields.id)
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

    def newest_id(self) -> int:
        """The id of the newest event (0: none); one index lookup, for polling."""
        return int(self.session.scalar(select(func.max(EventRow.id))) or 0)

    def counts_since(self, since: datetime) -> dict[tuple[str, str], int]:
        """(kiosk id, decision) -> how many events since ``since``."""
        # grouped by an expression: SQLite would otherwise walk the whole log in the
        # (kiosk, id) index's order to group without sorting (105 ms at 100,000 events);
        # this way it reads only the rows since ``since``, by the time index
        kiosk = EventRow.kiosk_id.op("||")(literal_column("''"))
        query = (
            select(kiosk, EventRow.decision, func.count())
            .where(EventRow.time >= since)
            .group_by(kiosk, EventRow.decision)
        )
        return {(k, d): int(n) for k, d, n in self.session.execute(query)}

    def head(self) -> Head | None:
        return self._chain.read()

    def stored_hashes(self, ids: Sequence[int]) -> dict[int, str]:
        """The stored MAC of each of ``ids`` the log holds (for the checkpoints)."""
        return _stored_hashes(self.session, EventRow, ids)

    def links(self, *, batch: int = 10_000) -> Iterator[Link]:
        """Every event in id order as a chain link (the MAC its content gives)."""
        query = select(EventRow.__table__).order_by(EventRow.id).execution_options(yield_per=batch)
        key = self.chain_key
        for row in self.session.execute(query):
            fields = ChainFields(
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
                person_name=row.person_name,
                person_badge=row.person_badge,
            )
            yield Link(row.id, link_hash(key, fields), row.prev_hash, row.hash)

    def verify(self) -> ChainReport:
        """The access log's chain against its head (no checkpoint: see
        ``kiosk.storage.integrity.check`` for the full check)."""
        result = walk_chain(self.links(), self.head(), None)
        return ChainReport(
            ok=not result.problems,
            checked=result.checked,
            first_bad_id=result.first_bad_id,
            problem=result.problems[0] if result.problems else "",
            problems=result.problems,
        )

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

    def orphan_snapshots(self) -> list[int]:
        """The event ids of snapshot rows whose event does not exist (only writing the
        database with its foreign keys off makes them)."""
        query = (
            select(SnapshotRow.event_id)
            .outerjoin(EventRow, EventRow.id == SnapshotRow.event_id)
            .where(EventRow.id.is_(None))
            .order_by(SnapshotRow.event_id)
        )
        return [int(i) for i in self.session.scalars(query)]

    def count_snapshots(self) -> int:
        return int(self.session.scalar(select(func.count()).select_from(SnapshotRow)) or 0)


def filter_events(query: Any, flt: EventFilter | None) -> Any:
    """Restrict an event query to the filter's time range, person, decision and kiosk."""
    if flt is None:
        return query
    conditions = []
    if flt.since is not None:
        conditions.append(EventRow.time >= flt.since)
    if flt.until is not None:
        conditions.append(EventRow.time < flt.until)
    people = {*flt.person_ids, *(() if flt.person_id is None else (flt.person_id,))}
    if len(people) == 1:
        conditions.append(EventRow.person_id == next(iter(people)))
    elif people:
        conditions.append(EventRow.person_id.in_(sorted(people)))
    if flt.denials:
        conditions.append(EventRow.decision.like("denied-%"))
    if flt.decision is not None:
        conditions.append(EventRow.decision == flt.decision)
    if flt.kiosk_id is not None:
        conditions.append(EventRow.kiosk_id == flt.kiosk_id)
    return query.where(and_(*conditions)) if conditions else query


def event_listing() -> Any:
    """Events with the name and badge recorded with them (in the chain) and whether a
    snapshot is kept. A row without a recorded name (written by hand, not by the kiosk;
    ``log verify`` names it) shows the person's current name."""
    # Plain columns rather than ORM entities: a million-row export or verify does not
    # pay for identity-map bookkeeping.
    events = EventRow.__table__
    return select(
        *[c for c in events.c if c.name not in ("person_name", "person_badge")],
        func.coalesce(EventRow.person_name, PersonRow.name).label("person_name"),
        func.coalesce(EventRow.person_badge, PersonRow.badge).label("person_badge"),
        SnapshotRow.event_id.is_not(None).label("has_snapshot"),
    ).select_from(
        events.outerjoin(PersonRow.__table__, PersonRow.id == EventRow.person_id).outerjoin(
            SnapshotRow.__table__, SnapshotRow.event_id == EventRow.id
        )
    )


def _decision(text: str) -> tuple[Decision, str]:
    try:
        return Decision(text), ""
    except ValueError:  # written outside the kiosk; `log verify` names the row
        return Decision.ERROR, f"[unknown decision {limits.printable(text, 40)!r} stored] "


def logged_event(row: Any) -> LoggedEvent:
    decision, note = _decision(row.decision)
    return LoggedEvent(
        id=row.id,
        event=AccessEvent(
            time=row.time,
            kiosk_id=row.kiosk_id,
            decision=decision,
            person_id=row.person_id,
            score=row.score,
            threshold=row.threshold,
            model_version=row.model_version,
            latency_ms=row.latency_ms,
            reason=note + row.reason,
        ),
        person_name=row.person_name,
        person_badge=row.person_badge,
        has_snapshot=bool(row.has_snapshot),
    )
