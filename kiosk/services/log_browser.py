"""Reading the access log in a window: how many events match, rows by position from
either end, keyset pages, snapshots and the kiosks in the log.

The window numbers rows by their position from the oldest matching event up to a fixed
newest id (``upto_id``), so that new events only add positions; see
:mod:`kiosk.ui.admin.log_viewer`. The command line's ``log list`` pages newest first with
:class:`kiosk.services.audit_log.AuditLogService`; both read the same repositories.
"""

from __future__ import annotations

from kiosk.services.accounts import Actor
from kiosk.storage import views
from kiosk.storage.records import EventFilter, LoggedEvent, Role
from kiosk.storage.store import Store


class LogBrowser:
    """The audit-log viewer's queries (auditors may use all of them)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def kiosks(self, actor: Actor) -> list[str]:
        actor.require(Role.AUDITOR)
        with self.store.unit_of_work() as uow:
            return views.kiosk_ids(uow)

    def head_id(self, actor: Actor) -> int:
        """The id of the newest event (0 for an empty log)."""
        actor.require(Role.AUDITOR)
        with self.store.unit_of_work() as uow:
            return views.head_id(uow)

    def count(
        self, actor: Actor, flt: EventFilter | None, *, upto_id: int, after_id: int = 0
    ) -> int:
        """Events matching ``flt`` with ``after_id < id <= upto_id``."""
        actor.require(Role.AUDITOR)
        with self.store.unit_of_work() as uow:
            return views.count_events(uow, flt, upto_id=upto_id, after_id=after_id)

    def window(
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
        """Rows ``offset .. offset+limit`` of the filtered log (``total`` events up to
        ``upto_id``), read from whichever end is nearer."""
        actor.require(Role.AUDITOR)
        with self.store.unit_of_work() as uow:
            return views.event_window(
                uow,
                flt,
                upto_id=upto_id,
                offset=offset,
                limit=limit,
                newest_first=newest_first,
                total=total,
            )

    def after(
        self,
        actor: Actor,
        flt: EventFilter | None,
        *,
        upto_id: int,
        boundary_id: int,
        limit: int,
        newest_first: bool,
    ) -> list[LoggedEvent]:
        """The next ``limit`` rows past ``boundary_id`` in the given order."""
        actor.require(Role.AUDITOR)
        with self.store.unit_of_work() as uow:
            return views.events_after(
                uow,
                flt,
                upto_id=upto_id,
                boundary_id=boundary_id,
                limit=limit,
                newest_first=newest_first,
            )

    def snapshot(self, actor: Actor, event_id: int) -> bytes | None:
        """The event's camera snapshot (decrypted), while retention keeps it."""
        actor.require(Role.AUDITOR)
        with self.store.unit_of_work() as uow:
            return uow.events.snapshot(event_id)
