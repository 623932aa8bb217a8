"""People, access rules and access decisions: the kiosk's vocabulary, free of any framework."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime, time


class Decision(enum.StrEnum):
    """What the kiosk decided for one attempt; stored in the access log."""

    ALLOWED = "allowed"
    DENIED_UNKNOWN = "denied-unknown"
    DENIED_INACTIVE = "denied-inactive"  # deactivated, not yet valid or expired
    DENIED_SCHEDULE = "denied-schedule"  # outside the group's access hours
    DENIED_SPOOF = "denied-spoof"  # failed the liveness check
    ERROR = "error"  # camera outage, door failure, internal error

    @property
    def allowed(self) -> bool:
        return self is Decision.ALLOWED

    @property
    def words(self) -> str:
        """Plain words for staff (the stored value, e.g. ``denied-schedule``, is a key)."""
        return _DECISION_WORDS[self]


_DECISION_WORDS = {
    Decision.ALLOWED: "Entered",
    Decision.DENIED_UNKNOWN: "Denied: face not recognised",
    Decision.DENIED_INACTIVE: "Denied: access not valid now",
    Decision.DENIED_SCHEDULE: "Denied: outside access hours",
    Decision.DENIED_SPOOF: "Denied: photo or screen shown",
    Decision.ERROR: "Kiosk problem",
}


@dataclass(frozen=True)
class TimeWindow:
    """Access on ``weekday`` (0 = Monday) from ``start`` to ``end``, local time."""

    weekday: int
    start: time
    end: time

    def contains(self, when: datetime) -> bool:
        return when.weekday() == self.weekday and self.start <= when.time() < self.end


@dataclass(frozen=True)
class AccessSchedule:
    """A group's weekly access windows and its holidays (no access on those days).

    No windows at all means "any time" (except holidays)."""

    windows: tuple[TimeWindow, ...] = ()
    holidays: frozenset[date] = field(default_factory=frozenset)

    def allows(self, when_local: datetime) -> bool:
        if when_local.date() in self.holidays:
            return False
        return not self.windows or any(w.contains(when_local) for w in self.windows)


@dataclass(frozen=True)
class Person:
    """An enrolled person as the kiosk sees them (no biometric data here)."""

    id: int
    name: str
    badge: str
    group: str | None = None
    active: bool = True
    valid_from: datetime | None = None  # timezone-aware UTC
    valid_until: datetime | None = None


@dataclass(frozen=True)
class AccessCheck:
    decision: Decision
    reason: str  # words for the person at the door, e.g. "Your badge expired on 3 May."


def check_access(person: Person, schedule: AccessSchedule | None, now: datetime) -> AccessCheck:
    """Apply the rules that follow a face match: active, validity period, group schedule.

    ``now`` must be timezone-aware; the schedule is evaluated in its local time."""
    if not person.active:
        return AccessCheck(
            Decision.DENIED_INACTIVE, "Your access is deactivated. Please see staff."
        )
    if person.valid_from is not None and now < person.valid_from:
        day = person.valid_from.astimezone().strftime("%d %b %Y")
        return AccessCheck(Decision.DENIED_INACTIVE, f"Your access starts on {day}.")
    if person.valid_until is not None and now >= person.valid_until:
        day = person.valid_until.astimezone().strftime("%d %b %Y")
        return AccessCheck(
            Decision.DENIED_INACTIVE, f"Your badge expired on {day}. Please see staff."
        )
    if schedule is not None and not schedule.allows(now.astimezone()):
        return AccessCheck(Decision.DENIED_SCHEDULE, "Outside your access hours.")
    return AccessCheck(Decision.ALLOWED, f"Welcome, {person.name}!")


@dataclass(frozen=True)
class AccessEvent:
    """One decision, as recorded in the (hash-chained) access log."""

    time: datetime  # timezone-aware UTC
    kiosk_id: str
    decision: Decision
    person_id: int | None = None
    score: float | None = None  # distance to the matched (or nearest) person
    threshold: float | None = None
    model_version: str | None = None
    latency_ms: float | None = None
    reason: str = ""
    snapshot_jpeg: bytes | None = None  # kept only while the retention settings allow
