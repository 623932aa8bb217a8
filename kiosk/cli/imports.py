"""``import CSV PHOTOS``: staff from a CSV and a folder of photos (``PHOTOS/<badge>/``),
through the same use case as the console's Import dialog
(:mod:`kiosk.services.staff_import`). ``kiosk.cli`` calls :func:`register`.

``--check`` only prints the per-row plan. Otherwise one line per row imported and one
line on stderr per refused row; exit 1 when a row was refused, 0 when every row was
imported or was already there.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from kiosk import app
from kiosk.cli.common import add_auth_arguments, emit, login, opened_store, safe_text
from kiosk.config import Settings


def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    from kiosk.services.enrollment import EnrollmentService
    from kiosk.services.staff_import import plan_import, run_import

    csv_path, photos = Path(args.csv), Path(args.photos)
    with opened_store(settings) as store:
        actor = login(args, store)
        enrollment = EnrollmentService(store, app.LazyPipeline(settings), settings)
        plan = plan_import(enrollment, csv_path, photos)
        if args.check:
            for row in plan.rows:
                _print(args, row.line, row.name, row.badge, row.action, row.reason, row.refused)
            return 1 if plan.refused else 0
        cancel = threading.Event()
        previous = signal.signal(signal.SIGINT, lambda *_: cancel.set())
        try:
            report = run_import(
                enrollment,
                actor,
                plan,
                cancel=cancel,
                on_row=lambda _, o: _print(
                    args,
                    o.row.line,
                    o.row.name,
                    o.row.badge,
                    o.row.action,
                    o.text,
                    o.refused is not None,
                ),
            )
        finally:
            signal.signal(signal.SIGINT, previous)
    if report.cancelled:
        print(
            f"import stopped after {len(report.outcomes)} of {len(plan.rows)} rows; "
            "run it again to finish (rows already imported are skipped)",
            file=sys.stderr,
        )
        return 1
    return 1 if report.refused else 0


def _print(
    args: argparse.Namespace,
    line: int,
    name: str,
    badge: str,
    action: str,
    text: str,
    refused: bool,
) -> None:
    if args.json:
        emit({"line": line, "name": name, "badge": badge, "action": action, "result": text})
        return
    words = f"line {line}: {safe_text(name)} (badge {safe_text(badge)}): {safe_text(text)}"
    print(words, file=sys.stderr if refused else sys.stdout)


def register(sub: Any) -> None:
    """Add ``import`` to the kiosk command."""
    p = sub.add_parser(
        "import",
        help="import staff from a CSV (name, badge, group, valid_from, valid_until, consent) "
        "and PHOTOS/<badge>/ folders",
    )
    p.add_argument("csv", metavar="CSV", help="one row per person, with a header row")
    p.add_argument("photos", metavar="PHOTOS", help="a folder with one subfolder per badge")
    p.add_argument("--check", action="store_true", help="only print what would be done per row")
    p.add_argument("--json", action="store_true", help="one JSON object per row")
    add_auth_arguments(p)
    p.set_defaults(handler=cmd_import)
