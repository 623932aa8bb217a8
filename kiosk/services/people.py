"""Enrolled people: search, details, the person form, activation, photos and erasure.

Every use case takes the person's id; a badge is looked up once, at the command line's
edge (:meth:`PeopleService.id_for_badge`). The console and the command line call the
same methods.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from kiosk.domain.access import Person
from kiosk.errors import InputError
from kiosk.services.accounts import Actor
from kiosk.services.coverage import coverage_of
from kiosk.storage import limits, views
from kiosk.storage.records import EventFilter, LoggedEvent, PersonRecord, Role, TemplateInfo
from kiosk.storage.store import Store, UnitOfWork
from kiosk.storage.views import PersonStatus

__all__ = [
    "ErasureReport",
    "NewPerson",
    "PeopleService",
    "PersonDetails",
    "PersonEdit",
    "PersonStatus",
    "TemplateView",
    "person_status",
]


def person_status(record: PersonRecord, now: datetime | None = None) -> str:
    """The :class:`PersonStatus` word of a person at ``now``."""
    now = now or datetime.now(UTC)
    p = record.person
    if record.erased:
        return PersonStatus.ERASED
    if not p.active:
        return PersonStatus.INACTIVE
    if p.valid_until is not None and now >= p.valid_until:
        return PersonStatus.EXPIRED
    if p.valid_from is not None and now < p.valid_from:
        return PersonStatus.NOT_YET
    return PersonStatus.ACTIVE


@dataclass(frozen=True)
class NewPerson:
    """The person form of a new enrollment. ``consent``: the person agreed to the use of
    their face for entry (recorded with the date and the admin's name)."""

    name: str
    badge: str
    group: str | None = None
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    notes: str = ""
    consent: bool = False
    #: a visitor's pass: listed apart from staff, erased when ``valid_until`` passes
    visitor: bool = False


@dataclass(frozen=True)
class PersonEdit:
    """What the person form changes (``None`` dates: no limit)."""

    name: str
    group: str | None
    valid_from: datetime | None
    valid_until: datetime | None
    notes: str = ""


@dataclass(frozen=True)
class PersonDetails:
    record: PersonRecord
    templates: list[TemplateInfo]
    recent_events: list[LoggedEvent]


@dataclass(frozen=True)
class TemplateView:
    """One stored template with its (decrypted) face crop, if kept."""

    info: TemplateInfo
    crop_jpeg: bytes | None


@dataclass(frozen=True)
class ErasureReport:
    """What erasing a person deletes (or deleted): templates, crops, snapshots; their
    access events stay in the log, no longer pointing to biometric data."""

    name: str
    badge: str
    templates: int
    crops: int
    snapshots: int
    events: int

    def describe(self) -> str:
        """The question before an erasure."""
        return (
            f"Erase {self.name} (badge {self.badge})? This deletes {self.templates} face "
            f"template(s), {self.crops} enrollment photo crop(s) and {self.snapshots} camera "
            f"snapshot(s) for good. The {self.events} access event(s) of this person stay in "
            "the log with the name only. This cannot be undone."
        )


def check_name_badge(name: str, badge: str) -> tuple[str, str]:
    """The input boundary of a name and a badge (``kiosk.storage.limits``: length and
    control characters, the same on SQLite and PostgreSQL); stripped."""
    return limits.check_name(name), limits.check_badge(badge)


def check_validity(since: datetime | None, until: datetime | None) -> None:
    limits.check_time(since, "start of access (valid from)")
    limits.check_time(until, "end of access (valid until)")
    if since is not None and until is not None and until <= since:
        raise InputError("'valid until' must be after 'valid from'")


def clean_group(group: str | None) -> str | None:
    return group.strip() if group and group.strip() else None


def _record(uow: UnitOfWork, person_id: int) -> PersonRecord:
    record = uow.people.record(person_id)
    if record is None:
        raise InputError(f"there is no person with id {person_id}; reload the list")
    return record


class PeopleService:
    """The people use cases for one open database (each call is its own unit of work, so
    one instance serves the GUI thread and worker threads)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # -- finding -------------------------------------------------------------------------

    def id_for_badge(self, actor: Actor, badge: str) -> int:
        """The id of the person with ``badge`` (the command line names people by badge)."""
        actor.require(Role.AUDITOR)
        with self.store.unit_of_work() as uow:
            record = uow.people.by_badge(badge.strip())
        if record is None:
            raise InputError(
                f"no person has the badge {limits.printable(badge, 100)}: see `people list`"
            )
        return record.person.id

    def need_new_photos(self, actor: Actor, network_checksum: str) -> set[int]:
        """People with no template of the network in use and no stored crop to make one
        from: they cannot be recognised until new photos are added."""
        actor.require(Role.ADMIN)
        return set(coverage_of(self.store, network_checksum).need_photos)

    def waiting_for_reembedding(self, network_checksum: str) -> set[int]:
        """People with no template of the network in use yet, but crops to make them from
        (the kiosk does it at its next start)."""
        return set(coverage_of(self.store, network_checksum).from_crops)

    def everyone(
        self, actor: Actor, *, group: str | None = None, include_erased: bool = False
    ) -> list[PersonRecord]:
        """Everyone (not erased unless asked), in name order."""
        actor.require(Role.ADMIN)
        with self.store.unit_of_work() as uow:
            return uow.people.list(group=group, include_erased=include_erased)

    def page(
        self,
        actor: Actor,
        *,
        search: str = "",
        status: str | None = None,
        group: str | None = None,
        limit: int = 1000,
        visitors: bool | None = None,
    ) -> tuple[list[PersonRecord], int]:
        """The first ``limit`` people matching, in name order, and how many match: the
        search runs in the database, so a site with 100,000 people stays quick."""
        actor.require(Role.ADMIN)
        with self.store.unit_of_work() as uow:
            return views.people_page(
                uow,
                search=search,
                status=status,
                group=group,
                limit=limit,
                now=datetime.now(UTC),
                visitors=visitors,
            )

    def find(self, actor: Actor, text: str, *, limit: int = 20) -> list[PersonRecord]:
        """The people ``text`` names, most certain first: the person with that badge; else
        those with that name (any case); else everyone whose name or badge contains it.
        Erased people are included (the access log still names them). For pickers and
        the log's person filter; auditors may use it."""
        actor.require(Role.AUDITOR)
        words = text.strip()
        if not words:
            return []
        now = datetime.now(UTC)
        with self.store.unit_of_work() as uow:
            exact = uow.people.by_badge(words)
            if exact is not None:
                return [exact]
            found, _ = views.people_page(uow, search=words, limit=limit, now=now)
            if len(found) < limit:
                erased, _ = views.people_page(
                    uow, search=words, status=PersonStatus.ERASED, limit=limit - len(found), now=now
                )
                found += erased
        named = [r for r in found if r.person.name.lower() == words.lower()]
        return named or found

    def get(self, actor: Actor, person_id: int) -> PersonRecord:
        actor.require(Role.ADMIN)
        with self.store.unit_of_work() as uow:
            return _record(uow, person_id)

    def details(self, actor: Actor, person_id: int, *, events: int = 10) -> PersonDetails:
        """The person, their templates and their latest access events."""
        actor.require(Role.ADMIN)
        with self.store.unit_of_work() as uow:
            record = _record(uow, person_id)
            return PersonDetails(
                record,
                uow.templates.for_person(person_id),
                uow.events.page(EventFilter(person_id=person_id), limit=events),
            )

    def thumbnail(self, actor: Actor, person_id: int) -> bytes | None:
        """The JPEG crop of the person's best template (decrypted), if one is kept."""
        actor.require(Role.ADMIN)
        with self.store.unit_of_work() as uow:
            template_id = views.best_crop_template(uow, person_id)
            return None if template_id is None else uow.templates.crop(template_id)

    def templates(self, actor: Actor, person_id: int) -> list[TemplateView]:
        actor.require(Role.ADMIN)
        with self.store.unit_of_work() as uow:
            infos = uow.templates.for_person(person_id)
            return [
                TemplateView(i, uow.templates.crop(i.id) if i.has_crop else None) for i in infos
            ]

    def groups_in_use(self, actor: Actor) -> list[str]:
        """Every group a person or a rule names."""
        actor.require(Role.ADMIN)
        with self.store.unit_of_work() as uow:
            return views.group_names(uow)

    # -- changing ------------------------------------------------------------------------

    def add(self, actor: Actor, new: NewPerson) -> Person:
        """A person without photos yet (photos can be added later)."""
        actor.require(Role.ADMIN)
        name, badge = check_name_badge(new.name, new.badge)
        check_validity(new.valid_from, new.valid_until)
        with self.store.unit_of_work(write=True) as uow:
            if uow.people.by_badge(badge) is not None:
                raise InputError(f"the badge {badge} is already used; choose another")
            person = uow.people.add(
                name=name,
                badge=badge,
                group=clean_group(new.group),
                valid_from=new.valid_from,
                valid_until=new.valid_until,
                consent_at=datetime.now(UTC) if new.consent else None,
                consent_by=actor.username if new.consent else None,
                notes=new.notes,
            )
            uow.audit.record(actor.username, "person-add", f"badge {badge}", name=name)
            uow.commit()
            return person

    def edit(self, actor: Actor, person_id: int, edit: PersonEdit) -> Person:
        """Change name, group, validity and notes; the changes are recorded."""
        actor.require(Role.ADMIN)
        name = edit.name.strip()
        if not name:
            raise InputError("the name is empty: type the person's name")
        check_validity(edit.valid_from, edit.valid_until)
        group = clean_group(edit.group)
        with self.store.unit_of_work(write=True) as uow:
            before = _record(uow, person_id)
            if before.erased:
                raise InputError("this person was erased; enroll them again with a new badge")
            person = uow.people.update(
                person_id,
                name=name,
                group_name=group,
                valid_from=edit.valid_from,
                valid_until=edit.valid_until,
                notes=edit.notes,
            )
            changes = {
                key: f"{old} -> {new}"
                for key, old, new in (
                    ("name", before.person.name, name),
                    ("group", before.person.group, group),
                    ("valid_from", before.person.valid_from, edit.valid_from),
                    ("valid_until", before.person.valid_until, edit.valid_until),
                )
                if old != new
            }
            uow.audit.record(actor.username, "edit", f"badge {person.badge}", **changes)
            uow.commit()
            return person

    def set_group(self, actor: Actor, person_id: int, group: str | None) -> Person:
        record = self.get(actor, person_id)
        p = record.person
        edit = PersonEdit(p.name, group, p.valid_from, p.valid_until, record.notes)
        return self.edit(actor, person_id, edit)

    def set_active(self, actor: Actor, person_id: int, active: bool) -> PersonRecord:
        """Allow (or refuse) the person's access, keeping the enrollment."""
        actor.require(Role.ADMIN)
        with self.store.unit_of_work(write=True) as uow:
            record = _record(uow, person_id)
            if record.erased:
                raise InputError(
                    f"the person with badge {record.person.badge} was erased; enroll them again"
                )
            uow.people.update(person_id, active=active)
            uow.audit.record(
                actor.username,
                "activate" if active else "deactivate",
                f"badge {record.person.badge}",
                name=record.person.name,
            )
            uow.commit()
        return self.get(actor, person_id)

    def remove_template(self, actor: Actor, template_id: int) -> None:
        """Delete one template (and its crop); recorded with who did it."""
        actor.require(Role.ADMIN)
        with self.store.unit_of_work(write=True) as uow:
            removed = uow.templates.remove(template_id)
            if removed is None:
                raise InputError(f"there is no template {template_id}: it was already removed")
            person_id, source = removed
            person = uow.people.get(person_id)
            uow.audit.record(
                actor.username,
                "template-remove",
                f"badge {person.badge}" if person else "",
                template=template_id,
                source=source,
            )
            uow.commit()

    def erasure_preview(self, actor: Actor, person_id: int) -> ErasureReport:
        """What :meth:`erase` would delete, for the question before it."""
        actor.require(Role.ADMIN)
        with self.store.unit_of_work() as uow:
            record = _record(uow, person_id)
            counts = views.erasure_counts(uow, person_id)
        p = record.person
        return ErasureReport(
            p.name, p.badge, record.templates, counts.crops, counts.snapshots, counts.events
        )

    def erase(self, actor: Actor, person_id: int) -> ErasureReport:
        """Remove every template, crop and snapshot of the person, in one transaction.

        The person's row stays (deactivated, marked erased) so that past access events
        still say who passed, but nothing biometric points to it any more."""
        actor.require(Role.ADMIN)
        with self.store.unit_of_work(write=True) as uow:
            record = _record(uow, person_id)
            p = record.person
            counts = views.erasure_counts(uow, person_id)
            templates = uow.templates.delete_for(person_id)
            snapshots = uow.events.delete_snapshots_for(person_id)
            uow.people.mark_erased(person_id)
            uow.audit.record(
                actor.username,
                "erase",
                f"badge {p.badge}",
                name=p.name,
                templates=templates,
                snapshots=snapshots,
            )
            uow.commit()
        return ErasureReport(p.name, p.badge, templates, counts.crops, snapshots, counts.events)
