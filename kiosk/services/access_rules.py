"""Access rules: groups with weekly time windows and holidays, and what the kiosk would
decide for a person at a given time. The console's rules page and ``kiosk rules`` both
call :class:`AccessRulesService`."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from kiosk.domain.access import AccessCheck, AccessSchedule, check_access
from kiosk.errors import InputError
from kiosk.services.accounts import Actor
from kiosk.storage import views
from kiosk.storage.records import Role
from kiosk.storage.store import Store
from kiosk.storage.views import GroupInfo

__all__ = ["AccessRulesService", "GroupInfo", "parse_holidays"]


def parse_holidays(text: str) -> frozenset[date]:
    """Holidays typed as ISO dates separated by commas, spaces or lines."""
    days = set()
    for part in re.split(r"[\s,;]+", text.strip()):
        if not part:
            continue
        try:
            days.add(date.fromisoformat(part))
        except ValueError:
            raise InputError(f"{part!r} is not a date: write holidays as 2026-12-25") from None
    return frozenset(days)


class AccessRulesService:
    def __init__(self, store: Store) -> None:
        self.store = store

    def groups(self, actor: Actor) -> list[GroupInfo]:
        """Every group, with its people, windows and holidays counted."""
        actor.require(Role.ADMIN)
        with self.store.unit_of_work() as uow:
            return views.groups(uow)

    def schedule(self, actor: Actor, group: str) -> AccessSchedule | None:
        """The group's windows and holidays; ``None``: access at any time."""
        actor.require(Role.ADMIN)
        with self.store.unit_of_work() as uow:
            return uow.schedules.get(group)

    def set_schedule(self, actor: Actor, group: str, schedule: AccessSchedule | None) -> None:
        """Replace the group's weekly windows and holidays (``None``: any time)."""
        actor.require(Role.ADMIN)
        group = group.strip()
        if not group:
            raise InputError("the group has no name: type one")
        for w in schedule.windows if schedule else ():
            if not w.start < w.end:
                raise InputError(
                    f"a window on day {w.weekday + 1} ends ({w.end:%H:%M}) before it starts "
                    f"({w.start:%H:%M})"
                )
        with self.store.unit_of_work(write=True) as uow:
            uow.schedules.set(group, schedule)
            uow.audit.record(
                actor.username,
                "schedule",
                f"group {group}",
                windows=len(schedule.windows) if schedule else 0,
                holidays=len(schedule.holidays) if schedule else 0,
            )
            uow.commit()

    def try_access(self, actor: Actor, person_id: int, when: datetime) -> AccessCheck:
        """The decision the kiosk would take for this person at ``when`` (after a match;
        a naive ``when`` is local time)."""
        actor.require(Role.ADMIN)
        with self.store.unit_of_work() as uow:
            person = uow.people.get(person_id)
            if person is None:
                raise InputError(f"there is no person with id {person_id}; reload the list")
            schedule = uow.schedules.get(person.group) if person.group else None
        aware = when.astimezone() if when.tzinfo is None else when
        return check_access(person, schedule, aware.astimezone(UTC))
