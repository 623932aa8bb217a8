"""The kiosk's threads: the camera (a plain thread from ``kiosk.camera``) and the
recognition (a QThread running :class:`~kiosk.services.kiosk_loop.KioskLoop`).

Shutdown follows the house rule: set the stop event, ``thread.quit()``, ``thread.wait()``.
"""

from __future__ import annotations

import logging
import threading

from PySide6.QtCore import QObject, QThread, Signal, Slot

from kiosk.camera.reader import CameraReader
from kiosk.services.announce import DOOR_STOP_GRACE_SECONDS
from kiosk.services.door import Door
from kiosk.services.kiosk_loop import KioskLoop

log = logging.getLogger(__name__)


class RecognitionWorker(QObject):
    """Runs the recognition loop in its QThread; everything the loop says leaves through
    :attr:`update` (frozen dataclasses), queued to the window's slot in the GUI thread."""

    update = Signal(object)

    def __init__(self, loop: KioskLoop, stop: threading.Event) -> None:
        super().__init__()
        self.loop = loop
        self.stop_event = stop
        loop.emit = self.update.emit  # the loop stays Qt-free; the signal crosses threads

    @Slot()
    def run(self) -> None:
        try:
            self.loop.run(self.stop_event)
        except Exception:  # the loop reports its own errors; this is the last net
            log.exception("kiosk: the recognition thread failed")


class KioskThreads:
    """Starts and stops the camera and recognition threads together."""

    def __init__(self, camera: CameraReader, loop: KioskLoop, door: Door) -> None:
        self.camera = camera
        self.door = door
        self.stop_event = threading.Event()
        self.worker = RecognitionWorker(loop, self.stop_event)
        self.thread = QThread()
        self.thread.setObjectName("recognition")
        self.worker.moveToThread(self.thread)
        self.thread.started.connect(self.worker.run)
        self._running = False

    def start(self) -> None:
        self.camera.start()
        self.thread.start()
        self._running = True

    def stop(self, timeout_s: float | None = None) -> bool:
        """Stop both threads and wait for them; true when both ended in time. By default
        the wait is 15 s, or longer when a pending door request may take longer (the
        loop finishes it within the door's timeout and a grace before it returns)."""
        if timeout_s is None:
            door_s = self.worker.loop.settings.door.timeout_seconds + DOOR_STOP_GRACE_SECONDS
            timeout_s = max(15.0, door_s + 5.0)
        if not self._running:
            return True
        self._running = False
        self.stop_event.set()
        self.camera.stop()
        self.thread.quit()  # the loop's slot returns on the stop event, then quit applies
        finished = self.thread.wait(int(timeout_s * 1000))
        self.camera.join(timeout_s)
        self.door.close()
        if not finished or self.camera.is_alive():
            log.error("kiosk: a thread did not stop within %.0f s", timeout_s)
            return False
        return True
