"""Retention that runs by itself: snapshots (and, when set, enrollment crops) past their
retention period are deleted, and visitors whose pass has ended are erased (templates,
crops, snapshots), when the kiosk starts and then every hour (a visitor's face is kept
at most an hour past the pass), without anyone
running ``purge``. Each run that deletes something is an operator's action of the kiosk
itself (admin "-") in the chained log.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from kiosk.config import Settings
from kiosk.errors import KioskError
from kiosk.services.audit_log import AuditLogService, PurgeReport
from kiosk.storage.store import Store

log = logging.getLogger(__name__)

DAY_SECONDS = 24 * 3600.0
#: how often the retention job runs: a visitor's pass ends at a time of day
RUN_EVERY_SECONDS = 3600.0


def purge_expired(
    store: Store, settings: Settings, *, now: datetime | None = None
) -> PurgeReport | None:
    """One retention run; ``None`` (logged) when the database refused it."""
    try:
        report = AuditLogService(store, settings).purge(None, now=now or datetime.now(UTC))
    except KioskError as exc:
        log.error("retention: could not delete expired snapshots: %s", exc)
        return None
    if report.snapshots or report.crops or report.visitors:
        log.info(
            "retention: deleted %d snapshot(s) and %d crop(s) past their retention, "
            "erased %d visitor(s) whose pass ended",
            report.snapshots,
            report.crops,
            report.visitors,
        )
    return report


class RetentionRunner:
    """Runs :func:`purge_expired` at start and then every ``interval`` seconds on a
    daemon thread, until :meth:`stop`."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        interval: float = RUN_EVERY_SECONDS,
        on_run: Callable[[PurgeReport | None], None] | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.interval = interval
        self.on_run = on_run
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="retention", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            report = purge_expired(self.store, self.settings)
            if self.on_run is not None:
                self.on_run(report)
            if self._stop.wait(self.interval):
                return

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
