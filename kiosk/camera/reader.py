"""The camera thread: owns the source, publishes the newest frame, reconnects."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from kiosk.camera.frames import CameraStatus, Frame, FrameSlot
from kiosk.camera.sources import CameraError, FrameSource, describe

log = logging.getLogger(__name__)

#: read failures in a row after which the source counts as lost (one bad frame of a
#: webcam or stream is not an outage)
MAX_READ_FAILURES = 3


class CameraReader(threading.Thread):
    """Reads frames in its own thread and overwrites the slot with each new one.

    The source is made *and* opened inside this thread (``make_source`` is called here),
    because OpenCV capture objects belong to the thread that opened them. When the source
    cannot be opened or stops delivering, the status goes offline with the reason, and
    the thread retries with back-off (``first_retry`` doubling up to ``max_retry``
    seconds) until it succeeds or :meth:`stop` is called.

    A plain thread, not a QThread: the camera layer knows nothing of Qt, and the
    benchmark and the command line use it without a window.
    """

    def __init__(
        self,
        make_source: Callable[[], FrameSource],
        slot: FrameSlot,
        *,
        first_retry: float = 0.5,
        max_retry: float = 8.0,
    ) -> None:
        super().__init__(name="camera", daemon=True)
        self._make_source = make_source
        self.slot = slot
        self.first_retry = first_retry
        self.max_retry = max_retry
        self._stop_event = threading.Event()
        self._seq = 0

    def stop(self) -> None:
        """Ask the thread to end; it closes the source. Follow with ``join()``."""
        self._stop_event.set()

    def run(self) -> None:
        delay = self.first_retry
        attempts = 0
        offline_since: float | None = None
        while not self._stop_event.is_set():
            source: FrameSource | None = None
            try:
                source = self._make_source()
                source.open()
            except CameraError as exc:
                reason = str(exc)
            except Exception as exc:  # a driver error must not end the thread
                log.exception("camera: unexpected error while opening")
                reason = f"camera error: {exc}"
            else:
                if offline_since is not None:
                    log.warning(
                        "camera: back after %.1f s offline", time.monotonic() - offline_since
                    )
                attempts, offline_since, delay = 0, None, self.first_retry
                reason = self._pump(source)
            finally:
                if source is not None:
                    source.close()
            if self._stop_event.is_set():
                break
            attempts += 1
            if offline_since is None:
                offline_since = time.monotonic()
                log.warning("camera: offline: %s", reason)
            status = self.slot.status
            self.slot.set_status(
                CameraStatus(
                    online=False,
                    message=reason,
                    source=status.source,
                    requested=status.requested,
                    obtained=status.obtained,
                    offline_since=offline_since,
                    attempts=attempts,
                    label=status.label,
                )
            )
            self._stop_event.wait(delay)
            delay = min(delay * 2, self.max_retry)

    def _pump(self, source: FrameSource) -> str:
        """Read until the source fails or the thread is stopped; return the reason."""
        status = self.slot.status
        obtained = source.obtained
        self.slot.set_status(
            CameraStatus(
                online=True,
                message="",
                source=status.source,
                requested=status.requested,
                obtained=obtained,
                label=status.label,
            )
        )
        label = status.label or describe(status.source)
        log.info("camera: %s open at %dx%d, %.1f fps", label, *obtained)
        period = 1.0 / obtained[2] if source.paced and obtained[2] > 0 else 0.0
        due = time.monotonic()
        failures = 0
        while not self._stop_event.is_set():
            if period:
                # a file is read as fast as the disk allows: play it at its own rate
                due += period
                wait = due - time.monotonic()
                if wait > 0:
                    if self._stop_event.wait(wait):
                        break
                else:
                    due = time.monotonic()
            try:
                image = source.read()
            except Exception as exc:
                log.exception("camera: unexpected error while reading")
                return f"camera error: {exc}"
            if image is None:
                failures += 1
                if failures >= MAX_READ_FAILURES:
                    return f"{label} stopped delivering frames"
                continue
            failures = 0
            self._seq += 1
            self.slot.publish(Frame(self._seq, time.monotonic(), image))
        return "stopped"


def make_camera(
    spec: str,
    *,
    width: int = 640,
    height: int = 480,
    fps: float = 30.0,
    loop: bool = True,
    max_retry: float = 8.0,
) -> CameraReader:
    """A camera thread (not started) for ``spec`` with its slot."""
    from kiosk.camera.sources import open_source

    slot = FrameSlot(
        CameraStatus(
            online=False,
            message="starting the camera",
            source=spec,
            requested=(width, height, fps),
            label=describe(spec),
        )
    )
    return CameraReader(
        lambda: open_source(spec, width, height, fps, loop), slot, max_retry=max_retry
    )
