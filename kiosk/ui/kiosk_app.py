"""The kiosk screen's Qt wiring: camera thread -> recognition thread -> window.

The parts (camera, door, pipeline loader, gallery, liveness check) arrive built from the
composition root (:func:`kiosk.app.build_kiosk`); this module only connects them to the
window and runs the event loop.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from kiosk.camera.frames import FrameSlot
from kiosk.camera.reader import CameraReader
from kiosk.config import Settings
from kiosk.domain.faces import FloatArray
from kiosk.services.door import Door
from kiosk.services.events import EventBus
from kiosk.services.heartbeat import KioskHeartbeat
from kiosk.services.kiosk_loop import (
    AccessStore,
    KioskLoop,
    LivenessCheck,
    Recognizer,
    Searcher,
)
from kiosk.services.loop_messages import LoopMessage, StaffNotice
from kiosk.services.sd_notify import SystemdNotifier
from kiosk.ui.admin_login import PasswordCheck
from kiosk.ui.kiosk_window import KioskWindow
from kiosk.ui.kiosk_window import application as application
from kiosk.ui.workers import KioskThreads

log = logging.getLogger(__name__)


class KioskApp:
    """The kiosk's parts, wired in the GUI thread; :meth:`start` and :meth:`stop` the
    threads. The window is shown by the caller (tests keep it hidden or windowed)."""

    def __init__(
        self,
        settings: Settings,
        store: AccessStore,
        *,
        camera: CameraReader,
        door: Door,
        load_recognizer: Callable[[], Recognizer],
        make_gallery: Callable[[FloatArray, list[int]], Searcher],
        password_check: PasswordCheck,
        liveness: LivenessCheck | None = None,
        full_screen: bool = True,
        require_password: bool | None = None,
        window: KioskWindow | None = None,
        events: EventBus | None = None,
        notifier: SystemdNotifier | None = None,
        heartbeat: KioskHeartbeat | None = None,
    ) -> None:
        self.settings = settings
        self.events = events
        self.notifier = notifier
        self.camera = camera
        self.door = door
        self.loop = KioskLoop(
            settings,
            camera.slot,
            lambda _update: None,  # replaced by the worker's signal
            load_recognizer=load_recognizer,
            store=store,
            door=door,
            make_gallery=make_gallery,
            liveness=liveness,
            heartbeat=heartbeat,
        )
        require = full_screen if require_password is None else require_password
        if window is None:
            window = KioskWindow(
                settings,
                camera.slot,
                password_check=password_check,
                require_password=require,
                full_screen=full_screen,
            )
        else:  # shown while starting (show_starting), on this camera's slot
            window.password_check, window.require_password = password_check, require
        self.window = window
        self.threads = KioskThreads(camera, self.loop, door)
        # a queued connection to a method of a GUI-thread object, not a lambda
        self.threads.worker.update.connect(self.window.on_update)
        self._tee([b.observe for b in (events, notifier) if b is not None])
        if events is not None:
            self._publish_events(events)
        # badge + face: a badge read at the screen; the loop's claim is thread-safe
        self.window.badge_entered.connect(self.loop.claim)

    def _tee(self, observers: list[Callable[[LoopMessage], None]]) -> None:
        """Everything the loop says goes to ``observers`` too, from the thread that says
        it (they only queue a message or send one datagram: nothing that waits)."""
        if not observers:
            return
        to_screen = self.loop.emit

        def all_of_them(message: LoopMessage) -> None:
            to_screen(message)
            for observe in observers:
                observe(message)

        self.loop.emit = all_of_them

    def _publish_events(self, events: EventBus) -> None:
        """The bus's trouble goes to the staff bar; the camera's state to the bus."""
        update = self.threads.worker.update
        # a signal emitted from the bus's thread is queued to the window's slot
        events.on_change = lambda line: update.emit(StaffNotice("events", line))
        slot = self.camera.slot

        def camera() -> tuple[bool, str]:
            status = slot.status
            return status.online, status.message

        events.watch_camera(camera)

    def start(self) -> None:
        self.threads.start()

    def stop(self) -> bool:
        """Stop the threads (and wait for them); true when all ended."""
        stopped = self.threads.stop()
        if self.notifier is not None:
            self.notifier.stopping()
        if self.events is not None:
            self.events.close()  # "stopped", and what is still queued, within 2 s
        return stopped


def show_starting(settings: Settings, slot: FrameSlot, *, full_screen: bool) -> KioskWindow:
    """The kiosk's window, shown at once, saying it is starting (until the recognition
    says it is ready). Nobody can sign in to it until :class:`KioskApp` gives it the
    password check; it cannot be closed without one meanwhile when full screen."""
    window = KioskWindow(
        settings,
        slot,
        password_check=lambda _user, _password: False,
        require_password=full_screen,
        full_screen=full_screen,
    )
    window.show_kiosk()
    application().processEvents()  # painted now, before the slow start
    log.info("kiosk: window shown, starting")
    return window


def run_until_closed(app: QApplication, kiosk: KioskApp, *, exit_after: float | None) -> bool:
    """Show the kiosk and run Qt's event loop until the window closes (or after
    ``exit_after`` seconds); true when every thread stopped cleanly."""
    if exit_after is not None:
        QTimer.singleShot(int(exit_after * 1000), kiosk.window.shutdown)
    # Ctrl+C in the terminal closes the kiosk cleanly (Qt would otherwise swallow it).
    previous = signal.signal(signal.SIGINT, lambda *_: kiosk.window.shutdown())
    wake = QTimer()
    wake.timeout.connect(_let_python_run)  # lets Python see the signal between Qt events
    wake.start(200)
    kiosk.start()
    if not kiosk.window.isVisible():  # run_kiosk showed it while starting
        kiosk.window.show_kiosk()
    try:
        app.exec()
    finally:
        wake.stop()
        signal.signal(signal.SIGINT, previous)
        stopped = kiosk.stop()
    log.info("kiosk: closed")
    return stopped


def _let_python_run() -> None:
    pass
