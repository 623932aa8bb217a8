"""Use cases only the admin console needs, on top of the storage repositories.

S's services (accounts, people, enrollment, audit_log) do most of the work; this module
adds what a screen needs and the command line does not: people with thumbnails and a
search, enrollment in two steps (check photos or frames, let the admin review, then
save), removing one template, groups with their schedules, the security level (distance
distributions from the enrolled people and a threshold recorded with who set it), and a
log query that pages in both directions, counts, streams with progress and can stop.

No Qt here: the windows in ``kiosk.ui.admin`` call these from the GUI thread (quick
queries) or from worker threads (anything that may take long).
"""

from __future__ import annotations

import csv
import os
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import delete, func, select

from kiosk.config import Settings
from kiosk.domain.access import (
    AccessCheck,
    AccessSchedule,
    Person,
    check_access,
)
from kiosk.domain.faces import FaceResult, FloatArray
from kiosk.errors import InputError
from kiosk.services.accounts import AccountService, Actor
from kiosk.services.audit_log import CSV_COLUMNS, event_row
from kiosk.services.enrollment import (
    Candidate,
    DuplicateWarning,
    EnrollmentService,
    FaceAnalyzer,
    PhotoOutcome,
    chip_jpeg,
)
from kiosk.services.security_level import SecurityLevelService
from kiosk.storage.chain import ChainFields, ChainReport, verify_chain
from kiosk.storage.models import (
    ChainHead,
    EventRow,
    HolidayRow,
    PersonRow,
    ScheduleWindowRow,
    SnapshotRow,
    TemplateRow,
)
from kiosk.storage.records import EventFilter, LoggedEvent, PersonRecord, Role, TemplateInfo
from kiosk.storage.repositories import event_listing, filter_events, logged_event
from kiosk.storage.store import Store
from kiosk.vision.calibration import operating_point
from kiosk.vision.quality import QualitySettings, assess_photo

# -- people ------------------------------------------------------------------------------


class PersonStatus:
    """The status words of the people list."""

    ACTIVE = "active"
    INACTIVE = "inactive"
    EXPIRED = "expired"
    NOT_YET = "not yet valid"
    ERASED = "erased"


def person_status(record: PersonRecord, now: datetime | None = None) -> str:
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
class PersonEdit:
    """What the person form changes (``None`` dates: no limit)."""

    name: str
    group: str | None
    valid_from: datetime | None
    valid_until: datetime | None
    notes: str = ""


@dataclass(frozen=True)
class ErasurePreview:
    """What erasing a person deletes, for the confirmation."""

    name: str
    badge: str
    templates: int
    crops: int
    snapshots: int
    events: int  # stay in the log, no longer pointing to biometric data

    def describe(self) -> str:
        return (
            f"Erase {self.name} (badge {self.badge})? This deletes {self.templates} face "
            f"template(s), {self.crops} enrollment photo crop(s) and {self.snapshots} camera "
            f"snapshot(s) for good. The {self.events} access event(s) of this person stay in "
            "the log with the name only. This cannot be undone."
        )


@dataclass(frozen=True)
class TemplateView:
    info: TemplateInfo
    crop_jpeg: bytes | None


# -- enrollment --------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckedFace:
    """One photo or camera frame after the quality check: accepted (with the face) or
    rejected with reasons. Immutable, so it can cross threads."""

    source: str  # a file path, or "camera #3"
    accepted: bool
    reasons: tuple[str, ...]
    quality: float
    yaw: float = 0.0
    pitch: float = 0.0
    embedding: FloatArray | None = None
    chip: Any = None  # RGB uint8 150x150 aligned face (read-only numpy array)

    @property
    def reason_text(self) -> str:
        return "; ".join(self.reasons) if self.reasons else "accepted"


def _readonly(array: np.ndarray) -> np.ndarray:
    copy = np.array(array, copy=True)
    copy.flags.writeable = False
    return copy


def checked_from_results(
    source: str, results: Sequence[FaceResult], quality: QualitySettings | None = None
) -> CheckedFace:
    report = assess_photo(results, quality)
    if not report.ok:
        return CheckedFace(
            source,
            False,
            report.reasons,
            report.score,
            report.measures.get("yaw", 0.0),
            report.measures.get("pitch", 0.0),
        )
    only = results[0]
    return CheckedFace(
        source,
        True,
        (),
        report.score,
        report.measures.get("yaw", 0.0),
        report.measures.get("pitch", 0.0),
        _readonly(only.embedding),
        _readonly(only.chip),
    )


