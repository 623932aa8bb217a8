"""Repositories over one SQLAlchemy session: they take and return plain objects.

They never commit; the unit of work (:mod:`kiosk.storage.store`) does, once per use case.
"""

from __future__ import annotations

import builtins
import hmac
import json
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import and_, delete, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kiosk.domain.access import AccessEvent, AccessSchedule, Decision, Person, TimeWindow
from kiosk.domain.faces import FloatArray, ModelInfo
from kiosk.errors import InputError
from kiosk.storage import limits
from kiosk.storage.chain import (
    ACTIONS_CHAIN,
    EVENTS_CHAIN,
    GENESIS,
    ActionFields,
    ChainFields,
    ChainReport,
    Head,
    Link,
    account_seal,
    action_hash,
    head_mac,
    link_hash,
    person_seal,
    rules_seal,
    same,
    walk_chain,
)
from kiosk.storage.crypto import EMBEDDING_DIM, PURPOSE_CROP, PURPOSE_SNAPSHOT, Cipher
from kiosk.storage.errors import TamperedRecord
from kiosk.storage.models import (
    AdminActionRow,
    AdminRow,
    ChainHead,
    EventRow,
    GroupRow,
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
    DamagedTemplate,
    EventFilter,
    LoggedEvent,
    PersonRecord,
    Role,
    TemplateInfo,
)

log = logging.getLogger(__name__)

#: called with (chain, count, last hash) when a unit of work extends a chain; the unit of
#: work copies the newest head to the checkpoint file after its commit
OnExtend = Callable[[int, int, str], None]

