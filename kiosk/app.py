"""The composition root: the one place that turns the settings into the program's parts.

    settings -> store -> services
             -> face pipeline (one loader, loaded once, on first need)
             -> camera, door, liveness check
             -> the kiosk screen, the admin console

The command line (``kiosk.cli`` and its command modules) asks this module for what a
command needs; the windows in ``kiosk.ui`` receive their parts built and never build
them. Nothing heavy happens at import: the models, Qt and the database are imported
and opened only by the function that needs them, so ``kiosk log list`` starts quickly.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING

from kiosk.config import Settings

if TYPE_CHECKING:
    from kiosk.camera.reader import CameraReader
    from kiosk.domain.faces import FaceResult, FloatArray, ImageArray, ModelInfo
    from kiosk.services.access import AccessService
    from kiosk.services.admin import AdminServices
    from kiosk.services.door import Door
    from kiosk.services.events import EventBus
    from kiosk.services.kiosk_loop import LivenessCheck, Recognizer, Searcher
    from kiosk.services.photo_check import FaceAnalyzer
    from kiosk.storage.store import Store
    from kiosk.ui.admin_login import PasswordCheck
    from kiosk.ui.kiosk_app import KioskApp
    from kiosk.ui.kiosk_window import KioskWindow
    from kiosk.vision.pipeline import FacePipeline

log = logging.getLogger(__name__)


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Defaults, then the TOML file, then ``KIOSK_*`` variables (see ``kiosk.config``)."""
    return Settings.load(env)


# -- the database ------------------------------------------------------------------------


@contextmanager
def opened_store(settings: Settings) -> Iterator[Store]:
    """The database of ``settings`` (schema at head, key checked), closed after the block."""
    from kiosk.storage.store import open_store

    store = open_store(settings)
    try:
        yield store
    finally:
        store.close()


def access_service(settings: Settings) -> AccessService:
    """What the kiosk needs of the database, open (close it when done)."""
    from kiosk.services.access import open_access_service

    return open_access_service(settings)


# -- the face pipeline -------------------------------------------------------------------


def load_pipeline(settings: Settings) -> FacePipeline:
    """Detector, aligner and embedding network (slow: seconds). The only loader: the
    kiosk, the console and every command line command come here."""
    from kiosk.vision.pipeline import FacePipeline

    return FacePipeline.load(settings.vision)


class LazyPipeline:
    """The face pipeline, loaded by whichever thread first needs it, once; it stands in
    for the pipeline wherever a :class:`~kiosk.services.photo_check.FaceAnalyzer` is
    expected, so the console opens at once and loads the models only to check a photo."""

    def __init__(self, settings: Settings, pipeline: FacePipeline | None = None) -> None:
        self._settings = settings
        self._pipeline = pipeline
        self._lock = threading.Lock()

    def get(self) -> FacePipeline:
        with self._lock:
            if self._pipeline is None:
                self._pipeline = load_pipeline(self._settings)
            return self._pipeline

    @property
    def loaded(self) -> bool:
        return self._pipeline is not None

    @property
    def model_info(self) -> ModelInfo:
        return self.get().model_info

    def analyze(self, rgb: ImageArray) -> list[FaceResult]:
        return self.get().analyze(rgb)


def gallery_maker(
    settings: Settings, store: Store | None = None
) -> Callable[[FloatArray, list[int]], Searcher]:
    """How the kiosk builds its in-memory 1:N search over the enrolled templates (again
    each time the enrolled people change, and for a badge holder's 1:1 check). With
    ``[vision] adaptation`` on, through the site head stored in ``store`` when it belongs
    to these templates (else plain, with a warning in the log)."""

    heads = None
    if store is not None and settings.vision.adaptation:
        from kiosk.services.adaptation import AdaptationService
        from kiosk.services.gallery_heads import GalleryHeads

        heads = GalleryHeads(AdaptationService(store, settings))

    def make(embeddings: FloatArray, labels: list[int]) -> Searcher:
        from kiosk.vision.matcher import build_gallery

        head = None if heads is None else heads(embeddings, labels)
        return build_gallery(embeddings, labels, settings.vision, projection=head)

    return make


