"""Wires the kiosk screen: camera thread -> recognition thread -> window."""

from __future__ import annotations

import logging
from collections.abc import Callable

from kiosk.camera.reader import CameraReader, make_camera
from kiosk.config import Settings
from kiosk.domain.faces import FloatArray
from kiosk.services.door import Door, make_door
from kiosk.services.kiosk_loop import (
    AccessStore,
    KioskLoop,
    LivenessCheck,
    Recognizer,
    Searcher,
)
from kiosk.ui.admin_login import PasswordCheck
from kiosk.ui.kiosk_window import KioskWindow
from kiosk.ui.workers import KioskThreads

log = logging.getLogger(__name__)


def _load_pipeline(settings: Settings) -> Callable[[], Recognizer]:
    def load() -> Recognizer:
        from kiosk.vision.pipeline import FacePipeline

        return FacePipeline.load(settings.vision)

    return load


def _gallery(settings: Settings) -> Callable[[FloatArray, list[int]], Searcher]:
    def make(embeddings: FloatArray, labels: list[int]) -> Searcher:
        from kiosk.vision.matcher import build_gallery

        return build_gallery(embeddings, labels, settings.vision)

    return make


class KioskApp:
    """The kiosk's parts, built in the GUI thread; :meth:`start` and :meth:`stop` the
    threads. The window is shown by the caller (tests keep it hidden or windowed)."""

    def __init__(
        self,
        settings: Settings,
        store: AccessStore,
        *,
        password_check: PasswordCheck,
        camera: str | None = None,
        full_screen: bool = True,
        require_password: bool | None = None,
        door: Door | None = None,
        load_recognizer: Callable[[], Recognizer] | None = None,
        liveness: LivenessCheck | None = None,
        camera_reader: CameraReader | None = None,
    ) -> None:
        self.settings = settings
        capture = settings.capture
        self.camera = camera_reader or make_camera(
            camera if camera is not None else settings.camera,
            width=capture.width,
            height=capture.height,
            fps=capture.fps,
            loop=capture.loop_files,
            max_retry=capture.retry_max_seconds,
        )
        self.door = door or make_door(settings.door)
        self.loop = KioskLoop(
            settings,
            self.camera.slot,
            lambda _update: None,  # replaced by the worker's signal
            load_recognizer=load_recognizer or _load_pipeline(settings),
            store=store,
            door=self.door,
            make_gallery=_gallery(settings),
            liveness=liveness,
        )
        self.window = KioskWindow(
            settings,
            self.camera.slot,
            password_check=password_check,
            require_password=full_screen if require_password is None else require_password,
            full_screen=full_screen,
        )
        self.threads = KioskThreads(self.camera, self.loop, self.door)
        # a queued connection to a method of a GUI-thread object, not a lambda
        self.threads.worker.update.connect(self.window.on_update)

    def start(self) -> None:
        self.threads.start()

    def stop(self) -> bool:
        """Stop the threads (and wait for them); true when all ended."""
        return self.threads.stop()
