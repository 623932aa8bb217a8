"""A kiosk's state as its heartbeat tells the console: running, camera lost, door
failing, liveness off; and when a heartbeat is too old to be believed (stale).

Plain values: the kiosk decides its state here (:func:`state_of`), the storage keeps the
latest heartbeat of each kiosk, the console reads them back and asks :func:`is_stale`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

#: a kiosk writes its heartbeat this often (and at once when its state changes)
HEARTBEAT_SECONDS = 5.0
#: a heartbeat older than this says nothing any more: the kiosk is shown as stale
#: (stopped, crashed, cut off from the database); three missed beats
STALE_SECONDS = 15.0


class KioskState(enum.StrEnum):
    """What a kiosk is doing, worst first when several hold (see :func:`state_of`)."""

    CAMERA_LOST = "camera lost"
    DOOR_FAILING = "door failing"
    LIVENESS_OFF = "liveness off"
    RUNNING = "running"
    STOPPED = "stopped"  # closed cleanly: its last heartbeat says so
    UNKNOWN = "unknown"  # a state this program does not know (written by another)

    @property
    def words(self) -> str:
        return _WORDS[self]

    @property
    def alarming(self) -> bool:
        """A state that is an alert on the console (someone must go and look)."""
        return self in (KioskState.CAMERA_LOST, KioskState.DOOR_FAILING, KioskState.UNKNOWN)


_WORDS = {
    KioskState.CAMERA_LOST: "Camera lost: nobody can be recognised",
    KioskState.DOOR_FAILING: "Door failing: people recognised but the door did not open",
    KioskState.LIVENESS_OFF: "Running without the photo check (liveness off)",
    KioskState.RUNNING: "Running",
    KioskState.STOPPED: "Stopped (closed)",
    KioskState.UNKNOWN: "State not understood (written by another program)",
}


def state_of(*, camera_ok: bool, door_ok: bool, liveness_on: bool) -> KioskState:
    """The one state a running kiosk reports: the worst that holds."""
    if not camera_ok:
        return KioskState.CAMERA_LOST
    if not door_ok:
        return KioskState.DOOR_FAILING
    if not liveness_on:
        return KioskState.LIVENESS_OFF
    return KioskState.RUNNING


@dataclass(frozen=True)
class Heartbeat:
    """The latest word from one kiosk. Times are timezone-aware UTC."""

    kiosk_id: str
    state: KioskState
    beat_at: datetime  # when it was written
    since: datetime  # when the kiosk entered this state
    started_at: datetime  # when this run of the kiosk started
    last_decision_at: datetime | None = None
    detail: str = ""  # e.g. the camera's or the door's own message


def is_stale(beat: Heartbeat, now: datetime, stale_seconds: float = STALE_SECONDS) -> bool:
    """True when ``beat`` is too old to say what the kiosk is doing now (a kiosk that
    closed cleanly is not stale: it said it stopped)."""
    if beat.state is KioskState.STOPPED:
        return False
    return now - beat.beat_at > timedelta(seconds=stale_seconds)
