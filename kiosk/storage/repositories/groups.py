"""Access groups and their rules (weekly windows, holidays); each group's rules sealed."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from kiosk.domain.access import AccessSchedule, TimeWindow
from kiosk.storage import limits
from kiosk.storage.chain import rules_seal, same
from kiosk.storage.models import GroupRow, HolidayRow, PersonRow, ScheduleWindowRow


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
