"""Read-only queries the administration screens need beyond the repositories: a people
search that pages in the database, group figures, what an erasure would delete, and the
access log by position (counts, windows from either end, keyset pages).

Each function takes an open :class:`~kiosk.storage.store.UnitOfWork` and returns plain
records, like the repositories; the services call them, so no SQL lives outside
``kiosk.storage`` (cosmicpython keeps its read side in ``views.py`` the same way).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from kiosk.storage.models import (
    ChainHead,
    EventRow,
    HolidayRow,
    PersonRow,
    ScheduleWindowRow,
    SnapshotRow,
    TemplateRow,
)
from kiosk.storage.records import EventFilter, LoggedEvent, PersonRecord
from kiosk.storage.repositories import event_listing, filter_events, logged_event
from kiosk.storage.repositories.people import _record as person_record

if TYPE_CHECKING:
    from kiosk.storage.store import UnitOfWork


class PersonStatus:
    """The status words of the people list (and the filter on them)."""

    ACTIVE = "active"
    INACTIVE = "inactive"
    EXPIRED = "expired"
    NOT_YET = "not yet valid"
    ERASED = "erased"

    ALL = (ACTIVE, INACTIVE, EXPIRED, NOT_YET, ERASED)


@dataclass(frozen=True)
class GroupInfo:
    """An access group: its people (not erased), weekly windows and holidays."""

    name: str
    people: int
    windows: int
    holidays: int


@dataclass(frozen=True)
class ErasureCounts:
    """What erasing a person would delete (crops, snapshots) and keep (events)."""

    crops: int
    snapshots: int
    events: int


# -- people ------------------------------------------------------------------------------


def _status_conditions(status: str | None, now: datetime) -> list[Any]:
    alive = [PersonRow.erased_at.is_(None)]
    active = [*alive, PersonRow.active.is_(True)]
    not_expired = (PersonRow.valid_until.is_(None)) | (PersonRow.valid_until > now)
    if status is None:
        return alive
    if status == PersonStatus.ERASED:
        return [PersonRow.erased_at.is_not(None)]
    if status == PersonStatus.INACTIVE:
        return [*alive, PersonRow.active.is_(False)]
    if status == PersonStatus.EXPIRED:
        return [*active, PersonRow.valid_until <= now]
    if status == PersonStatus.NOT_YET:
        return [*active, not_expired, PersonRow.valid_from > now]
    if status == PersonStatus.ACTIVE:
        started = (PersonRow.valid_from.is_(None)) | (PersonRow.valid_from <= now)
        return [*active, not_expired, started]
    raise ValueError(f"unknown person status {status!r}")


def people_page(
    uow: UnitOfWork,
    *,
    search: str = "",
    status: str | None = None,
    group: str | None = None,
    limit: int = 1000,
    now: datetime,
    visitors: bool | None = None,
) -> tuple[list[PersonRecord], int]:
    """The first ``limit`` people matching, in name order, and how many match.
    ``visitors``: only visitors (True), only staff (False), or both (None).

    ``search``: part of the name or badge, any case (``%`` and ``_`` are themselves);
    ``group``: ``""`` for people without a group; ``status``: a :class:`PersonStatus`
    word (``None``: everyone not erased)."""
    conditions = _status_conditions(status, now)
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
    if visitors is not None:
        conditions.append(PersonRow.visitor.is_(visitors))
    templates = (
        select(func.count())
        .select_from(TemplateRow)
        .where(TemplateRow.person_id == PersonRow.id)
        .correlate(PersonRow)
        .scalar_subquery()
    )
    session = uow.session
    total = session.scalar(select(func.count()).select_from(PersonRow).where(*conditions))
    rows = session.execute(
        select(PersonRow, templates)
        .where(*conditions)
        .order_by(PersonRow.name, PersonRow.id)
        .limit(limit)
    ).all()
    return [person_record(row, int(n or 0)) for row, n in rows], int(total or 0)


def best_crop_template(uow: UnitOfWork, person_id: int) -> int | None:
    """The id of the person's best template that still has its face crop."""
    template_id = uow.session.scalar(
        select(TemplateRow.id)
        .where(TemplateRow.person_id == person_id, TemplateRow.crop.is_not(None))
        .order_by(TemplateRow.quality.desc(), TemplateRow.id)
        .limit(1)
    )
    return None if template_id is None else int(template_id)


