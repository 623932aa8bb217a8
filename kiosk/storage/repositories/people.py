"""Enrolled people, each row sealed with the key: a change made outside the kiosk shows."""

from __future__ import annotations

import builtins
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kiosk.domain.access import Person
from kiosk.errors import InputError
from kiosk.storage import limits
from kiosk.storage.chain import person_seal, same
from kiosk.storage.errors import TamperedRecord
from kiosk.storage.models import PersonRow, TemplateRow
from kiosk.storage.records import PersonRecord
from kiosk.storage.repositories.clock import utcnow
from kiosk.storage.repositories.groups import GroupRepository
from kiosk.storage.repositories.roster import RosterRepository


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
        visitor=bool(row.visitor),
    )


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
    def __init__(
        self, session: Session, key: bytes, roster: RosterRepository | None = None
    ) -> None:
        self.session = session
        self.key = key
        self.roster = roster

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
        visitor: bool = False,
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
        self._refuse_taken_badge(values["badge"])
        now = utcnow()
        row = PersonRow(
            **values,
            active=active,
            consent_at=consent_at,
            created_at=now,
            updated_at=now,
            visitor=visitor,
        )
        self.session.add(row)
        self.session.flush()
        if row.group_name:
            GroupRepository(self.session, self.key).ensure(row.group_name)
        row.seal = _seal_of(self.key, row)
        self.session.flush()
        if self.roster is not None:
            self.roster.change("people", added=[row.id])
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
        """The person with this badge, compared in one form and without letter case
        ("a1", "A1" and "Ａ１" are one badge)."""
        badge = limits.normalise_badge(badge)
        row = self.session.scalar(select(PersonRow).where(PersonRow.badge == badge))
        if row is None:
            row = self._same_badge(badge)
        return None if row is None else self.record(row.id)

    def _same_badge(self, badge: str, *, other_than: int | None = None) -> PersonRow | None:
        """A person whose badge is ``badge`` but for letter case."""
        query = select(PersonRow).where(func.lower(PersonRow.badge) == badge.lower())
        if other_than is not None:
            query = query.where(PersonRow.id != other_than)
        return self.session.scalars(query.limit(1)).first()

    def _refuse_taken_badge(self, badge: str, *, other_than: int | None = None) -> None:
        """Refuse a badge another person has in another letter case (the very same badge
        is the database's unique constraint's to refuse)."""
        taken = self._same_badge(badge, other_than=other_than)
        if taken is not None and taken.badge != badge:
            raise InputError(
                f"the badge {limits.printable(badge, 100)} is already used (as "
                f"{limits.printable(taken.badge, 100)}); choose another"
            )

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
        checked = _checked_person_changes(changes)
        if "badge" in checked:
            self._refuse_taken_badge(checked["badge"], other_than=person_id)
        for key, value in checked.items():
            setattr(row, key, value)
        row.updated_at = utcnow()
        if row.group_name:
            GroupRepository(self.session, self.key).ensure(row.group_name)
        row.seal = _seal_of(self.key, row)
        self.session.flush()
        return _person(row)

    def ended_visitors(self, now: datetime) -> builtins.list[PersonRecord]:
        """Visitors whose pass has ended (``valid_until`` passed) and who are not erased."""
        query = (
            select(PersonRow)
            .where(
                PersonRow.visitor.is_(True),
                PersonRow.erased_at.is_(None),
                PersonRow.valid_until.is_not(None),
                PersonRow.valid_until <= now,
            )
            .order_by(PersonRow.id)
        )
        return [_record(row, sealed=self._sealed(row)) for row in self.session.scalars(query)]

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
