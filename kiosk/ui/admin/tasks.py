"""Long work off the GUI thread: one QThread per task, results as immutable values.

task = BackgroundTask(lambda progress, stop: service.export(..., progress, stop))
task.progressed.connect(bar.setValue)
task.succeeded.connect(self._exported)     # slots of GUI-thread objects
task.failed.connect(self._show_error)
task.start()
...
task.stop()                                # stop event, quit(), wait()
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

from kiosk.errors import KioskError

log = logging.getLogger(__name__)

#: the work: called in the worker thread with a progress callback and a stop event
Work = Callable[[Callable[[object], None], threading.Event], object]

_THREADS: weakref.WeakSet[QThread] = weakref.WeakSet()


def track(thread: QThread) -> QThread:
    """Remember a console thread, so that tests can check none is left running."""
    _THREADS.add(thread)
    return thread


def running_threads() -> list[str]:
    """Names of the console's QThreads still running."""
    alive = []
    for t in list(_THREADS):
        try:
            if t.isRunning():
                alive.append(t.objectName())
        except RuntimeError:  # the C++ object is gone: not running
            continue
    return alive


class _Worker(QObject):
    progressed = Signal(object)
    succeeded = Signal(object)
    failed = Signal(str)

    def __init__(self, work: Work, stop: threading.Event) -> None:
        super().__init__()
        self._work = work
        self._stop = stop

    @Slot()
    def run(self) -> None:
        try:
            result = self._work(self.progressed.emit, self._stop)
        except KioskError as exc:
            self.failed.emit(str(exc))
        except Exception as exc:  # shown to the admin, logged for the developer
            log.exception("admin console: a background task failed")
            self.failed.emit(f"unexpected error: {exc}")
        else:
            self.succeeded.emit(result)


class BackgroundTask(QObject):
    """Runs ``work`` once in its own QThread. Its signals are re-emitted by this object,
    which lives in the GUI thread, so slots connected to them run there."""

    progressed = Signal(object)
    succeeded = Signal(object)
    failed = Signal(str)
    finished = Signal()

    def __init__(self, work: Work, parent: QObject | None = None, name: str = "task") -> None:
        super().__init__(parent)
        self.stop_event = threading.Event()
        self._thread = track(QThread())
        self._thread.setObjectName(name)
        self._worker = _Worker(work, self.stop_event)
        self._worker.moveToThread(self._thread)
        self._thread.started.connect(self._worker.run)
        self._worker.progressed.connect(self._on_progress)
        self._worker.succeeded.connect(self._on_success)
        self._worker.failed.connect(self._on_failure)
        self._running = False
        self.done = False

    def start(self) -> None:
        self._running = True
        self._thread.start()

    @property
    def running(self) -> bool:
        return self._running

    def stop(self, timeout_ms: int = 30_000) -> None:
        """Ask the work to stop and wait for the thread (stop event, quit, wait)."""
        self.stop_event.set()
        self._end(timeout_ms)

    def _end(self, timeout_ms: int = 30_000) -> None:
        if self._thread.isRunning() or self._running:
            self._thread.quit()
            if not self._thread.wait(timeout_ms):
                log.error("admin console: task %s did not stop", self._thread.objectName())
        self._running = False

    @Slot(object)
    def _on_progress(self, value: object) -> None:
        if not self.stop_event.is_set():
            self.progressed.emit(value)

    @Slot(object)
    def _on_success(self, value: object) -> None:
        self._end()
        self.done = True
        if not self.stop_event.is_set():
            self.succeeded.emit(value)
        self.finished.emit()

    @Slot(str)
    def _on_failure(self, message: str) -> None:
        self._end()
        self.done = True
        if not self.stop_event.is_set():
            self.failed.emit(message)
        self.finished.emit()


def run_task(
    owner: QObject,
    work: Work,
    *,
    on_success: Callable[[Any], None] | None = None,
    on_failure: Callable[[str], None] | None = None,
    on_progress: Callable[[Any], None] | None = None,
    name: str = "task",
) -> BackgroundTask:
    """Start ``work`` in a background task owned by ``owner`` (bound methods of GUI
    objects as callbacks: they run in the GUI thread)."""
    task = BackgroundTask(work, owner, name)
    if on_success is not None:
        task.succeeded.connect(on_success)
    if on_failure is not None:
        task.failed.connect(on_failure)
    if on_progress is not None:
        task.progressed.connect(on_progress)
    task.start()
    return task
