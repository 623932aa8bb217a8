"""The two commands that open windows: ``kiosk`` (the screen at the door, full screen
unless ``--windowed``) and ``admin-console`` (people, enrollment, access rules, the
security level and the access log). Both hand over to the composition root,
:mod:`kiosk.app`; no Qt is imported here."""

from __future__ import annotations

import argparse
import dataclasses
import logging
from typing import Any

from kiosk.config import Settings
from kiosk.errors import InputError


def register(sub: Any) -> None:
    """Add the ``kiosk`` and ``admin-console`` subcommands to the command line."""
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

    p = sub.add_parser(
        "admin-console",
        help="open the admin console: people, enrollment, access rules, security, access log",
    )
    p.add_argument(
        "--idle-minutes",
        type=float,
        default=5.0,
        metavar="MIN",
        help="sign out after this many minutes without activity (default 5)",
    )
    p.set_defaults(handler=cmd_admin_console)


#: where ``liveness.mode`` came from when the kiosk command chose it
LIVENESS_OPTION = "the kiosk command's --liveness option"


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
    liveness, sources = settings.liveness, settings.sources
    if getattr(args, "liveness", None):
        liveness = dataclasses.replace(liveness, mode=args.liveness)
        # recorded with the settings at start: chosen, not "by default"
        sources = tuple(sorted({**dict(sources), "liveness.mode": LIVENESS_OPTION}.items()))
    return dataclasses.replace(
        settings,
        sources=sources,
        liveness=liveness,
        kiosk_id=args.kiosk_id or settings.kiosk_id,
        camera=args.camera if args.camera is not None else settings.camera,
        door=door,
        screen=screen,
    )


#: --exit-after is for scripts and tests: at most a day (Qt's timers count milliseconds
#: in 32 bits)
MAX_EXIT_AFTER = 86_400.0


def cmd_kiosk(args: argparse.Namespace, settings: Settings) -> int:
    if args.exit_after is not None and not 0 < args.exit_after <= MAX_EXIT_AFTER:
        # (NaN is neither above 0 nor below the bound: refused too)
        raise InputError(
            f"--exit-after needs a number of seconds above 0 and at most {MAX_EXIT_AFTER:.0f}"
        )
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
        logging.getLogger("kiosk").setLevel(logging.INFO)  # outages, doors, screen states
    from kiosk import app

    return app.run_kiosk(
        _apply(args, settings), full_screen=not args.windowed, exit_after=args.exit_after
    )


def cmd_admin_console(args: argparse.Namespace, settings: Settings) -> int:
    from kiosk import app

    if args.idle_minutes <= 0:
        raise InputError("--idle-minutes needs a number of minutes above 0")
    return app.run_admin_console(settings, idle_minutes=args.idle_minutes)