def erasure_counts(uow: UnitOfWork, person_id: int) -> ErasureCounts:
    session = uow.session
    crops = session.scalar(
        select(func.count())
        .select_from(TemplateRow)
        .where(TemplateRow.person_id == person_id, TemplateRow.crop.is_not(None))
    )
    snapshots = session.scalar(
        select(func.count())
        .select_from(SnapshotRow)
        .where(
            SnapshotRow.event_id.in_(select(EventRow.id).where(EventRow.person_id == person_id))
            | (SnapshotRow.person_id == person_id)
        )
    )
    events = session.scalar(
        select(func.count()).select_from(EventRow).where(EventRow.person_id == person_id)
    )
    return ErasureCounts(int(crops or 0), int(snapshots or 0), int(events or 0))


# -- groups ------------------------------------------------------------------------------


def group_names(uow: UnitOfWork) -> list[str]:
    """Every group a person, a window or a holiday names, in name order (any case)."""
    names: set[str] = set()
    for column in (PersonRow.group_name, ScheduleWindowRow.group_name, HolidayRow.group_name):
        names.update(n for n in uow.session.scalars(select(column).distinct()) if n)
    return sorted(names, key=str.lower)


def groups(uow: UnitOfWork) -> list[GroupInfo]:
    session = uow.session
    people = dict(
        session.execute(
            select(PersonRow.group_name, func.count())
            .where(PersonRow.erased_at.is_(None))
            .group_by(PersonRow.group_name)
        ).all()
    )
    windows = dict(
        session.execute(
            select(ScheduleWindowRow.group_name, func.count()).group_by(
                ScheduleWindowRow.group_name
            )
        ).all()
    )
    holidays = dict(
        session.execute(
            select(HolidayRow.group_name, func.count()).group_by(HolidayRow.group_name)
        ).all()
    )
    return [
        GroupInfo(n, int(people.get(n, 0)), int(windows.get(n, 0)), int(holidays.get(n, 0)))
        for n in group_names(uow)
    ]


# -- the access log by position ----------------------------------------------------------


def kiosk_ids(uow: UnitOfWork) -> list[str]:
    """Every kiosk id in the log."""
    return sorted(uow.session.scalars(select(EventRow.kiosk_id).distinct()).all())


def head_id(uow: UnitOfWork) -> int:
    """The id of the newest event (0 for an empty log)."""
    head = uow.session.get(ChainHead, 1)
    return 0 if head is None else int(head.last_id)


def count_events(
    uow: UnitOfWork, flt: EventFilter | None, *, upto_id: int, after_id: int = 0
) -> int:
    """Events matching ``flt`` with ``after_id < id <= upto_id``."""
    query = select(func.count()).select_from(EventRow).where(EventRow.id <= upto_id)
    if after_id:
        query = query.where(EventRow.id > after_id)
    return int(uow.session.scalar(filter_events(query, flt)) or 0)


def event_window(
    uow: UnitOfWork,
    flt: EventFilter | None,
    *,
    upto_id: int,
    offset: int,
    limit: int,
    newest_first: bool,
    total: int,
) -> list[LoggedEvent]:
    """Rows ``offset .. offset+limit`` of the filtered log (``total`` events up to
    ``upto_id``) in the given order, read from whichever end is nearer, so that the
    last page is as quick as the first."""
    limit = max(0, min(limit, total - offset))
    if limit == 0:
        return []
    from_end = total - offset - limit
    reverse = from_end < offset
    # ascending order from the other end is the same rows, reversed
    descending = newest_first != reverse
    query = filter_events(event_listing().where(EventRow.id <= upto_id), flt)
    query = query.order_by(EventRow.id.desc() if descending else EventRow.id.asc())
    query = query.limit(limit).offset(from_end if reverse else offset)
    rows = [logged_event(row) for row in uow.session.execute(query)]
    if reverse:
        rows.reverse()
    return rows


def events_after(
    uow: UnitOfWork,
    flt: EventFilter | None,
    *,
    upto_id: int,
    boundary_id: int,
    limit: int,
    newest_first: bool,
) -> list[LoggedEvent]:
    """The next ``limit`` rows past ``boundary_id`` in the given order (keyset paging: as
    quick deep in the log as at its start)."""
    query = filter_events(event_listing().where(EventRow.id <= upto_id), flt)
    if newest_first:
        query = query.where(EventRow.id < boundary_id).order_by(EventRow.id.desc())
    else:
        query = query.where(EventRow.id > boundary_id).order_by(EventRow.id.asc())
    return [logged_event(row) for row in uow.session.execute(query.limit(limit))]
