"""The kiosk's heartbeat: its state (camera, door, liveness) and its last decision,
written to the database every few seconds and at once when the state changes, so that
the console's Today page shows every kiosk of the database and notices one that went
quiet (:func:`kiosk.domain.kiosk_state.is_stale`).

The recognition loop tells it what it sees (:meth:`KioskHeartbeat.camera`,
:meth:`~KioskHeartbeat.door`, :meth:`~KioskHeartbeat.decided`, from any thread) and calls
:meth:`~KioskHeartbeat.tick` from its own loop; a heartbeat that cannot be written is
logged and tried again at the next tick: it never stops the kiosk.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from kiosk.domain.kiosk_state import HEARTBEAT_SECONDS, Heartbeat, KioskState, state_of

log = logging.getLogger(__name__)

WriteBeat = Callable[[Heartbeat], None]


class KioskHeartbeat:
    """One kiosk's heartbeat. ``write`` stores a :class:`Heartbeat` (the access service's
    :meth:`~kiosk.services.access.AccessService.write_heartbeat`)."""

    def __init__(
        self,
        kiosk_id: str,
        write: WriteBeat,
        *,
        liveness_on: bool,
        interval: float = HEARTBEAT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.kiosk_id = kiosk_id
        self._write = write
        self.liveness_on = liveness_on
        self.interval = interval
        self.clock = clock
        self.now = now
        self._lock = threading.Lock()
        self._camera_ok = True
        self._door_ok = True
        self._detail = ""
        self._last_decision: datetime | None = None
        self._started = now()
        self._written: KioskState | None = None  # the state of the last beat written
        self._since = self._started
        self._due = -1e18  # the first tick writes
        #: every heartbeat written, for tests and the console's figures
        self.written = 0

    # -- what the kiosk sees (any thread) --------------------------------------------

    def camera(self, ok: bool, detail: str = "") -> None:
        with self._lock:
            self._camera_ok = ok
            if detail or ok:
                self._detail = detail

    def door(self, ok: bool, detail: str = "") -> None:
        with self._lock:
            self._door_ok = ok
            if self._camera_ok:
                self._detail = detail

    def decided(self, when: datetime) -> None:
        with self._lock:
            self._last_decision = when

    @property
    def state(self) -> KioskState:
        with self._lock:
            return state_of(
                camera_ok=self._camera_ok, door_ok=self._door_ok, liveness_on=self.liveness_on
            )

    # -- writing (the loop's thread) -----------------------------------------------

    def tick(self) -> bool:
        """Write a heartbeat when the state changed or one is due; true when written."""
        state = self.state
        if state == self._written and self.clock() < self._due:
            return False
        return self._beat(state)

    def stop(self) -> None:
        """The kiosk closes: its last heartbeat says it stopped (not stale)."""
        self._beat(KioskState.STOPPED)

    def _beat(self, state: KioskState) -> bool:
        now = self.now()
        if state != self._written:
            self._since = now
        with self._lock:
            beat = Heartbeat(
                kiosk_id=self.kiosk_id,
                state=state,
                beat_at=now,
                since=self._since,
                started_at=self._started,
                last_decision_at=self._last_decision,
                detail="" if state in (KioskState.RUNNING, KioskState.STOPPED) else self._detail,
            )
        try:
            self._write(beat)
        except Exception as exc:  # the database away: the kiosk goes on, tries again
            log.warning("heartbeat: cannot write it: %s", exc)
            self._due = self.clock() + min(self.interval, 1.0)
            return False
        if state != self._written:
            log.info("kiosk state: %s", state.value)
        self._written = state
        self._due = self.clock() + self.interval
        self.written += 1
        return True


def silent_heartbeat(kiosk_id: str) -> KioskHeartbeat:
    """A heartbeat that writes nowhere (a loop run without a database: tests, tools)."""
    return KioskHeartbeat(kiosk_id, lambda _beat: None, liveness_on=True)
