"""What is left of the console's former catch-all service, waiting for its owners.

The console's use cases now live in their own services (``people``, ``enrollment``,
``access_rules``, ``log_browser``, ``accounts``), shared with the command line. One part
stays here until it moves: the CSV export with progress and cancel and the chain check of
the audit-log window, which become the audit-log service's one export and one chain check.
(The security level is ``kiosk.services.security_level``.)

No Qt here: the windows in ``kiosk.ui.admin`` call these from worker threads.
"""

from __future__ import annotations

import csv
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import select

from kiosk.config import Settings
from kiosk.errors import InputError
from kiosk.services.accounts import AccountService, Actor
from kiosk.services.audit_log import CSV_COLUMNS, event_row
from kiosk.storage.chain import ChainFields, ChainReport, verify_chain
from kiosk.storage.models import (
    ChainHead,
    EventRow,
)
from kiosk.storage.records import EventFilter, Role
from kiosk.storage.store import Store


class AdminConsole:
    """The audit-log window's export and chain check, for one open database
    (thread-safe: each call is its own unit of work)."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self.accounts = AccountService(store)

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
