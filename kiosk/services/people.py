"""Managing enrolled people: list, show, deactivate, activate, erase (privacy)."""

from __future__ import annotations

from dataclasses import dataclass

from kiosk.errors import InputError
from kiosk.services.accounts import Actor
from kiosk.storage.records import LoggedEvent, PersonRecord, Role, TemplateInfo
from kiosk.storage.store import Store, UnitOfWork


@dataclass(frozen=True)
class PersonDetails:
    record: PersonRecord
    templates: list[TemplateInfo]
    recent_events: list[LoggedEvent]


@dataclass(frozen=True)
class ErasureReport:
    badge: str
    name: str
    templates: int
    snapshots: int


def _find(uow: UnitOfWork, badge: str) -> PersonRecord:
    record = uow.people.by_badge(badge)
    if record is None:
        raise InputError(f"no person has the badge {badge}: see `people list`")
    return record


class PeopleService:
    def __init__(self, store: Store) -> None:
        self.store = store

    def list(
        self, actor: Actor, *, group: str | None = None, include_erased: bool = False
    ) -> list[PersonRecord]:
        actor.require(Role.ADMIN)
        with self.store.unit_of_work() as uow:
            return uow.people.list(group=group, include_erased=include_erased)

    def show(self, actor: Actor, badge: str, *, events: int = 10) -> PersonDetails:
        actor.require(Role.ADMIN)
        from kiosk.storage.records import EventFilter

        with self.store.unit_of_work() as uow:
            record = _find(uow, badge)
            return PersonDetails(
                record,
                uow.templates.for_person(record.person.id),
                uow.events.page(EventFilter(person_id=record.person.id), limit=events),
            )

    def set_active(self, actor: Actor, badge: str, active: bool) -> PersonRecord:
        actor.require(Role.ADMIN)
        with self.store.unit_of_work(write=True) as uow:
            record = _find(uow, badge)
            if record.erased:
                raise InputError(f"the person with badge {badge} was erased; enroll them again")
            uow.people.update(record.person.id, active=active)
            uow.audit.record(
                actor.username,
                "activate" if active else "deactivate",
                f"badge {badge}",
                name=record.person.name,
            )
            uow.commit()
        with self.store.unit_of_work() as uow:
            return _find(uow, badge)

    def erase(self, actor: Actor, badge: str) -> ErasureReport:
        """Remove every template, crop and snapshot of the person, in one transaction.

        The person's row stays (deactivated, marked erased) so that past access events
        still say who passed, but nothing biometric points to it any more."""
        actor.require(Role.ADMIN)
        with self.store.unit_of_work(write=True) as uow:
            record = _find(uow, badge)
            person_id = record.person.id
            templates = uow.templates.delete_for(person_id)
            snapshots = uow.events.delete_snapshots_for(person_id)
            uow.people.mark_erased(person_id)
            uow.audit.record(
                actor.username,
                "erase",
                f"badge {badge}",
                name=record.person.name,
                templates=templates,
                snapshots=snapshots,
            )
            uow.commit()
        return ErasureReport(badge, record.person.name, templates, snapshots)
