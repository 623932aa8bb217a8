"""Site rules from the command line: ``rules`` (group schedules), ``threshold`` (the
security level, recorded with who set it) and ``templates remove``; the console's pages
call the same services.

Who is acting: ``--user NAME`` and the password as for the other admin commands.
"""

from __future__ import annotations

import argparse
import re
from datetime import time
from typing import Any

from kiosk.cli.common import add_auth_arguments, login, opened_store, record_id
from kiosk.config import Settings
from kiosk.errors import InputError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WINDOW = re.compile(r"^([a-z]{3})(?:-([a-z]{3}))?\s+(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")


def parse_window(text: str) -> list[Any]:
    """``mon 08:00-18:00`` or ``mon-fri 08:00-18:00``: one window per day."""
    from kiosk.domain.access import TimeWindow

    m = _WINDOW.match(text.strip().lower())
    if m is None or m.group(1) not in DAYS or (m.group(2) and m.group(2) not in DAYS):
        raise InputError(
            f"--window {text!r}: write e.g. 'mon-fri 08:00-18:00' or 'sat 09:00-12:00'"
        )
    first = DAYS.index(m.group(1))
    last = DAYS.index(m.group(2)) if m.group(2) else first
    try:
        start = time(int(m.group(3)), int(m.group(4)))
        end = time(int(m.group(5)), int(m.group(6)))
    except ValueError:
        raise InputError(f"--window {text!r}: not a time of day") from None
    return [TimeWindow(d, start, end) for d in range(first, last + 1)]


def cmd_rules(args: argparse.Namespace, settings: Settings) -> int:
    from kiosk.domain.access import AccessSchedule
    from kiosk.services.access_rules import AccessRulesService, parse_holidays

    with opened_store(settings) as store:
        actor = login(args, store)
        service = AccessRulesService(store)
        if args.rules_action == "list":
            for g in service.groups(actor):
                rules = (
                    "any time"
                    if not (g.windows or g.holidays)
                    else (f"{g.windows} window(s), {g.holidays} holiday(s)")
                )
                print(f"{g.name}\t{g.people} people\t{rules}")
            return 0
        if args.rules_action == "set":
            windows = [w for text in args.window or [] for w in parse_window(text)]
            holidays = parse_holidays(" ".join(args.holiday or []))
            if args.any_time and (windows or holidays):
                raise InputError("--any-time removes every window and holiday: give it alone")
            schedule = None if args.any_time else AccessSchedule(tuple(windows), holidays)
            if schedule is not None and not windows and not holidays:
                raise InputError("give --window and/or --holiday, or --any-time")
            service.set_schedule(actor, args.group, schedule)
        schedule = service.schedule(actor, args.group)
        if schedule is None:
            print(f"{args.group}: any time")
            return 0
        for w in schedule.windows:
            print(f"{args.group}: {DAYS[w.weekday]} {w.start:%H:%M}-{w.end:%H:%M}")
        for d in sorted(schedule.holidays):
            print(f"{args.group}: holiday {d.isoformat()}")
    return 0


def cmd_threshold(args: argparse.Namespace, settings: Settings) -> int:
    """Show the threshold in force and what was measured about it, or set a level or an
    explicit value (written to the config file, recorded with who did it)."""
    from kiosk.services.security_level import SecurityLevelService

    if args.value is not None and args.level is not None:
        raise InputError("give a level (--level) or a value, not both")
    with opened_store(settings) as store:
        service = SecurityLevelService(store, settings)
        if args.value is None and args.level is None:
            state = service.state()
            p = state.point
            print(state.describe())
            print(p.fpir_text())
            print(
                "An enrolled person's single photo not recognised on the development photos: "
                f"{p.genuine_missed.text()}."
            )
            if p.floored:
                print(
                    "The development photos cannot resolve the level's target at this many "
                    "people: the threshold is held where they still can."
                )
            if state.outside_change:
                print(f"warning: changed outside the console: {state.outside_change}")
            return 0
        actor = login(args, store)
        if args.level is not None:
            path = service.set_level(actor, args.level)
            what = f"level {args.level}"
        else:
            path = service.set_threshold(actor, args.value)
            what = f"threshold {args.value:.3f}"
        overridden = service.overridden_by_environment()
    print(f"{what} written to {path}; restart the kiosks")
    if overridden:
        print(f"warning: {', '.join(overridden)} in the environment overrides the file")
    return 0


def cmd_template_remove(args: argparse.Namespace, settings: Settings) -> int:
    from kiosk.services.people import PeopleService

    with opened_store(settings) as store:
        actor = login(args, store)
        PeopleService(store).remove_template(actor, args.template_id)
    print(f"template {args.template_id} removed")
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    rules = sub.add_parser("rules", help="access groups: weekly windows and holidays")
    rules_sub = rules.add_subparsers(dest="rules_action", metavar="ACTION", required=True)
    p = rules_sub.add_parser("list", help="the groups, their people and rules")
    add_auth_arguments(p)
    p.set_defaults(handler=cmd_rules)
    p = rules_sub.add_parser("show", help="one group's windows and holidays")
    p.add_argument("group", metavar="GROUP")
    add_auth_arguments(p)
    p.set_defaults(handler=cmd_rules)
    p = rules_sub.add_parser("set", help="replace a group's windows and holidays")
    p.add_argument("group", metavar="GROUP")
    p.add_argument(
        "--window",
        action="append",
        metavar="DAYS HH:MM-HH:MM",
        help="e.g. 'mon-fri 08:00-18:00' (local time; repeat for more)",
    )
    p.add_argument("--holiday", action="append", metavar="DATE", help="no access that day")
    p.add_argument("--any-time", action="store_true", help="remove every rule of the group")
    add_auth_arguments(p)
    p.set_defaults(handler=cmd_rules)

    p = sub.add_parser("threshold", help="show or set the security level (or a threshold)")
    p.add_argument(
        "value",
        nargs="?",
        type=float,
        metavar="VALUE",
        help="an explicit distance threshold (sface 0.60-1.30, dlib 0.20-1.00)",
    )
    p.add_argument(
        "--level",
        metavar="NAME",
        choices=("normal", "secure", "most-secure"),
        help="normal (the default), secure or most-secure",
    )
    add_auth_arguments(p)
    p.set_defaults(handler=cmd_threshold)

    templates = sub.add_parser("templates", help="single face templates of a person")
    templates_sub = templates.add_subparsers(
        dest="templates_action", metavar="ACTION", required=True
    )
    p = templates_sub.add_parser("remove", help="remove one template (see people show)")
    p.add_argument("template_id", type=record_id, metavar="ID")
    add_auth_arguments(p)
    p.set_defaults(handler=cmd_template_remove)
