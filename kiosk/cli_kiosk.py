"""``main.py kiosk``: the screen at the door (full screen unless ``--windowed``)."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import signal
from typing import Any

from kiosk.config import Settings
from kiosk.errors import InputError

log = logging.getLogger(__name__)


def register(sub: Any) -> None:
    """Add the ``kiosk`` subcommand to the command line's subparsers."""
    p = sub.add_parser("kiosk", help="run the kiosk screen: live camera to ALLOW / DENY")
    p.add_argument("--windowed", action="store_true", help="a normal window, not full screen")
    p.add_argument(
        "--camera",
        metavar="SOURCE",
        help="webcam index, video file, rtsp:// or http:// URL, or image folder"
        " (default: the config's camera)",
    )
    p.add_argument(
        "--exit-after",
        type=float,
        metavar="SECONDS",
        help="close by itself after this many seconds (for scripts and tests)",
    )
    p.add_argument("--kiosk-id", metavar="ID", help="this kiosk's id in the access log")
    p.add_argument(
        "--door",
        choices=("log", "webhook", "serial"),
        help="the door to open (default: the config's [door] kind)",
    )
    p.add_argument("--door-url", metavar="URL", help="the webhook door's URL")
    p.add_argument(
        "--liveness",
        choices=("off", "passive", "active"),
        help="the liveness check (default: the config's [liveness] mode)",
    )
    p.add_argument("--status", action="store_true", help="show the status line at start")
    p.add_argument("--no-sound", action="store_true", help="no allow / deny sounds")
    p.set_defaults(handler=cmd_kiosk)


def _apply(args: argparse.Namespace, settings: Settings) -> Settings:
    door = settings.door
    if args.door:
        door = dataclasses.replace(door, kind=args.door)
    if args.door_url:
        door = dataclasses.replace(door, url=args.door_url, kind=args.door or "webhook")
    screen = settings.screen
    if args.status:
        screen = dataclasses.replace(screen, show_status=True)
    if args.no_sound:
        screen = dataclasses.replace(screen, sounds=False)
    liveness = settings.liveness
    if getattr(args, "liveness", None):
        liveness = dataclasses.replace(liveness, mode=args.liveness)
    return dataclasses.replace(
        settings,
        liveness=liveness,
        kiosk_id=args.kiosk_id or settings.kiosk_id,
        camera=args.camera if args.camera is not None else settings.camera,
        door=door,
        screen=screen,
    )


def cmd_kiosk(args: argparse.Namespace, settings: Settings) -> int:
    if args.exit_after is not None and args.exit_after <= 0:
        raise InputError("--exit-after needs a number of seconds above 0")
    settings = _apply(args, settings)
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
        logging.getLogger("kiosk").setLevel(logging.INFO)  # outages, doors, screen states

    from PySide6.QtCore import QTimer

    from kiosk.liveness.check import make_liveness
    from kiosk.services.access import open_access_service
    from kiosk.services.door import make_door
    from kiosk.ui.admin_login import account_password_check, env_password_check
    from kiosk.ui.kiosk_app import KioskApp
    from kiosk.ui.kiosk_window import application

    door = make_door(settings.door)  # a bad [door] setting stops here, with its message
    app = application()
    service = open_access_service(settings)
    # an admin account of the database; before the first exists, KIOSK_ADMIN_PASSWORD
    check = account_password_check(
        service.store, env_password_check(os.environ.get("KIOSK_ADMIN_PASSWORD"))
    )
    kiosk = KioskApp(
        settings,
        service,
        password_check=check,
        full_screen=not args.windowed,
        door=door,
        liveness=make_liveness(settings.liveness),
    )
    if args.exit_after is not None:
        QTimer.singleShot(int(args.exit_after * 1000), kiosk.window.shutdown)
    # Ctrl+C in the terminal closes the kiosk cleanly (Qt would otherwise swallow it).
    previous = signal.signal(signal.SIGINT, lambda *_: kiosk.window.shutdown())
    wake = QTimer()
    wake.timeout.connect(_let_python_run)  # lets Python see the signal between Qt events
    wake.start(200)
    kiosk.start()
    kiosk.window.show_kiosk()
    try:
        app.exec()
    finally:
        wake.stop()
        signal.signal(signal.SIGINT, previous)
        stopped = kiosk.stop()
        service.close()
    log.info("kiosk: closed")
    return 0 if stopped else 1


def _let_python_run() -> None:
    pass