# -- camera, door, liveness --------------------------------------------------------------


def make_camera(settings: Settings, source: str | None = None) -> CameraReader:
    """A camera thread (not started) for ``source`` (default: the configured camera)."""
    from kiosk.camera.reader import make_camera as reader_for

    capture = settings.capture
    return reader_for(
        settings.camera if source is None else source,
        width=capture.width,
        height=capture.height,
        fps=capture.fps,
        loop=capture.loop_files,
        max_retry=capture.retry_max_seconds,
    )


def make_door(settings: Settings) -> Door:
    """The configured door; a bad ``[door]`` setting fails here with its message."""
    from kiosk.services.door import make_door as door_for

    secret = None
    if settings.door.sign:
        from kiosk.storage.store import door_secret

        secret = door_secret(settings)
    osdp = None
    if settings.door.kind.strip().lower() == "osdp" and settings.door.osdp_secure:
        from kiosk.storage.osdp_key import osdp_key, osdp_key_path

        osdp = osdp_key(osdp_key_path(settings.effective_key_file))
    return door_for(settings.door, secret=secret, osdp_key=osdp)


def make_liveness(settings: Settings) -> LivenessCheck:
    """The configured liveness check (off, passive or active), with the passive
    anti-spoofing network as its second opinion where it is on (``passive_model``; its
    weights are checked against their sha256 here: a wrong file stops the kiosk with one
    line)."""
    from kiosk.liveness.check import liveness_level
    from kiosk.liveness.check import make_liveness as check_for
    from kiosk.vision.networks import network

    passive = None
    if settings.liveness.mode != "off" and settings.liveness.passive_model:
        from kiosk.vision.antispoof import PassiveScorer

        scorer = PassiveScorer()
        scorer.load()
        passive = scorer.score
    return check_for(
        settings.liveness,
        identity_threshold=network(settings.vision.network).same_face,
        level=liveness_level(settings.vision),
        passive=passive,
    )


# -- a screen to open windows on ---------------------------------------------------------

#: Qt platforms that need no display server (tests, screenshots, a framebuffer kiosk)
_NO_SERVER_PLATFORMS = {"offscreen", "minimal", "minimalegl", "vnc", "eglfs", "linuxfb"}
#: the system libraries Qt's xcb platform (X11) loads, with their Debian packages
XCB_LIBRARIES = {
    "xcb-cursor": "libxcb-cursor0",
    "xcb-icccm": "libxcb-icccm4",
    "xcb-keysyms": "libxcb-keysyms1",
    "xcb-image": "libxcb-image0",
    "xcb-render-util": "libxcb-render-util0",
    "xkbcommon-x11": "libxkbcommon-x11-0",
    "xcb-shape": "libxcb-shape0",
    "xcb-randr": "libxcb-randr0",
    "xcb-xinerama": "libxcb-xinerama0",
}


def require_display(
    env: Mapping[str, str] | None = None,
    *,
    platform: str | None = None,
    find_library: Callable[[str], str | None] | None = None,
) -> None:
    """Refuse in one line to open a window where Qt cannot (no display, or a system
    library of X11's platform missing): Qt would abort the process with exit code 134
    and several lines of its own. Checked before the QApplication exists; see
    docs/display.md."""
    import sys
    from ctypes.util import find_library as system_library

    from kiosk.errors import ConfigError

    env = os.environ if env is None else env
    if (platform or sys.platform) != "linux":
        return  # Windows and macOS always have their own platform
    chosen = env.get("QT_QPA_PLATFORM", "").split(":")[0].strip().lower()
    if chosen in _NO_SERVER_PLATFORMS:
        return
    x11, wayland = bool(env.get("DISPLAY")), bool(env.get("WAYLAND_DISPLAY"))
    if (
        not (x11 or wayland)
        or (chosen == "xcb" and not x11)
        or (chosen == "wayland" and not wayland)
    ):
        raise ConfigError(
            "no display to open the window on: DISPLAY and WAYLAND_DISPLAY are not set "
            f"{'for QT_QPA_PLATFORM=' + chosen + ' ' if chosen else ''}(start it in the "
            "desktop session, under xvfb-run, or with QT_QPA_PLATFORM=offscreen for a test; "
            "see docs/display.md)"
        )
    if chosen == "wayland" or (wayland and not x11):
        return
    look = find_library or system_library
    missing = [package for name, package in XCB_LIBRARIES.items() if look(name) is None]
    if missing:
        raise ConfigError(
            "Qt cannot open a window on this X display: the system libraries "
            f"{' '.join(missing)} are missing (install them: apt-get install "
            f"{' '.join(missing)}; see docs/display.md)"
        )