#: admin actions that change an account (its seal records the id of the latest)
ACCOUNT_ACTIONS = (
    "admin-add",
    "admin-passwd",
    "admin-role",
    "admin-disable",
    "admin-enable",
    "admin-delete",
    "admin-seal",
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


def _seal_of(key: bytes, row: PersonRow) -> str:
    return person_seal(
        key,
        id=row.id,
        name=row.name,
        badge=row.badge,
        group=row.group_name,
        active=bool(row.active),
        valid_from=row.valid_from,
        valid_until=row.valid_until,
        erased_at=row.erased_at,
    )


def _record(row: PersonRow, templates: int = 0, *, sealed: bool = True) -> PersonRecord:
    return PersonRecord(
        person=_person(row),
        consent_at=row.consent_at,
        consent_by=row.consent_by,
        notes=row.notes,
        created_at=row.created_at,
        updated_at=row.updated_at,
        erased_at=row.erased_at,
        templates=templates,
        sealed=sealed,
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


# -- people and groups -------------------------------------------------------------------


def _checked_person_changes(changes: dict[str, Any]) -> dict[str, Any]:
    """The input boundary for a person's columns (same limits on SQLite and PostgreSQL)."""
    out = dict(changes)
    if "name" in out:
        out["name"] = limits.check_name(out["name"])
    if "badge" in out:
        out["badge"] = limits.check_badge(out["badge"])
    if "group_name" in out:
        out["group_name"] = limits.check_group(out["group_name"])
    if "notes" in out:
        out["notes"] = limits.check_notes(out["notes"] or "")
    if "consent_by" in out:
        out["consent_by"] = limits.check_optional(
            out["consent_by"], "consent given to", limits.USERNAME_MAX
        )
    for key, what in (("valid_from", "start of access"), ("valid_until", "end of access")):
        if key in out:
            out[key] = limits.check_time(out[key], what)
    return out


class PeopleRepository:
    def __init__(self, session: Session, key: bytes) -> None:
        self.session = session
        self.key = key

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
        values = _checked_person_changes(
            {
                "name": name,
                "badge": badge,
                "group_name": group,
                "valid_from": valid_from,
                "valid_until": valid_until,
                "consent_by": consent_by,
                "notes": notes,
            }
        )
        now = utcnow()
        row = PersonRow(
            **values,
            active=active,
            consent_at=consent_at,
            created_at=now,
            updated_at=now,
        )
        self.session.add(row)
        self.session.flush()
        if row.group_name:
            GroupRepository(self.session, self.key).ensure(row.group_name)
        row.seal = _seal_of(self.key, row)
        self.session.flush()
        return _person(row)

    def _sealed(self, row: PersonRow) -> bool:
        return same(row.seal, _seal_of(self.key, row))

    def get(self, person_id: int) -> Person | None:
        row = self.session.get(PersonRow, person_id)
        return None if row is None else _person(row)

    def get_verified(self, person_id: int) -> Person | None:
        """The person as the kiosk decides on them: :class:`TamperedRecord` when the row
        or the rules of their group were changed outside the kiosk."""
        row = self.session.get(PersonRow, person_id)
        if row is None:
            return None
        if not self._sealed(row):
            raise TamperedRecord(
                f"the record of person {row.id} was changed outside the kiosk (its seal "
                "does not match): access refused; run `kiosk log verify`"
            )
        if row.group_name and not GroupRepository(self.session, self.key).verified(row.group_name):
            raise TamperedRecord(
                f"the access rules of group {row.group_name!r} were changed outside the kiosk "
                "(their seal does not match): access refused; run `kiosk log verify`"
            )
        return _person(row)

    def record(self, person_id: int) -> PersonRecord | None:
        row = self.session.get(PersonRow, person_id)
        if row is None:
            return None
        count = self.session.scalar(
            select(func.count()).select_from(TemplateRow).where(TemplateRow.person_id == row.id)
        )
        return _record(row, count or 0, sealed=self._sealed(row))

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
        return [
            _record(row, int(n), sealed=self._sealed(row)) for row, n in self.session.execute(query)
        ]

    def unsealed(self, *, batch: int = 5000) -> Iterator[tuple[int, str]]:
        """(id, badge) of every person whose row was changed outside the kiosk."""
        query = select(PersonRow).order_by(PersonRow.id).execution_options(yield_per=batch)
        for row in self.session.scalars(query):
            if not self._sealed(row):
                yield row.id, row.badge

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
        if not self._sealed(row):
            raise TamperedRecord(
                f"the record of badge {limits.printable(row.badge, 100)} was changed outside "
                "the kiosk (its seal does not match): it cannot be edited; erase it and enroll "
                "the person again"
            )
        for key in changes:
            if not hasattr(PersonRow, key) or key in ("id", "created_at", "seal"):
                raise AttributeError(key)
        for key, value in _checked_person_changes(changes).items():
            setattr(row, key, value)
        row.updated_at = utcnow()
        if row.group_name:
            GroupRepository(self.session, self.key).ensure(row.group_name)
        row.seal = _seal_of(self.key, row)
        self.session.flush()
        return _person(row)

    def mark_erased(self, person_id: int) -> None:
        row = self.session.get(PersonRow, person_id, with_for_update=True)
        if row is None:
            return
        now = utcnow()
        row.active = False
        row.erased_at = now
        row.updated_at = now
        row.notes = ""
        row.seal = _seal_of(self.key, row)
        self.session.flush()


def _rules(session: Session, group: str) -> tuple[list[ScheduleWindowRow], list[Any]]:
    windows = list(
        session.scalars(
            select(ScheduleWindowRow)
            .where(ScheduleWindowRow.group_name == group)
            .order_by(ScheduleWindowRow.weekday, ScheduleWindowRow.start)
        )
    )
    holidays = list(session.scalars(select(HolidayRow.day).where(HolidayRow.group_name == group)))
    return windows, holidays


class GroupRepository:
    """Access groups: which exist, and the seal of each one's rules."""

    def __init__(self, session: Session, key: bytes) -> None:
        self.session = session
        self.key = key

    def names(self) -> list[str]:
        return sorted(self.session.scalars(select(GroupRow.name)), key=str.lower)

    def exists(self, name: str) -> bool:
        return self.session.get(GroupRow, name) is not None

    def _seal(self, name: str) -> str:
        windows, holidays = _rules(self.session, name)
        return rules_seal(self.key, name, [(w.weekday, w.start, w.end) for w in windows], holidays)

    def ensure(self, name: str) -> None:
        """Create the group (no rules: any time) if it does not exist yet."""
        name = limits.check_text(name, "group", limits.GROUP_MAX)
        if self.session.get(GroupRow, name) is None:
            self.session.flush()
            self.session.add(GroupRow(name=name, seal=self._seal(name)))
            self.session.flush()

    def reseal(self, name: str) -> None:
        self.session.flush()
        row = self.session.get(GroupRow, name)
        if row is None:
            self.session.add(GroupRow(name=name, seal=self._seal(name)))
        else:
            row.seal = self._seal(name)
        self.session.flush()

    def verified(self, name: str) -> bool:
        row = self.session.get(GroupRow, name)
        return row is not None and same(row.seal, self._seal(name))

    def unsealed(self) -> list[str]:
        """Groups whose rules were changed outside the kiosk, or that people use and that
        the kiosk never created."""
        names = set(self.session.scalars(select(PersonRow.group_name).distinct()))
        names |= set(self.session.scalars(select(ScheduleWindowRow.group_name).distinct()))
        names |= set(self.session.scalars(select(HolidayRow.group_name).distinct()))
        names |= set(self.session.scalars(select(GroupRow.name)))
        return sorted(n for n in names if n and not self.verified(n))


# -- templates ---------------------------------------------------------------------------


def template_seal(
    key: bytes, template_id: int, person_id: int, model_checksum: str, blob: bytes
) -> str:
    """Binds a template to its person: moving it to someone else breaks the seal. Covers
    the ciphertext by its AES-GCM tag (its last 16 bytes); plain HMAC for speed (a
    million templates are checked at every gallery load)."""
    message = f"template/1|{template_id}|{person_id}|{model_checksum}|".encode() + blob[-16:]
    return hmac.digest(key, message, "sha256").hex()


class TemplateRepository:
    def __init__(self, session: Session, cipher: Cipher, key: bytes) -> None:
        self.session = session
        self.cipher = cipher
        self.key = key

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
        content_sha256: str | None = None,
    ) -> int:
        blob = self.cipher.encrypt_embedding(embedding)
        row = TemplateRow(
            person_id=person_id,
            embedding=blob,
            model_name=model.name,
            model_version=model.version,
            model_checksum=model.checksum,
            quality=float(quality),
            source=limits.printable(source, 300),
            created_at=created_at or utcnow(),
            crop=None if crop_jpeg is None else self.cipher.encrypt(crop_jpeg, PURPOSE_CROP),
            content_sha256=content_sha256,
        )
        self.session.add(row)
        self.session.flush()
        row.seal = template_seal(self.key, row.id, person_id, model.checksum, blob)
        self.session.flush()
        return row.id

    def has_content(self, person_id: int, content_sha256: str) -> bool:
        """Whether this photo (by its content) is already stored for the person."""
        found = self.session.scalar(
            select(TemplateRow.id)
            .where(TemplateRow.person_id == person_id, TemplateRow.content_sha256 == content_sha256)
            .limit(1)
        )
        return found is not None

    def contents(self, person_id: int) -> set[str]:
        """The content hashes of the photos stored for a person."""
        found = self.session.scalars(
            select(TemplateRow.content_sha256).where(
                TemplateRow.person_id == person_id, TemplateRow.content_sha256.is_not(None)
            )
        )
        return {c for c in found if c}

    def _usable(self, row: Any) -> bool:
        """The seal holds and the embedding decrypts."""
        if not same(
            row.seal,
            template_seal(self.key, row.id, row.person_id, row.model_checksum, row.embedding),
        ):
            return False
        try:
            self.cipher.decrypt_embedding(row.embedding)
        except Exception:
            return False
        return True

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
                damaged=not self._usable(r),
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
        """The decrypted crop; ``None`` when there is none or it is damaged."""
        blob = self.session.scalar(select(TemplateRow.crop).where(TemplateRow.id == template_id))
        if blob is None:
            return None
        try:
            return self.cipher.decrypt(blob, PURPOSE_CROP)
        except Exception:
            log.error("the face crop of template %s is damaged; not shown", template_id)
            return None

    def gallery(
        self,
        model_checksum: str | None = None,
        *,
        batch: int = 20_000,
        damaged: list[DamagedTemplate] | None = None,
    ) -> tuple[FloatArray, list[int]]:
        """Every template of every person not erased, decrypted: (M, 128) and person ids.

        Deactivated people stay in: the kiosk must recognise them to say so. A template
        whose seal does not hold (moved to another person, altered) or that does not
        decrypt is skipped, logged and added to ``damaged``: everyone else is still
        recognised."""
        # Textual SQL on purpose: with a million templates, SQLAlchemy's per-row result
        # processing costs more than the decryption (see bench/storage_scale.py).
        sql = (
            "SELECT t.id, t.person_id, t.model_checksum, t.embedding, t.seal FROM templates t "
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
        bad: list[tuple[int, int]] = []
        key = self.key
        digest = hmac.digest
        for partition in result.partitions(batch):
            good = []
            for tid, pid, checksum, blob, seal in partition:
                blob = bytes(blob)
                expected = digest(
                    key, f"template/1|{tid}|{pid}|{checksum}|".encode() + blob[-16:], "sha256"
                ).hex()
                if seal is None or not hmac.compare_digest(seal, expected):
                    bad.append((int(tid), int(pid)))
                    continue
                good.append((int(pid), blob, int(tid)))
            try:
                chunks.append(self.cipher.decrypt_embeddings([g[1] for g in good]))
                labels.extend(g[0] for g in good)
            except Exception:
                for pid, blob, tid in good:  # find the damaged ones, keep the others
                    try:
                        chunks.append(self.cipher.decrypt_embedding(blob).reshape(1, -1))
                    except Exception:
                        bad.append((tid, pid))
                        continue
                    labels.append(pid)
        if bad:
            report = self._damaged(bad)
            for d in report:
                log.error("recognition: %s", d.describe())
            if damaged is not None:
                damaged.extend(report)
        chunks = [c for c in chunks if len(c)]
        if not chunks:
            return np.zeros((0, EMBEDDING_DIM), dtype=np.float32), []
        return np.concatenate(chunks), labels

    def _damaged(self, pairs: list[tuple[int, int]]) -> list[DamagedTemplate]:
        badges = dict(
            self.session.execute(
                select(PersonRow.id, PersonRow.badge).where(
                    PersonRow.id.in_({p for _, p in pairs[:500]})
                )
            ).all()
        )
        return [DamagedTemplate(t, p, badges.get(p)) for t, p in pairs]

    def damaged(self, *, batch: int = 20_000) -> list[DamagedTemplate]:
        """Every template that recognition would skip (for ``log verify``)."""
        found: list[DamagedTemplate] = []
        self.gallery(None, batch=batch, damaged=found)
        return found

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
        rows = self.session.scalars(
            select(TemplateRow).where(
                TemplateRow.crop.is_not(None), TemplateRow.created_at < before
            )
        ).all()
        for row in rows:
            row.crop = None
        self.session.flush()
        return len(rows)


# -- the chains --------------------------------------------------------------------------


class _Chain:
    """The head of one chain, locked for the rest of the transaction (SELECT ... FOR
    UPDATE on PostgreSQL; BEGIN IMMEDIATE already serialises writers on SQLite)."""

    def __init__(self, session: Session, key: bytes, chain: int, on_extend: OnExtend | None):
        self.session = session
        self.key = key
        self.chain = chain
        self.on_extend = on_extend

    def lock(self) -> ChainHead:
        head = self.session.scalar(
            select(ChainHead).where(ChainHead.id == self.chain).with_for_update()
        )
        if head is None:
            head = ChainHead(
                id=self.chain,
                last_id=0,
                last_hash=GENESIS,
                mac=head_mac(self.key, self.chain, 0, GENESIS),
            )
            self.session.add(head)
            self.session.flush()
        return head

    def authentic(self, head: ChainHead) -> bool:
        return same(head.mac, head_mac(self.key, self.chain, head.last_id, head.last_hash))

    def advance(self, head: ChainHead, last_id: int, last_hash: str) -> None:
        # A head altered outside the kiosk stays unauthenticated: extending it must not
        # launder the tampering (``log verify`` keeps naming it).
        authentic = self.authentic(head)
        head.last_id = last_id
        head.last_hash = last_hash
        head.mac = head_mac(self.key, self.chain, last_id, last_hash) if authentic else None
        if authentic and self.on_extend is not None:
            self.on_extend(self.chain, last_id, last_hash)

    def read(self) -> Head | None:
        row = self.session.get(ChainHead, self.chain)
        if row is None:
            return None
        return Head(int(row.last_id), row.last_hash, self.authentic(row))


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

    def head(self) -> Head | None:
        return self._chain.read()

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

    def count_snapshots(self) -> int:
        return int(self.session.scalar(select(func.count()).select_from(SnapshotRow)) or 0)


# -- admin accounts ----------------------------------------------------------------------


def _role(text: str) -> Role | None:
    try:
        return Role(text)
    except ValueError:
        return None


class AdminRepository:
    """Admin accounts, each sealed with the key and the id of the action that last changed
    it; a row the kiosk did not write (inserted, altered, an older copy put back) is not
    ``sealed`` and cannot sign in."""

    def __init__(self, session: Session, key: bytes) -> None:
        self.session = session
        self.key = key

    def _seal(self, row: AdminRow) -> str:
        return account_seal(
            self.key,
            id=row.id,
            username=row.username,
            password_hash=row.password_hash,
            role=row.role,
            disabled=bool(row.disabled),
            generation=int(row.generation or 0),
        )

    def _latest_change(self, username: str) -> int | None:
        return self.session.scalar(
            select(func.max(AdminActionRow.id)).where(
                AdminActionRow.target == username, AdminActionRow.action.in_(ACCOUNT_ACTIONS)
            )
        )

    def sealed(self, row: AdminRow) -> bool:
        if _role(row.role) is None or row.generation is None:
            return False
        if not same(row.seal, self._seal(row)):
            return False
        return self._latest_change(row.username) == row.generation

    def _account(self, row: AdminRow) -> AdminAccount:
        role = _role(row.role)
        return AdminAccount(
            id=row.id,
            username=row.username,
            role=role or Role.AUDITOR,  # an unknown role is shown, never granted
            failed_logins=row.failed_logins,
            locked_until=row.locked_until,
            created_at=row.created_at,
            last_login_at=row.last_login_at,
            disabled=bool(row.disabled),
            sealed=self.sealed(row),
        )

    def add(
        self, username: str, password_hash: str, role: Role, *, generation: int
    ) -> AdminAccount:
        """A new account, sealed at ``generation`` (the id of its ``admin-add`` action)."""
        row = AdminRow(
            username=limits.check_username(username),
            password_hash=password_hash,
            role=str(role),
            failed_logins=0,
            created_at=utcnow(),
            disabled=False,
            generation=generation,
        )
        self.session.add(row)
        try:
            self.session.flush()
        except IntegrityError:  # another program added the same name meanwhile
            raise InputError(f"the admin account {row.username} already exists") from None
        row.seal = self._seal(row)
        self.session.flush()
        return self._account(row)

    def get(self, username: str) -> AdminAccount | None:
        row = self._row(username)
        return None if row is None else self._account(row)

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
            self._account(r)
            for r in self.session.scalars(select(AdminRow).order_by(AdminRow.username))
        ]

    def count(self) -> int:
        return int(self.session.scalar(select(func.count()).select_from(AdminRow)) or 0)

    def update(self, username: str, *, generation: int | None = None, **changes: Any) -> None:
        """Change columns. Changing who the account is or what it may do (password, role,
        disabled) needs ``generation``, the id of the action recording it; the account is
        sealed again. Sign-in bookkeeping (failures, lock, last sign-in) is not sealed."""
        row = self._row(username, lock=True)
        if row is None:
            raise LookupError(username)
        sealed_columns = {"password_hash", "role", "disabled"}
        for key in changes:
            if not hasattr(AdminRow, key) or key in ("id", "username", "seal", "generation"):
                raise AttributeError(key)
        if sealed_columns & set(changes) and generation is None:
            raise ValueError("changing a sealed column needs the generation of its action")
        for key, value in changes.items():
            setattr(row, key, value)
        if generation is not None:
            row.generation = generation
            row.seal = self._seal(row)
        self.session.flush()

    def delete(self, username: str) -> None:
        self.session.execute(delete(AdminRow).where(AdminRow.username == username))

    def unsealed(self) -> builtins.list[str]:
        return [r.username for r in self.session.scalars(select(AdminRow)) if not self.sealed(r)]


# -- the operators' actions --------------------------------------------------------------


class AuditRepository:
    """The operators' actions: who signed in (or failed to), enrolled, edited, erased,
    changed a setting, exported the log; a hash chain like the access log."""

    HEAD_ID = ACTIONS_CHAIN

    def __init__(self, session: Session, key: bytes, on_extend: OnExtend | None = None) -> None:
        self.session = session
        self.key = key
        self._chain = _Chain(session, key, ACTIONS_CHAIN, on_extend)

    def record(self, admin: str | None, action: str, target: str = "", **details: object) -> int:
        """Append an action; returns its id (its position in the chain)."""
        head = self._chain.lock()
        fields = ActionFields(
            id=head.last_id + 1,
            time=utcnow(),
            admin=None if admin is None else limits.printable(admin, limits.USERNAME_MAX),
            action=limits.printable(action, 50),
            target=limits.printable(target, limits.ACTION_TARGET_MAX),
            details=json.dumps(details, sort_keys=True, default=str) if details else "",
            prev_hash=head.last_hash,
        )
        digest = action_hash(self.key, fields)
        self.session.add(
            AdminActionRow(
                id=fields.id,
                time=fields.time,
                admin=fields.admin,
                action=fields.action,
                target=fields.target,
                details=fields.details,
                prev_hash=fields.prev_hash,
                hash=digest,
            )
        )
        self._chain.advance(head, fields.id, digest)
        self.session.flush()
        return fields.id

    def list(
        self,
        *,
        limit: int = 100,
        action: str | None = None,
        admin: str | None = None,
        before_id: int | None = None,
    ) -> list[AdminAction]:
        """Newest first."""
        query = select(AdminActionRow).order_by(AdminActionRow.id.desc()).limit(limit)
        if action is not None:
            query = query.where(AdminActionRow.action == action)
        if admin is not None:
            query = query.where(AdminActionRow.admin == admin)
        if before_id is not None:
            query = query.where(AdminActionRow.id < before_id)
        return [
            AdminAction(r.id, r.time, r.admin, r.action, r.target, r.details)
            for r in self.session.scalars(query)
        ]

    def head(self) -> Head | None:
        return self._chain.read()

    def links(self, *, batch: int = 10_000) -> Iterator[Link]:
        query = (
            select(AdminActionRow.__table__)
            .order_by(AdminActionRow.id)
            .execution_options(yield_per=batch)
        )
        for row in self.session.execute(query):
            fields = ActionFields(
                row.id, row.time, row.admin, row.action, row.target, row.details, row.prev_hash
            )
            yield Link(row.id, action_hash(self.key, fields), row.prev_hash or "", row.hash or "")

    def of_kind(self, action: str) -> builtins.list[AdminAction]:
        """Every action of one kind, oldest first."""
        query = (
            select(AdminActionRow)
            .where(AdminActionRow.action == action)
            .order_by(AdminActionRow.id)
        )
        return [
            AdminAction(r.id, r.time, r.admin, r.action, r.target, r.details)
            for r in self.session.scalars(query)
        ]


# -- access rules ------------------------------------------------------------------------


class ScheduleRepository:
    def __init__(self, session: Session, key: bytes) -> None:
        self.session = session
        self.key = key

    def get(self, group: str) -> AccessSchedule | None:
        """The group's schedule, or ``None`` when the group has none (any time)."""
        windows, holidays = _rules(self.session, group)
        if not windows and not holidays:
            return None
        return AccessSchedule(
            windows=tuple(TimeWindow(w.weekday, w.start, w.end) for w in windows),
            holidays=frozenset(holidays),
        )

    def set(self, group: str, schedule: AccessSchedule | None) -> None:
        """Replace the group's rules (``None``: any time); creates the group and seals
        its rules."""
        group = limits.check_text(group, "group", limits.GROUP_MAX)
        self.session.execute(delete(ScheduleWindowRow).where(ScheduleWindowRow.group_name == group))
        self.session.execute(delete(HolidayRow).where(HolidayRow.group_name == group))
        if schedule is not None:
            for w in schedule.windows:
                self.session.add(
                    ScheduleWindowRow(group_name=group, weekday=w.weekday, start=w.start, end=w.end)
                )
            for day in sorted(schedule.holidays):
                self.session.add(HolidayRow(group_name=group, day=day))
        self.session.flush()
        GroupRepository(self.session, self.key).reseal(group)


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
