"""``enroll``: a person from photos, or everyone in ``DIR/<name>/<photos>``, quality-checked.
``kiosk.cli`` calls :func:`register`.

Every argument is checked before signing in; who is acting as for every admin command
(:mod:`kiosk.cli.admin`). Exit 2 when nothing could be stored.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from kiosk import app
from kiosk.cli.common import (
    add_auth_arguments,
    emit,
    error_line,
    login,
    opened_store,
    parse_time,
    safe_text,
)
from kiosk.config import Settings
from kiosk.errors import InputError, KioskError


def cmd_enroll(args: argparse.Namespace, settings: Settings) -> int:
    from kiosk.services.enrollment import EnrollmentService, check_person_input
    from kiosk.services.photo_check import folder_people

    if args.from_folder is None and (not args.name or not args.badge or not args.photos):
        raise InputError("give --name, --badge and at least one PHOTO (or --from-folder DIR)")
    if args.from_folder is not None and (args.name or args.badge or args.photos):
        raise InputError("--from-folder takes the names from the subfolders: drop --name/--badge")
    if args.consent == "no":
        raise InputError(
            "--consent no: a face is stored only with the person's consent; nothing enrolled"
        )
    if args.new_group and not args.group:
        raise InputError("--new-group creates the group named by --group: give --group too")
    valid_from = parse_time(args.valid_from, "--valid-from") if args.valid_from else None
    valid_until = parse_time(args.valid_until, "--valid-until") if args.valid_until else None
    if args.from_folder is None:
        check_person_input(args.name, args.badge, args.group, valid_from, valid_until)
        jobs = [(args.name, args.badge, [Path(p) for p in args.photos])]
    else:
        check_person_input("-", "-", args.group, valid_from, valid_until)
        jobs = [
            (name.replace("_", " "), name, photos)
            for name, photos in folder_people(Path(args.from_folder))
        ]
    with opened_store(settings) as store:
        actor = login(args, store)
        service = EnrollmentService(store, app.LazyPipeline(settings), settings)
        if args.group and not args.new_group:
            service.require_group(args.group.strip())
        stored = 0
        failed = 0
        progress = _progress(jobs, enabled=args.from_folder is not None)
        for name, badge, photos in progress:
            try:
                result = service.enroll(
                    actor,
                    name=name,
                    badge=badge,
                    photos=photos,
                    group=args.group,
                    valid_from=valid_from,
                    valid_until=valid_until,
                    new_group=args.new_group,
                )
            except KioskError as exc:
                if args.from_folder is None:
                    raise
                failed += 1
                _report_person(args, name, badge, None, error_line(exc), 0)
                continue
            single = args.from_folder is None
            if single and result.person is None and not args.json:
                # one person, nothing stored: one line, with each photo's reason
                why = "; ".join(
                    f"{safe_text(o.source)}: {', '.join(o.reasons)}" for o in result.rejected
                )
                raise InputError(
                    f"nothing stored for {safe_text(name)} (badge {safe_text(badge)}): {why}"
                )
            for outcome in result.photos:
                if args.json:
                    emit(
                        {
                            "photo": outcome.source,
                            "badge": badge,
                            "accepted": outcome.accepted,
                            "reasons": list(outcome.reasons),
                            "quality": outcome.quality,
                        }
                    )
                elif not outcome.accepted and not outcome.already_stored:
                    print(
                        f"rejected {safe_text(outcome.source)}: {'; '.join(outcome.reasons)}",
                        file=sys.stderr,
                    )
            for dup in result.duplicates:
                print(f"warning: {safe_text(dup.describe())}", file=sys.stderr)
            if result.person is None:
                failed += 1
                _report_person(args, name, badge, None, "no usable photo; nothing stored", 0)
            else:
                stored += 1
                _report_person(
                    args, name, badge, result.templates_added, None, result.already_stored
                )
    if failed and not stored:
        return 2
    # some were enrolled, some not: not a success (a script must not take it for one)
    return 1 if failed else 0


def _progress(jobs: list[Any], *, enabled: bool) -> Any:
    if not enabled:
        return jobs
    from tqdm import tqdm

    return tqdm(jobs, desc="enrolling", unit="person", file=sys.stderr, disable=None)


def _report_person(
    args: argparse.Namespace,
    name: str,
    badge: str,
    templates: int | None,
    error: str | None,
    already: int,
) -> None:
    if args.json:
        emit(
            {
                "name": name,
                "badge": badge,
                "enrolled": error is None,
                "templates": templates,
                "already_stored": already,
                "error": error,
            }
        )
    elif error is None:
        more = f", {already} already stored" if already else ""
        print(
            f"enrolled {safe_text(name)} (badge {safe_text(badge)}): "
            f"{templates} photo(s) stored{more}"
        )
    else:
        print(
            f"not enrolled {safe_text(name)} (badge {safe_text(badge)}): {error}", file=sys.stderr
        )


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``enroll`` to the kiosk command."""

    p = sub.add_parser("enroll", help="enroll a person from photos (quality-checked)")
    p.add_argument("photos", nargs="*", metavar="PHOTO")
    p.add_argument("--name", help="the person's display name")
    p.add_argument("--badge", help="badge or employee id (unique)")
    p.add_argument("--group", help="access group (its schedule applies); must exist")
    p.add_argument(
        "--new-group",
        action="store_true",
        help="create the --group if it does not exist (no time limits until `rules set`)",
    )
    p.add_argument("--valid-from", metavar="WHEN", help="access starts then (date or date-time)")
    p.add_argument("--valid-until", metavar="WHEN", help="access ends then (date or date-time)")
    p.add_argument(
        "--from-folder",
        metavar="DIR",
        help="enroll DIR/<name>/<photos>: the folder name is the name and badge",
    )
    p.add_argument(
        "--consent",
        choices=("yes", "no"),
        help="the person agreed that their face is stored and used at the door (recorded "
        "with the date and your name); 'no' stores nothing. Without it, enrolling records "
        "your consent as before",
    )
    p.add_argument("--json", action="store_true", help="one JSON object per photo and person")
    add_auth_arguments(p)
    p.set_defaults(handler=cmd_enroll)
