"""Visitor passes: a person enrolled at the desk from the camera with a name only, valid
from now until the end of the day, flagged as a visitor (listed apart from staff) and
erased with their biometric data by the retention job once the pass has ended
(:func:`kiosk.services.audit_log.AuditLogService.purge`)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, time

from kiosk.services.people import NewPerson


def end_of_day(now: datetime) -> datetime:
    """23:59:59 of ``now``'s day in the machine's local time, as UTC (not midnight: a
    pass that reads "until 00:00" or shows tomorrow's date reads as a day too long)."""
    local = now.astimezone()
    return datetime.combine(local.date(), time(23, 59, 59), local.tzinfo).astimezone(UTC)


def visitor_pass(name: str, now: datetime | None = None) -> NewPerson:
    """The person form of a one-day visitor: valid from now to the end of today, a badge
    made from the time (``V-20261205-0931-3f2a``), consent given at the desk."""
    now = now or datetime.now(UTC)
    badge = f"V-{now.astimezone():%Y%m%d-%H%M}-{secrets.token_hex(2)}"
    return NewPerson(
        name,
        badge,
        None,
        valid_from=now,
        valid_until=end_of_day(now),
        notes="visitor pass",
        consent=True,
        visitor=True,
    )
