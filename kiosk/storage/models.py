"""SQLAlchemy 2.0 table models. Only the storage package sees them; repositories hand out
the plain domain objects of :mod:`kiosk.domain`.

The schema itself is created and changed by the Alembic migrations in ``db/versions``;
``tests/storage/test_migrations.py`` checks that these models and the migrations agree.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    Time,
    TypeDecorator,
    false,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: a 64-bit key that is SQLite's rowid (fast) and a BIGINT on PostgreSQL
BigId = BigInteger().with_variant(Integer, "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes in, stored as naive UTC (same on SQLite and PostgreSQL)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("datetimes stored in the database must be timezone-aware")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Meta(Base):
    """Key/value facts about this database (e.g. which encryption key it belongs to)."""

    __tablename__ = "meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class PersonRow(Base):
    __tablename__ = "people"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    badge: Mapped[str] = mapped_column(String(100), unique=True)
    group_name: Mapped[str | None] = mapped_column(String(100), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    valid_from: Mapped[datetime | None] = mapped_column(UTCDateTime)
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    consent_by: Mapped[str | None] = mapped_column(String(100))
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: set when the person's biometric data was erased; the row stays so that past
    #: access events still name someone
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: MAC of what the kiosk decides on (kiosk.storage.chain.person_seal)
    seal: Mapped[str | None] = mapped_column(String(64))
    #: a visitor's pass: listed apart from staff, erased when ``valid_until`` has passed
    visitor: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class TemplateRow(Base):
    __tablename__ = "templates"
    __table_args__ = (
        Index("ix_templates_model_person", "model_checksum", "person_id"),
        Index("ix_templates_person_content", "person_id", "content_sha256"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    person_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("people.id", ondelete="CASCADE"), index=True
    )
    #: AES-GCM(float32[128]); see kiosk.storage.crypto
    embedding: Mapped[bytes] = mapped_column(LargeBinary)
    model_name: Mapped[str] = mapped_column(String(100))
    model_version: Mapped[str] = mapped_column(String(100))
    model_checksum: Mapped[str] = mapped_column(String(64))
    quality: Mapped[float] = mapped_column(Double)
    source: Mapped[str] = mapped_column(String(300))  # "camera" or "file:<name>"
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: AES-GCM(JPEG of the aligned 150x150 chip), kept to recompute for a new model
    crop: Mapped[bytes | None] = mapped_column(LargeBinary)
    #: sha256 of the photo file it came from: the same photo is not stored twice for a
    #: person (an enrollment run again after a crash adds nothing)
    content_sha256: Mapped[str | None] = mapped_column(String(64))
    #: binds the template to its person (kiosk.storage.repositories.templates.template_seal)
    seal: Mapped[str | None] = mapped_column(String(64))
    #: what the enrollment gate warned of ("blurred; small face"), or None: accepted, but
    #: it may match less well (kept for review; not part of the seal)
    warnings: Mapped[str | None] = mapped_column(String(500))


class EventRow(Base):
    """One access decision. ``id`` is the position in the hash chain (1, 2, 3, ...)."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_person_id_id", "person_id", "id"),
        Index("ix_events_decision_id", "decision", "id"),
        Index("ix_events_kiosk_id_id", "kiosk_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    time: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    kiosk_id: Mapped[str] = mapped_column(String(100))
    decision: Mapped[str] = mapped_column(String(20))
    person_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("people.id"))
    score: Mapped[float | None] = mapped_column(Double)
    threshold: Mapped[float | None] = mapped_column(Double)
    model_version: Mapped[str | None] = mapped_column(String(100))
    latency_ms: Mapped[float | None] = mapped_column(Double)
    reason: Mapped[str] = mapped_column(Text, default="")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    #: who the decision was about at that moment (in the chain: renaming the person later
    #: does not rewrite history)
    person_name: Mapped[str | None] = mapped_column(String(200))
    person_badge: Mapped[str | None] = mapped_column(String(100))


class ChainHead(Base):
    """The last link of a chain (id 1: the access log, id 2: the operators' actions).
    Writers lock it, so a chain stays a line even with several kiosks writing to one
    PostgreSQL server; its MAC (count and last hash, with the key) reveals rows deleted
    from the end and a head pointed at a shorter chain."""

    __tablename__ = "chain_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_id: Mapped[int] = mapped_column(BigInteger)
    last_hash: Mapped[str] = mapped_column(String(64))
    mac: Mapped[str | None] = mapped_column(String(64))


class SnapshotRow(Base):
    """The camera crop of one access event (encrypted); outside the hash chain because it
    expires (purge) and is erased with the person."""

    __tablename__ = "snapshots"

    event_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("events.id", ondelete="CASCADE"), primary_key=True
    )
    person_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("people.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class AdminRow(Base):
    __tablename__ = "admins"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(300))
    role: Mapped[str] = mapped_column(String(20))
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: the id of the admin action that last changed the account (in its seal)
    generation: Mapped[int | None] = mapped_column(BigInteger)
    #: MAC of who the account is and what it may do (kiosk.storage.chain.account_seal)
    seal: Mapped[str | None] = mapped_column(String(64))


class AdminActionRow(Base):
    """Who did what: signed in, enrolled, edited, erased, changed a setting, exported
    the log. A hash chain like the access log: ``id`` is the position (1, 2, 3, ...)."""

    __tablename__ = "admin_actions"
    __table_args__ = (Index("ix_admin_actions_target_id", "target", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    time: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    admin: Mapped[str | None] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(50))
    target: Mapped[str] = mapped_column(String(300), default="")
    details: Mapped[str] = mapped_column(Text, default="")
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64))


class ScheduleWindowRow(Base):
    __tablename__ = "schedule_windows"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    group_name: Mapped[str] = mapped_column(String(100), index=True)
    weekday: Mapped[int] = mapped_column(Integer)
    start: Mapped[time] = mapped_column(Time)
    end: Mapped[time] = mapped_column(Time)


class HolidayRow(Base):
    __tablename__ = "holidays"

    group_name: Mapped[str] = mapped_column(String(100), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)


class GroupRow(Base):
    """An access group: it exists (a typo in ``--group`` is refused, not a new group),
    and the seal of its rules (windows and holidays; none: any time)."""

    __tablename__ = "access_groups"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    seal: Mapped[str] = mapped_column(String(64))


class KioskStatusRow(Base):
    """The latest heartbeat of each kiosk (one row per kiosk, overwritten): its state,
    since when, and its last decision. Outside the hash chains: it is a status board,
    not a record; the changes themselves are in the access log."""

    __tablename__ = "kiosk_status"

    kiosk_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    state: Mapped[str] = mapped_column(String(30))
    detail: Mapped[str] = mapped_column(Text, default="")
    beat_at: Mapped[datetime] = mapped_column(UTCDateTime)
    since: Mapped[datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_decision_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
