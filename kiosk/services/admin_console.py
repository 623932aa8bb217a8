"""What is left of the console's former catch-all service, waiting for its owners.

The console's use cases now live in their own services (``people``, ``enrollment``,
``access_rules``, ``log_browser``, ``accounts``), shared with the command line. One part
stays here until it moves: the CSV export with progress and cancel and the chain check of
the audit-log window, which become the audit-log service's one export and one chain check.
(The security level is ``kiosk.services.security_level``.)

No Qt here: the windows in ``kiosk.ui.admin`` call these from worker threads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from kiosk.config import Settings
from kiosk.services.accounts import AccountService, Actor
from kiosk.services.audit_log import AuditLogService
from kiosk.storage.chain import ChainReport
from kiosk.storage.records import EventFilter
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
        force: bool = True,
    ) -> int:
        """The one CSV export (``AuditLogService.export_csv``), with progress and cancel.
        ``force``: the console's save dialog has already asked before replacing a file."""
        return AuditLogService(self.store, self.settings).export_csv(
            actor, target, flt, progress=progress, stop=stop, every=every, force=force
        )

    def verify_chain(
        self,
        actor: Actor,
        *,
        stop: threading.Event | None = None,
        progress: Callable[[int], None] | None = None,
        batch: int = 10_000,
    ) -> ChainReport | None:
        """The one integrity check (``AuditLogService.verify``); ``None`` when stopped."""
        return AuditLogService(self.store, self.settings).verify(
            actor, progress=progress, stop=stop
        )
