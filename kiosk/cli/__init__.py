"""The command line: ``python main.py COMMAND ...`` or the installed ``kiosk`` command.

Every error a user can cause is one line on stderr (``error: ...``) and an exit code:
0 ok, 1 a negative answer (different people, unknown face), 2 bad input.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kiosk import app
from kiosk.cli.common import (
    OneLineParser,
    add_auth_arguments,
    error_line,
    login,
    opened_store,
    photo_paths,
    print_identified,
    safe_text,
)
from kiosk.config import Settings
from kiosk.domain.access import Decision
from kiosk.errors import KioskError

#: Modules that add their own subcommands with ``register(subparsers)``.
PLUGINS = (
    "kiosk.cli.admin",
    "kiosk.cli.enroll",
    "kiosk.cli.people",
    "kiosk.cli.log",
    "kiosk.cli.windows",
    "kiosk.cli.rules",
    "kiosk.cli.adapt",
    "kiosk.cli.doctor",
    "kiosk.cli.imports",
)


def cmd_embed(args: argparse.Namespace, settings: Settings) -> int:
    from kiosk.services.photos import embed_photo

    pipeline = app.load_pipeline(settings)
    failures = 0
    for path in photo_paths(args.paths):
        record = embed_photo(pipeline, path, settings.vision.max_image_side)
        failures += record["error"] is not None
        print(json.dumps(record), flush=True)
    return 2 if failures else 0


def cmd_verify(args: argparse.Namespace, settings: Settings) -> int:
    from kiosk.services.photos import verify_photos

    pipeline = app.load_pipeline(settings)
    result = verify_photos(pipeline, args.a, args.b, settings.vision)
    if args.json:
        print(json.dumps(result))
    else:
        verdict = "same person" if result["same"] else "different people"
        print(f"{verdict}: distance {result['distance']:.4f} (threshold {result['threshold']:.2f})")
    return 0 if result["same"] else 1


def cmd_identify(args: argparse.Namespace, settings: Settings) -> int:
    if args.gallery is None:
        return identify_enrolled(args, settings)
    from kiosk.services.photos import FolderGallery, identify_photo

    pipeline = app.load_pipeline(settings)
    gallery = FolderGallery.build(pipeline, Path(args.gallery), settings.vision)
    for warning in gallery.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return print_identified(
        photo_paths(args.photos),
        lambda path: identify_photo(pipeline, gallery, path, settings.vision),
        as_json=args.json,
        line=_gallery_line,
    )


def _gallery_line(path: str, row: dict[str, Any]) -> str:
    name = row["name"] or "unknown"
    note = f" ({row['kind']})" if row["kind"] == "ambiguous" else ""
    return f"{path}\tface {row['face']}\t{name}{note}\t{row['distance']:.4f}"


def identify_enrolled(args: argparse.Namespace, settings: Settings) -> int:
    """``identify PHOTO...`` without ``--gallery``: one line (or JSON object) per face.

    Exit 1 also when a photo's main face would not be let in (unknown, inactive, ...).
    """
    from kiosk.services.access import AccessService
    from kiosk.services.identify import Identifier, record_identification

    paths = list(photo_paths(args.photos))
    with opened_store(settings) as store:
        # it reads who is enrolled: signed in, and recorded
        actor = login(args, store, stdin_is_mine="-" not in args.photos)
        record_identification(store, actor, len(paths))
        service = AccessService(store, settings)
        identifier = Identifier(service, app.load_pipeline(settings), settings)
        for notice in service.staff_notices():
            print(f"warning: {safe_text(notice)}", file=sys.stderr)
        if identifier.enrolled.people == 0:
            print(
                "warning: nobody is enrolled (for this model): every face is unknown",
                file=sys.stderr,
            )
        return print_identified(
            paths,
            identifier.identify,
            as_json=args.json,
            line=_enrolled_line,
            refused=lambda row: row["decision"] != Decision.ALLOWED,
        )


def _enrolled_line(path: str, row: dict[str, Any]) -> str:
    who = f"{row['name']} ({row['badge']})" if row["name"] else "unknown"
    dist = "-" if row["distance"] is None else f"{row['distance']:.4f}"
    return f"{safe_text(path)}\tface {row['face']}\t{safe_text(who)}\t{dist}\t{row['decision']}"


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="kiosk", description="Face-recognition access-control kiosk.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("embed", help="print the 128-d embedding of the main face of each photo")
    p.add_argument("paths", nargs="+", metavar="PATH", help="photos; '-' reads paths from stdin")
    p.set_defaults(handler=cmd_embed)

    p = sub.add_parser("verify", help="are two photos the same person? (exit 0 same, 1 different)")
    p.add_argument("a", metavar="A")
    p.add_argument("b", metavar="B")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=cmd_verify)

    p = sub.add_parser(
        "identify", help="who is in each photo: against a folder (--gallery) or the enrolled people"
    )
    p.add_argument("photos", nargs="+", metavar="PHOTO", help="photos; '-' reads paths from stdin")
    p.add_argument("--gallery", metavar="DIR", help="a folder of <name>/<photos> to search")
    p.add_argument("--json", action="store_true", help="one JSON object per face")
    add_auth_arguments(p)  # (not needed with --gallery: that reads no enrolled person)
    p.set_defaults(handler=cmd_identify)

    for name in PLUGINS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from kiosk.storage.files import private_umask

    private_umask()  # every file this program creates is for its own user only
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "handler", None) is None:
        parser.print_help()
        return 2
    try:
        settings = app.load_settings()
        return int(args.handler(args, settings))
    except KioskError as exc:
        print(f"error: {error_line(exc)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