@dataclass(frozen=True)
class NewPerson:
    name: str
    badge: str
    group: str | None = None
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    notes: str = ""


@dataclass(frozen=True)
class SavedEnrollment:
    person: Person
    templates_added: int


# -- access rules ------------------------------------------------------------------------


@dataclass(frozen=True)
class GroupInfo:
    name: str
    people: int
    windows: int
    holidays: int


# -- the access log ----------------------------------------------------------------------


@dataclass(frozen=True)
class LogPage:
    rows: tuple[LoggedEvent, ...]


def _local_to_utc(value: datetime) -> datetime:
    return value.astimezone() if value.tzinfo is None else value


class AdminConsole:
    """The console's use cases for one open database (thread-safe: each call is its own
    unit of work)."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        analyzer_factory: Callable[[], FaceAnalyzer] | None = None,
        *,
        quality: QualitySettings | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.accounts = AccountService(store)
        self._analyzer_factory = analyzer_factory
        self._analyzer: FaceAnalyzer | None = None
        self._analyzer_lock = threading.Lock()
        self.quality = quality or QualitySettings()
        self.security = SecurityLevelService(store, settings)
        #: the distance under which two photos are taken for the same person (one
        #: comparison at the configured level), used to spot a photo of someone else
        self.threshold = operating_point(settings.vision, 1).threshold

    # -- sign-in -------------------------------------------------------------------------

    def needs_first_admin(self) -> bool:
        return not self.accounts.has_admins()

    def create_first_admin(self, username: str, password: str, repeat: str) -> Actor:
        if password != repeat:
            raise InputError("the two passwords differ; type the same password twice")
        account = self.accounts.add_admin(None, username, password, Role.ADMIN)
        return Actor(account.username, account.role)

    def sign_in(self, username: str, password: str) -> Actor:
        if not username.strip():
            raise InputError("type your user name")
        return self.accounts.authenticate(username.strip(), password)

    # -- the vision pipeline (loaded once, on first need) ---------------------------------

    def analyzer(self) -> FaceAnalyzer:
        with self._analyzer_lock:
            if self._analyzer is None:
                if self._analyzer_factory is None:
                    raise InputError("face recognition is not available in this console")
                self._analyzer = self._analyzer_factory()
            return self._analyzer

    # -- people --------------------------------------------------------------------------

    def people(
        self,
        actor: Actor,
        *,
        search: str = "",
        status: str | None = None,
        group: str | None = None,
        include_erased: bool = False,
    ) -> list[PersonRecord]:
        actor.require(Role.ADMIN)
        with self.store.unit_of_work() as uow:
            records = uow.people.list(include_erased=include_erased or status == "erased")
        words = search.strip().lower()
        now = datetime.now(UTC)
        out = []
        for r in records:
            if words and words not in r.person.name.lower() and words not in r.person.badge.lower():
                continue
            if group is not None and (r.person.group or "") != group:
                continue
            if status is not None and person_status(r, now) != status:
                continue
            out.append(r)
        return out

    def people_page(
        self,
        actor: Actor,
        *,
        search: str = "",
        status: str | None = None,
        group: str | None = None,
        limit: int = 1000,
    ) -> tuple[list[PersonRecord], int]:
        """The first ``limit`` people matching, in name order, and how many match: the
        search runs in the database, so a site with 100,000 people stays quick."""
        actor.require(Role.ADMIN)
        now = datetime.now(UTC)
        conditions: list[Any] = []
        words = search.strip().lower()
        if words:
            conditions.append(
                func.lower(PersonRow.name).contains(words, autoescape=True)
                | func.lower(PersonRow.badge).contains(words, autoescape=True)
            )
        if group is not None:
            conditions.append(
                PersonRow.group_name.is_(None) if group == "" else PersonRow.group_name == group
            )
        alive = [PersonRow.erased_at.is_(None)]
        active = [*alive, PersonRow.active.is_(True)]
        if status is None:
            conditions += alive
        elif status == PersonStatus.ERASED:
            conditions.append(PersonRow.erased_at.is_not(None))
        elif status == PersonStatus.INACTIVE:
            conditions += [*alive, PersonRow.active.is_(False)]
        elif status == PersonStatus.EXPIRED:
            conditions += [*active, PersonRow.valid_until <= now]
        elif status == PersonStatus.NOT_YET:
            conditions += [
                *active,
                (PersonRow.valid_until.is_(None)) | (PersonRow.valid_until > now),
                PersonRow.valid_from > now,
            ]
        elif status == PersonStatus.ACTIVE:
            conditions += [
                *active,
                (PersonRow.valid_until.is_(None)) | (PersonRow.valid_until > now),
                (PersonRow.valid_from.is_(None)) | (PersonRow.valid_from <= now),
            ]
        templates = (
            select(func.count())
            .select_from(TemplateRow)
            .where(TemplateRow.person_id == PersonRow.id)
            .correlate(PersonRow)
            .scalar_subquery()
        )
        with self.store.unit_of_work() as uow:
            total = uow.session.scalar(
                select(func.count()).select_from(PersonRow).where(*conditions)
            )
            rows = uow.session.execute(
                select(PersonRow, templates)
                .where(*conditions)
                .order_by(PersonRow.name, PersonRow.id)
                .limit(limit)
            ).all()
            records = [_person_record(row, int(n or 0)) for row, n in rows]
        return records, int(total or 0)

    def person(self, actor: Actor, person_id: int) -> PersonRecord:
        actor.require(Role.ADMIN)
        with self.store.unit_of_work() as uow:
            record = uow.people.record(person_id)
        if record is None:
            raise InputError(f"there is no person with id {person_id}; reload the list")
        return record

    def thumbnail(self, actor: Actor, person_id: int) -> bytes | None:
        """The JPEG crop of the person's best template (decrypted), if one is kept."""
        actor.require(Role.ADMIN)
        with self.store.unit_of_work() as uow:
            template_id = uow.session.scalar(
                select(TemplateRow.id)
                .where(TemplateRow.person_id == person_id, TemplateRow.crop.is_not(None))
                .order_by(TemplateRow.quality.desc(), TemplateRow.id)
                .limit(1)
            )
            return None if template_id is None else uow.templates.crop(int(template_id))

    def templates(self, actor: Actor, person_id: int) -> list[TemplateView]:
        actor.require(Role.ADMIN)
        with self.store.unit_of_work() as uow:
            infos = uow.templates.for_person(person_id)
            return [
                TemplateView(i, uow.templates.crop(i.id) if i.has_crop else None) for i in infos
            ]

    def remove_template(self, actor: Actor, template_id: int) -> None:
        """Delete one template (and its crop); recorded with who did it."""
        actor.require(Role.ADMIN)
        with self.store.unit_of_work(write=True) as uow:
            row = uow.session.get(TemplateRow, template_id)
            if row is None:
                raise InputError("that template was already removed; reload the person")
            person = uow.people.get(row.person_id)
            uow.session.execute(delete(TemplateRow).where(TemplateRow.id == template_id))
            uow.audit.record(
                actor.username,
                "template-remove",
                f"badge {person.badge}" if person else "",
                template=template_id,
                source=row.source,
            )
            uow.commit()

    def groups_in_use(self) -> list[str]:
        with self.store.unit_of_work() as uow:
            names: set[str] = set()
            for col in (
                PersonRow.group_name,
                ScheduleWindowRow.group_name,
                HolidayRow.group_name,
            ):
                names.update(n for n in uow.session.scalars(select(col).distinct()) if n)
        return sorted(names, key=str.lower)

    def add_person(self, actor: Actor, new: NewPerson) -> Person:
        """A person without templates yet (photos can be added later)."""
        actor.require(Role.ADMIN)
        name, badge = self._check_name_badge(new.name, new.badge)
        self._check_validity(new.valid_from, new.valid_until)
        with self.store.unit_of_work(write=True) as uow:
            if uow.people.by_badge(badge) is not None:
                raise InputError(f"the badge {badge} is already used; choose another")
            person = uow.people.add(
                name=name,
                badge=badge,
                group=_clean(new.group),
                valid_from=new.valid_from,
                valid_until=new.valid_until,
                consent_at=datetime.now(UTC),
                consent_by=actor.username,
                notes=new.notes,
            )
            uow.audit.record(actor.username, "person-add", f"badge {badge}", name=name)
            uow.commit()
            return person

    def edit_person(self, actor: Actor, person_id: int, edit: PersonEdit) -> Person:
        actor.require(Role.ADMIN)
        name = edit.name.strip()
        if not name:
            raise InputError("the name is empty: type the person's name")
        self._check_validity(edit.valid_from, edit.valid_until)
        with self.store.unit_of_work(write=True) as uow:
            before = uow.people.record(person_id)
            if before is None:
                raise InputError("this person no longer exists; reload the list")
            if before.erased:
                raise InputError("this person was erased; enroll them again with a new badge")
            person = uow.people.update(
                person_id,
                name=name,
                group_name=_clean(edit.group),
                valid_from=edit.valid_from,
                valid_until=edit.valid_until,
                notes=edit.notes,
            )
            changes = {
                key: f"{old} -> {new}"
                for key, old, new in (
                    ("name", before.person.name, name),
                    ("group", before.person.group, _clean(edit.group)),
                    ("valid_from", before.person.valid_from, edit.valid_from),
                    ("valid_until", before.person.valid_until, edit.valid_until),
                )
                if old != new
            }
            uow.audit.record(actor.username, "edit", f"badge {person.badge}", **changes)
            uow.commit()
            return person

    def set_active(self, actor: Actor, person_id: int, active: bool) -> None:
        from kiosk.services.people import PeopleService

        PeopleService(self.store).set_active(
            actor, self.person(actor, person_id).person.badge, active
        )

    def erasure_preview(self, actor: Actor, person_id: int) -> ErasurePreview:
        actor.require(Role.ADMIN)
        with self.store.unit_of_work() as uow:
            record = uow.people.record(person_id)
            if record is None:
                raise InputError("this person no longer exists; reload the list")
            s = uow.session
            crops = s.scalar(
                select(func.count())
                .select_from(TemplateRow)
                .where(TemplateRow.person_id == person_id, TemplateRow.crop.is_not(None))
            )
            snapshots = s.scalar(
                select(func.count())
                .select_from(SnapshotRow)
                .where(
                    SnapshotRow.event_id.in_(
                        select(EventRow.id).where(EventRow.person_id == person_id)
                    )
                    | (SnapshotRow.person_id == person_id)
                )
            )
            events = s.scalar(
                select(func.count()).select_from(EventRow).where(EventRow.person_id == person_id)
            )
        return ErasurePreview(
            record.person.name,
            record.person.badge,
            record.templates,
            int(crops or 0),
            int(snapshots or 0),
            int(events or 0),
        )

    def erase(self, actor: Actor, person_id: int) -> ErasurePreview:
        from kiosk.services.people import PeopleService

        preview = self.erasure_preview(actor, person_id)
        report = PeopleService(self.store).erase(actor, preview.badge)
        return ErasurePreview(
            report.name,
            report.badge,
            report.templates,
            preview.crops,
            report.snapshots,
            preview.events,
        )

    # -- enrollment ----------------------------------------------------------------------

    def check_file(self, path: Path) -> CheckedFace:
        """Load one photo and check it (slow: detection and embedding; call off the GUI)."""
        service = EnrollmentService(
            self.store, self.analyzer(), self.settings, quality=self.quality
        )
        checked = service.check_photo(path)
        if isinstance(checked, PhotoOutcome):
            return CheckedFace(str(path), False, checked.reasons, checked.quality)
        result = checked.result
        m = checked.outcome.measures
        return CheckedFace(
            str(path),
            True,
            (),
            checked.outcome.quality,
            m.get("yaw", 0.0),
            m.get("pitch", 0.0),
            _readonly(result.embedding),
            _readonly(result.chip),
        )

    def check_frame(self, source: str, rgb: np.ndarray) -> CheckedFace:
        results = self.analyzer().analyze(rgb)
        return checked_from_results(source, results, self.quality)

    def duplicates(
        self, faces: Sequence[CheckedFace], exclude_person: int | None
    ) -> list[DuplicateWarning]:
        """Which of the accepted faces already match another enrolled person, and whom."""
        from kiosk.domain.faces import Box, DetectedFace

        accepted = [f for f in faces if f.accepted and f.embedding is not None]
        if not accepted:
            return []
        service = EnrollmentService(
            self.store, self.analyzer(), self.settings, quality=self.quality
        )
        dummy = DetectedFace(Box(0, 0, 1, 1), 1.0, np.zeros((5, 2), np.float32))
        candidates = [
            Candidate(
                PhotoOutcome(f.source, True, (), f.quality),
                FaceResult(dummy, f.chip, np.asarray(f.embedding)),
            )
            for f in accepted
        ]
        return service.find_duplicates(candidates, exclude_person)

    def odd_ones_out(self, faces: Sequence[CheckedFace]) -> list[str]:
        """Sources of accepted faces that do not match most of the others (a photo of
        someone else slipped in). Needs three accepted faces to tell who is the odd one."""
        accepted = [f for f in faces if f.accepted and f.embedding is not None]
        if len(accepted) < 3:
            return []
        x = np.stack([np.asarray(f.embedding, dtype=np.float64) for f in accepted])
        d = np.sqrt(np.maximum(((x[:, None, :] - x[None, :, :]) ** 2).sum(-1), 0.0))
        np.fill_diagonal(d, np.nan)
        typical = np.nanmedian(d, axis=1)
        return [f.source for f, m in zip(accepted, typical, strict=True) if m >= self.threshold]

    def save_enrollment(
        self,
        actor: Actor,
        faces: Sequence[CheckedFace],
        *,
        new: NewPerson | None = None,
        person_id: int | None = None,
        source: str = "file",
    ) -> SavedEnrollment:
        """Store the accepted faces as templates of a new person (``new``) or of an existing
        one (``person_id``, re-enrollment), in one transaction."""
        actor.require(Role.ADMIN)
        accepted = [f for f in faces if f.accepted and f.embedding is not None]
        if not accepted:
            raise InputError("no accepted photo to save: add photos that pass the checks")
        if (new is None) == (person_id is None):
            raise ValueError("give either a new person or an existing person's id")
        if new is not None:
            name, badge = self._check_name_badge(new.name, new.badge)
            self._check_validity(new.valid_from, new.valid_until)
        model = self.analyzer().model_info
        now = datetime.now(UTC)
        with self.store.unit_of_work(write=True) as uow:
            if new is not None:
                if uow.people.by_badge(badge) is not None:
                    raise InputError(f"the badge {badge} is already used; choose another")
                person = uow.people.add(
                    name=name,
                    badge=badge,
                    group=_clean(new.group),
                    valid_from=new.valid_from,
                    valid_until=new.valid_until,
                    consent_at=now,
                    consent_by=actor.username,
                    notes=new.notes,
                )
                action = "enroll"
            else:
                assert person_id is not None
                record = uow.people.record(person_id)
                if record is None or record.erased:
                    raise InputError("this person no longer exists or was erased")
                person = record.person
                action = "enroll-more"
            for f in accepted:
                assert f.embedding is not None
                uow.templates.add(
                    person.id,
                    np.asarray(f.embedding, dtype=np.float32),
                    model,
                    quality=f.quality,
                    source=f"file:{Path(f.source).name}" if source == "file" else source,
                    crop_jpeg=chip_jpeg(np.asarray(f.chip)) if f.chip is not None else None,
                    created_at=now,
                )
            uow.audit.record(
                actor.username,
                action,
                f"badge {person.badge}",
                name=person.name,
                templates=len(accepted),
                rejected=len(faces) - len(accepted),
                source=source,
            )
            uow.commit()
        return SavedEnrollment(person, len(accepted))

    @staticmethod
    def _check_name_badge(name: str, badge: str) -> tuple[str, str]:
        name, badge = name.strip(), badge.strip()
        if not name:
            raise InputError("the name is empty: type the person's name")
        if not badge:
            raise InputError("the badge is empty: type the badge or employee number")
        return name, badge

    @staticmethod
    def _check_validity(since: datetime | None, until: datetime | None) -> None:
        if since is not None and until is not None and until <= since:
            raise InputError("'valid until' must be after 'valid from'")

    # -- access rules --------------------------------------------------------------------

    def groups(self, actor: Actor) -> list[GroupInfo]:
        actor.require(Role.ADMIN)
        names = self.groups_in_use()
        with self.store.unit_of_work() as uow:
            s = uow.session
            people = dict(
                s.execute(
                    select(PersonRow.group_name, func.count())
                    .where(PersonRow.erased_at.is_(None))
                    .group_by(PersonRow.group_name)
                ).all()
            )
            windows = dict(
                s.execute(
                    select(ScheduleWindowRow.group_name, func.count()).group_by(
                        ScheduleWindowRow.group_name
                    )
                ).all()
            )
            holidays = dict(
                s.execute(
                    select(HolidayRow.group_name, func.count()).group_by(HolidayRow.group_name)
                ).all()
            )
        return [
            GroupInfo(n, int(people.get(n, 0)), int(windows.get(n, 0)), int(holidays.get(n, 0)))
            for n in names
        ]

    def schedule(self, actor: Actor, group: str) -> AccessSchedule | None:
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

    def set_group(self, actor: Actor, person_id: int, group: str | None) -> None:
        record = self.person(actor, person_id)
        p = record.person
        self.edit_person(
            actor, person_id, PersonEdit(p.name, group, p.valid_from, p.valid_until, record.notes)
        )

    def try_access(self, actor: Actor, person_id: int, when: datetime) -> AccessCheck:
        """The decision the kiosk would take for this person at ``when`` (after a match)."""
        record = self.person(actor, person_id)
        person = record.person
        schedule = None
        if person.group:
            with self.store.unit_of_work() as uow:
                schedule = uow.schedules.get(person.group)
        return check_access(person, schedule, _local_to_utc(when).astimezone(UTC))

    # -- the access log ------------------------------------------------------------------

    def person_for_filter(self, text: str) -> int | None:
        """The person a log filter names: a badge, or else a name (any case) that only
        one person has."""
        text = text.strip()
        if not text:
            return None
        with self.store.unit_of_work() as uow:
            record = uow.people.by_badge(text)
            if record is not None:
                return record.person.id
            ids = uow.session.scalars(
                select(PersonRow.id).where(func.lower(PersonRow.name) == text.lower()).limit(2)
            ).all()
        if len(ids) == 1:
            return int(ids[0])
        if ids:
            raise InputError(f"several people are called {text}: filter by their badge")
        raise InputError(f"no person has the badge or name {text!r}")

    def kiosks(self) -> list[str]:
        with self.store.unit_of_work() as uow:
            return sorted(uow.session.scalars(select(EventRow.kiosk_id).distinct()).all())

    def head_id(self) -> int:
        """The id of the newest event (0 for an empty log)."""
        with self.store.unit_of_work() as uow:
            head = uow.session.get(ChainHead, 1)
            return 0 if head is None else int(head.last_id)

    def count_events(self, actor: Actor, flt: EventFilter | None, upto_id: int) -> int:
        actor.require(Role.AUDITOR)
        with self.store.unit_of_work() as uow:
            query = select(func.count()).select_from(EventRow).where(EventRow.id <= upto_id)
            return int(uow.session.scalar(filter_events(query, flt)) or 0)

    def count_between(
        self, actor: Actor, flt: EventFilter | None, after_id: int, upto_id: int
    ) -> int:
        actor.require(Role.AUDITOR)
        with self.store.unit_of_work() as uow:
            query = (
                select(func.count())
                .select_from(EventRow)
                .where(EventRow.id > after_id, EventRow.id <= upto_id)
            )
            return int(uow.session.scalar(filter_events(query, flt)) or 0)

    def event_page(
        self,
        actor: Actor,
        flt: EventFilter | None,
        *,
        upto_id: int,
        offset: int,
        limit: int,
        newest_first: bool,
        total: int,
    ) -> list[LoggedEvent]:
        """Rows ``offset .. offset+limit`` of the filtered log (events up to ``upto_id``)
        in the given order. Reads from whichever end is nearer, so the last page is as
        quick as the first."""
        actor.require(Role.AUDITOR)
        limit = max(0, min(limit, total - offset))
        if limit == 0:
            return []
        from_end = total - offset - limit
        reverse = from_end < offset
        # Ascending order from the other end is the same rows, reversed.
        descending = newest_first != reverse
        skip = from_end if reverse else offset
        with self.store.unit_of_work() as uow:
            query = filter_events(event_listing().where(EventRow.id <= upto_id), flt)
            query = query.order_by(EventRow.id.desc() if descending else EventRow.id.asc())
            query = query.limit(limit).offset(skip)
            rows = [logged_event(row) for row in uow.session.execute(query)]
        if reverse:
            rows.reverse()
        return rows

    def page_after(
        self,
        actor: Actor,
        flt: EventFilter | None,
        *,
        upto_id: int,
        boundary_id: int,
        limit: int,
        newest_first: bool,
    ) -> list[LoggedEvent]:
        """The next ``limit`` rows after ``boundary_id`` in the given order (keyset paging:
        as quick deep in the log as at its start)."""
        actor.require(Role.AUDITOR)
        with self.store.unit_of_work() as uow:
            query = filter_events(event_listing().where(EventRow.id <= upto_id), flt)
            if newest_first:
                query = query.where(EventRow.id < boundary_id).order_by(EventRow.id.desc())
            else:
                query = query.where(EventRow.id > boundary_id).order_by(EventRow.id.asc())
            return [logged_event(row) for row in uow.session.execute(query.limit(limit))]

    def snapshot(self, actor: Actor, event_id: int) -> bytes | None:
        actor.require(Role.AUDITOR)
        with self.store.unit_of_work() as uow:
            return uow.events.snapshot(event_id)

    def export_csv(
        self,
        actor: Actor,
        target: Path,
        flt: EventFilter | None,
        *,
        progress: Callable[[int], None] | None = None,
        stop: threading.Event | None = None,
        every: int = 2000,
    ) -> int:
        """Write the filtered log as CSV (oldest first), streaming, reporting progress
        every ``every`` rows; a stopped or failed export leaves no file behind."""
        actor.require(Role.AUDITOR)
        partial = target.with_name(target.name + ".partial")
        count = 0
        try:
            with (
                open(partial, "w", newline="", encoding="utf-8") as f,
                self.store.unit_of_work() as uow,
            ):
                writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
                writer.writeheader()
                for logged in uow.events.stream(flt):
                    writer.writerow(event_row(logged))
                    count += 1
                    if count % every == 0:
                        if stop is not None and stop.is_set():
                            raise _Stopped
                        if progress is not None:
                            progress(count)
            os.replace(partial, target)
        except _Stopped:
            partial.unlink(missing_ok=True)
            raise InputError("export cancelled; no file was written") from None
        except OSError as exc:
            partial.unlink(missing_ok=True)
            raise InputError(f"cannot write {target}: {exc.strerror or exc}") from exc
        if progress is not None:
            progress(count)
        self.accounts.record_action(
            actor, "export-log", str(target), rows=count, filter=str(flt or "")
        )
        return count

    def verify_chain(
        self,
        actor: Actor,
        *,
        stop: threading.Event | None = None,
        progress: Callable[[int], None] | None = None,
        batch: int = 10_000,
    ) -> ChainReport | None:
        """Check the hash chain; ``None`` when stopped before the end."""
        actor.require(Role.AUDITOR)
        stopped = False
        with self.store.unit_of_work() as uow:
            session = uow.session
            head_row = session.get(ChainHead, 1)
            head = None if head_row is None else (head_row.last_id, head_row.last_hash)
            query = (
                select(
                    EventRow.id,
                    EventRow.time,
                    EventRow.kiosk_id,
                    EventRow.decision,
                    EventRow.person_id,
                    EventRow.score,
                    EventRow.threshold,
                    EventRow.model_version,
                    EventRow.latency_ms,
                    EventRow.reason,
                    EventRow.prev_hash,
                    EventRow.hash,
                )
                .order_by(EventRow.id)
                .execution_options(yield_per=batch)
            )

            def rows() -> Iterator[tuple[ChainFields, str]]:
                nonlocal stopped
                for i, r in enumerate(session.execute(query)):
                    if i % batch == 0:
                        if stop is not None and stop.is_set():
                            stopped = True
                            return
                        if progress is not None:
                            progress(i)
                    values: tuple[Any, ...] = tuple(r)
                    yield ChainFields(*values[:11]), str(values[11])

            report = verify_chain(self.store.chain_key, rows(), head)
        return None if stopped else report


class _Stopped(Exception):
    pass


def _person_record(row: PersonRow, templates: int) -> PersonRecord:
    person = Person(
        id=row.id,
        name=row.name,
        badge=row.badge,
        group=row.group_name,
        active=row.active and row.erased_at is None,
        valid_from=row.valid_from,
        valid_until=row.valid_until,
    )
    return PersonRecord(
        person=person,
        consent_at=row.consent_at,
        consent_by=row.consent_by,
        notes=row.notes,
        created_at=row.created_at,
        updated_at=row.updated_at,
        erased_at=row.erased_at,
        templates=templates,
    )


def _clean(group: str | None) -> str | None:
    return group.strip() if group and group.strip() else None


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
