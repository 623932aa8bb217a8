"""The frame and status values the camera thread hands to the rest of the program, and
the one-slot mailbox they travel in."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from kiosk.domain.faces import ImageArray


@dataclass(frozen=True)
class Frame:
    """One camera image, RGB, read-only (``rgb.flags.writeable`` is false) so that it can
    be shared between threads without copies.

    ``seq`` counts frames from 1 since the program started (across reconnections);
    ``time`` is ``time.monotonic()`` when the frame was read."""

    seq: int
    time: float
    rgb: ImageArray

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])


@dataclass(frozen=True)
class CameraStatus:
    """What the camera thread last knew.

    ``requested`` is (width, height, fps) as asked; ``obtained`` what the source reports
    (``None`` until it has opened once). ``offline_since`` is the monotonic time the
    current outage began (``None`` while online)."""

    online: bool
    message: str
    source: str
    requested: tuple[int, int, float]
    obtained: tuple[int, int, float] | None = None
    offline_since: float | None = None
    attempts: int = 0  # failed attempts to (re)open since the outage began
    label: str = ""  # words for the source ("webcam 0", "video clip.mp4"), chosen once


class FrameSlot:
    """A one-slot mailbox: the camera overwrites the newest frame, readers look at it.

    Never a queue: when a reader is slower than the camera it simply misses frames, so
    latency does not grow. Readers do not take the frame out; each remembers the last
    ``seq`` it saw (several readers, e.g. the screen and the recognition, share one
    slot)."""

    def __init__(self, status: CameraStatus) -> None:
        self._cond = threading.Condition()
        self._frame: Frame | None = None
        self._status = status

    def publish(self, frame: Frame) -> None:
        with self._cond:
            self._frame = frame
            self._cond.notify_all()

    def set_status(self, status: CameraStatus) -> None:
        with self._cond:
            self._status = status
            self._cond.notify_all()

    @property
    def status(self) -> CameraStatus:
        with self._cond:
            return self._status

    def latest(self) -> Frame | None:
        """The newest frame, without waiting (``None`` before the first)."""
        with self._cond:
            return self._frame

    def wait_newer(self, seq: int, timeout: float) -> Frame | None:
        """The newest frame if it is newer than ``seq``, waiting up to ``timeout``
        seconds for one; ``None`` if none came (or the status changed meanwhile)."""
        with self._cond:
            if self._frame is None or self._frame.seq <= seq:
                self._cond.wait(timeout)
            if self._frame is not None and self._frame.seq > seq:
                return self._frame
            return None