# -- the admin console -------------------------------------------------------------------


def admin_services(
    store: Store, settings: Settings, *, analyzer: FaceAnalyzer | None = None
) -> AdminServices:
    """The console's services over one open database. ``analyzer``: the face pipeline
    for enrollment (default: loaded on first need)."""
    from kiosk.services.access_rules import AccessRulesService
    from kiosk.services.accounts import AccountService
    from kiosk.services.adaptation import AdaptationService
    from kiosk.services.admin import AdminServices
    from kiosk.services.admin_console import AdminConsole
    from kiosk.services.enrollment import EnrollmentService
    from kiosk.services.log_browser import LogBrowser
    from kiosk.services.people import PeopleService
    from kiosk.services.security_level import SecurityLevelService
    from kiosk.services.today import TodayService

    def open_camera(source: str) -> CameraReader:
        return make_camera(settings, source)

    faces = analyzer if analyzer is not None else LazyPipeline(settings)

    def embedder() -> FacePipeline:  # training a site head embeds augmented crops
        return faces.get() if isinstance(faces, LazyPipeline) else faces  # type: ignore[return-value]

    return AdminServices(
        settings=settings,
        accounts=AccountService(store),
        people=PeopleService(store),
        enrollment=EnrollmentService(store, faces, settings),
        rules=AccessRulesService(store),
        log=LogBrowser(store),
        security=AdminConsole(store, settings),
        open_camera=open_camera,
        security_level=SecurityLevelService(
            store, settings, AdaptationService(store, settings, embedder)
        ),
        today=TodayService(store),
    )


def run_admin_console(settings: Settings, *, idle_minutes: float) -> int:
    """Open the admin console window until it is closed; the exit code."""
    require_display()
    from kiosk.ui.admin.window import run_admin_window

    with opened_store(settings) as store:
        return run_admin_window(admin_services(store, settings), idle_minutes=idle_minutes)


# -- the kiosk screen --------------------------------------------------------------------


def _stream_loader(settings: Settings) -> Callable[[], Recognizer]:
    """The kiosk's pipeline for its camera stream (door-sized faces, face tracking)."""

    def load() -> Recognizer:
        from kiosk.vision.pipeline import load_stream

        return load_stream(settings.vision)

    return load


