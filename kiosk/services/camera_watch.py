"""When a camera is lost and when it is back, once per outage.

A camera that drops and reopens every half second (a loose cable, a flaky stream) must
be one outage: one row in the access log and one change of the kiosk's state when it
goes, one when it is back, not two rows per reconnect. It counts as back only after
sending frames for :data:`CAMERA_STEADY_SECONDS` without a break.
"""

from __future__ import annotations

from dataclasses import dataclass

from kiosk.camera.frames import CameraStatus

#: frames without a break for this long, after an outage, before the camera is back
CAMERA_STEADY_SECONDS = 5.0


@dataclass(frozen=True)
class CameraChange:
    """The camera was lost (``lost``, with the reason) or is back (after ``lasted`` s)."""

    lost: bool
    reason: str = ""
    lasted: float = 0.0

    @property
    def words(self) -> str:
        """The access log's words for it (no face was involved)."""
        if self.lost:
            return f"camera lost: {self.reason}"
        return f"camera back after {self.lasted:.0f} s lost"


class CameraWatch:
    """Told the camera's status at every turn of the loop; answers a change, or None."""

    def __init__(self, stall_seconds: float, steady_seconds: float = CAMERA_STEADY_SECONDS):
        self.stall_seconds = stall_seconds
        self.steady_seconds = steady_seconds
        self.lost = False
        self._lost_at = 0.0
        self._back_since: float | None = None  # frames again since, during an outage

    def see(
        self, status: CameraStatus, latest_frame_time: float | None, now: float
    ) -> CameraChange | None:
        offline = not status.online and status.offline_since is not None
        stalled = (
            status.online
            and latest_frame_time is not None
            and now - latest_frame_time > self.stall_seconds
        )
        if offline or stalled:
            self._back_since = None
            if self.lost:
                return None
            self.lost, self._lost_at = True, now
            reason = status.message if offline else "the camera stopped sending frames"
            return CameraChange(True, reason)
        if not (status.online and self.lost):
            return None
        if self._back_since is None:
            self._back_since = now
        if now - self._back_since < self.steady_seconds:
            return None
        lasted = self._back_since - self._lost_at
        self.lost, self._back_since = False, None
        return CameraChange(False, lasted=lasted)
