"""Plain records the repositories hand out besides the domain objects (no SQLAlchemy)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from kiosk.domain.access import AccessEvent, Person


class Role(enum.StrEnum):
    ADMIN = "admin"  # everything
    AUDITOR = "auditor"  # may only read and export the access log


@dataclass(frozen=True)
class PersonRecord:
    """A person with the administrative details the kiosk itself does not need."""

    person: Person
    consent_at: datetime | None
    consent_by: str | None
    notes: str
    created_at: datetime
    updated_at: datetime
    erased_at: datetime | None
    templates: int = 0
    #: False when the row was changed outside the kiosk: the kiosk refuses the person
    sealed: bool = True
    #: a visitor's pass (one day): listed apart, erased by retention when it ends
    visitor: bool = False

    @property
    def erased(self) -> bool:
        return self.erased_at is not None


@dataclass(frozen=True)
class TemplateInfo:
    id: int
    person_id: int
    model_name: str
    model_version: str
    model_checksum: str
    quality: float
    source: str
    created_at: datetime
    has_crop: bool
    damaged: bool = False  # cannot be decrypted for its person: skipped by recognition
    warnings: str | None = None  # what the enrollment gate warned of, if anything


@dataclass(frozen=True)
class DamagedTemplate:
    """A template that cannot be decrypted for its person (altered, moved to another
    person, or damaged on disk): recognition skips it and staff are told."""

    id: int
    person_id: int
    badge: str | None

    def describe(self) -> str:
        who = f"badge {self.badge}" if self.badge else f"person {self.person_id}"
        return (
            f"face template {self.id} of {who} is damaged or was altered; it is skipped "
            "(re-enroll that person's photos)"
        )


@dataclass(frozen=True)
class LoggedEvent:
    """An access event as stored: its chain position and the person's name, if any."""

    id: int
    event: AccessEvent
    person_name: str | None
    person_badge: str | None
    has_snapshot: bool


@dataclass(frozen=True)
class EventFilter:
    since: datetime | None = None
    until: datetime | None = None
    person_id: int | None = None
    decision: str | None = None
    kiosk_id: str | None = None
    #: events of any of these people (with ``person_id``: of it too)
    person_ids: tuple[int, ...] = ()
    #: every denial (any ``denied-*`` decision)
    denials: bool = False


@dataclass(frozen=True)
class AdminAccount:
    id: int
    username: str
    role: Role
    failed_logins: int
    locked_until: datetime | None
    created_at: datetime
    last_login_at: datetime | None
    disabled: bool = False
    #: False when the row was not written by the kiosk (no seal, a seal that does not
    #: match, an unknown role, an older copy put back): such an account cannot sign in
    sealed: bool = True


@dataclass(frozen=True)
class AdminAction:
    id: int
    time: datetime
    admin: str | None
    action: str
    target: str
    details: str