def build_kiosk(
    settings: Settings,
    store: AccessService,
    *,
    password_check: PasswordCheck,
    camera: str | CameraReader | None = None,
    full_screen: bool = True,
    require_password: bool | None = None,
    door: Door | None = None,
    load_recognizer: Callable[[], Recognizer] | None = None,
    liveness: LivenessCheck | None = None,
    window: KioskWindow | None = None,
    events: EventBus | None = None,
) -> KioskApp:
    """The kiosk's threads and window, from the settings; anything given is used as is
    (tests and the benchmark pass a ready pipeline or camera; :func:`run_kiosk` the
    window it showed while starting, on ``camera``'s slot)."""
    from kiosk.camera.reader import CameraReader
    from kiosk.services.heartbeat import KioskHeartbeat
    from kiosk.services.sd_notify import SystemdNotifier
    from kiosk.ui.kiosk_app import KioskApp

    reader = camera if isinstance(camera, CameraReader) else make_camera(settings, camera)
    write = getattr(store, "write_heartbeat", None)  # a test's fake store keeps none
    heartbeat = None
    if write is not None:
        heartbeat = KioskHeartbeat(
            settings.kiosk_id, write, liveness_on=settings.liveness.mode != "off"
        )
    return KioskApp(
        settings,
        store,
        camera=reader,
        door=door if door is not None else make_door(settings),
        load_recognizer=load_recognizer or _stream_loader(settings),
        make_gallery=gallery_maker(settings, getattr(store, "store", None)),
        liveness=liveness,
        password_check=password_check,
        full_screen=full_screen,
        require_password=require_password,
        window=window,
        events=events,
        notifier=SystemdNotifier(),  # sd_notify under systemd; nothing without NOTIFY_SOCKET
        heartbeat=heartbeat,
    )


def run_kiosk(settings: Settings, *, full_screen: bool, exit_after: float | None) -> int:
    """Run the kiosk screen until it is closed; 0 when every thread stopped cleanly.

    The window is shown first, saying it is starting (within a second: only Qt and the
    camera's module are loaded before it); the database, the settings record, the
    liveness check and the models (torch) come after, while it shows."""
    from kiosk.ui.kiosk_app import application, run_until_closed, show_starting

    door = make_door(settings)  # a bad [door] setting stops here, before any window
    require_display()  # one line, not Qt's abort (exit 134), where no window can open
    from kiosk.services.events import make_event_bus

    events = make_event_bus(settings.events, settings.kiosk_id)  # (connects in the background)
    app = application()
    reader = make_camera(settings)
    window = show_starting(settings, reader.slot, full_screen=full_screen)

    from kiosk.services.adaptation import AdaptationService
    from kiosk.services.network_switch import reembed
    from kiosk.services.security_level import people_with_templates
    from kiosk.services.settings_record import record_effective_settings, weaker_settings
    from kiosk.ui.admin_login import account_password_check, env_password_check
    from kiosk.vision.pipeline import load_stream

    liveness = make_liveness(settings)
    service = access_service(settings)
    try:
        # what this kiosk runs with, and from where; a change made outside the console is
        # recorded and shown to the admin (security page, `threshold`)
        people = people_with_templates(service.store, settings)
        head = AdaptationService(service.store, settings).in_force()
        note = record_effective_settings(
            service.store,
            settings,
            people,
            None if head is None else head.operating_point(settings.vision, people),
        )
        if note:
            log.warning("settings changed outside the console: %s", note)
        for key, weak in weaker_settings(settings, people).items():
            log.warning(
                "door weakened: %s = %r (default %r) set by %s",
                key,
                weak["value"],
                weak["default"],
                weak["by"],
            )

        def load_recognizer() -> Recognizer:
            # after a change of [vision] network, templates of the new network are made
            # from the stored crops before the first face is searched
            stream = load_stream(settings.vision)
            # closing the kiosk meanwhile stops it between two people (a clean exit)
            report = reembed(service.store, stream.pipeline, stop=kiosk.threads.stop_event)
            if report.need_photos:
                log.warning(
                    "%d enrolled people have no template of the network in use and no stored "
                    "crop: they need new photos (people list)",
                    len(report.need_photos),
                )
            return stream

        # an admin account of the database; before the first exists, KIOSK_ADMIN_PASSWORD
        check = account_password_check(
            service.store, env_password_check(os.environ.get("KIOSK_ADMIN_PASSWORD"))
        )
        kiosk = build_kiosk(
            settings,
            service,
            password_check=check,
            camera=reader,
            full_screen=full_screen,
            door=door,
            liveness=liveness,
            load_recognizer=load_recognizer,
            window=window,
            events=events,
        )
        stopped = run_until_closed(app, kiosk, exit_after=exit_after)
    finally:
        service.close()
    return 0 if stopped else 1
