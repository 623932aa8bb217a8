"""The access log from the command line: ``log list|export|verify|admin-actions`` and
``purge``. ``kiosk.cli`` calls :func:`register`.

The filters are checked before signing in; who is acting as for every admin command
(:mod:`kiosk.cli.admin`). Exit codes: 0 ok, 1 a tampered log (``verify``), 2 bad input.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from kiosk.cli.common import (
    add_auth_arguments,
    bounded_int,
    emit,
    iso_utc,
    local_time,
    login,
    opened_store,
    parse_time,
    record_id,
    safe_text,
)
from kiosk.config import Settings
from kiosk.domain.access import Decision
from kiosk.errors import InputError
from kiosk.storage import limits
from kiosk.storage.records import AdminAction, EventFilter


def _filter_args(args: argparse.Namespace) -> EventFilter:
    """The filter's arguments that need no database, checked before signing in."""
    decision = None
    if args.decision:
        try:
            decision = str(Decision(args.decision))
        except ValueError:
            choices = ", ".join(d.value for d in Decision)
            raise InputError(f"--decision must be one of {choices}") from None
    kiosk = None
    if args.kiosk is not None:
        kiosk = limits.check_text(args.kiosk, "kiosk id (--kiosk)", limits.KIOSK_ID_MAX)
    if args.person is not None:
        limits.check_badge(args.person)
    return EventFilter(
        since=parse_time(args.since, "--since") if args.since else None,
        until=parse_time(args.until, "--until") if args.until else None,
        decision=decision,
        kiosk_id=kiosk,
    )


def _report_json(report: Any) -> dict[str, Any]:
    return {
        "ok": report.ok,
        "checked": report.checked,
        "actions_checked": report.actions_checked,
        "first_bad_id": report.first_bad_id,
        "problem": report.problem or None,
        "problems": list(report.problems),
    }


def cmd_log(args: argparse.Namespace, settings: Settings) -> int:
    from dataclasses import replace

    from kiosk.services.audit_log import AuditLogService, event_row
    from kiosk.services.people import PeopleService

    action = args.log_action
    flt = _filter_args(args) if action in ("list", "export") else None
    with opened_store(settings) as store:
        actor = login(args, store)
        service = AuditLogService(store, settings)
        if action == "verify":
            report = service.verify(actor)
            assert report is not None
            if args.json:
                emit(_report_json(report))
            else:
                print(report.describe())
            return 0 if report.ok else 1
        if action == "acknowledge":
            problems = service.acknowledge_rollback(actor)
            if not problems:
                print("nothing to acknowledge: the database holds what its checkpoints recorded")
            for problem in problems:
                print(f"acknowledged: {safe_text(problem)}")
            return 0
        if action == "admin-actions":
            return _print_actions(
                args,
                service.admin_actions(
                    actor,
                    limit=args.limit,
                    action=args.action,
                    admin=args.by,
                    before_id=args.before,
                ),
            )
        assert flt is not None
        # the person is named by badge here and by id in the services
        person_id = PeopleService(store).id_for_badge(actor, args.person) if args.person else None
        flt = replace(flt, person_id=person_id)
        if action == "export":
            if args.csv == "-":
                count = service.export_csv(actor, sys.stdout, flt)
            else:
                count = service.export_csv(actor, Path(args.csv), flt, force=args.force)
                print(f"exported {count} event(s) to {safe_text(args.csv)}", file=sys.stderr)
            return 0
        rows = service.page(actor, flt, before_id=args.before, limit=args.limit)
        for logged in rows:
            row = event_row(logged)
            if args.json:
                emit(row)
            else:
                who = f"{row['name']} ({row['badge']})" if row["name"] else "-"
                score = "-" if row["score"] is None else f"{row['score']:.3f}"
                print(
                    f"{row['id']}\t{row['time_local']}\t{safe_text(row['kiosk_id'])}\t"
                    f"{row['decision']}\t{safe_text(who)}\t{score}"
                )
        if rows and len(rows) == args.limit and not args.json:
            print(f"(more: --before {rows[-1].id})", file=sys.stderr)
        return 0


def _print_actions(args: argparse.Namespace, actions: list[AdminAction]) -> int:
    import json

    from kiosk.services.audit_log import describe_details

    for a in actions:
        if args.json:
            try:
                details: Any = json.loads(a.details) if a.details else {}
            except ValueError:
                details = a.details
            emit(
                {
                    "id": a.id,
                    "time": iso_utc(a.time),
                    "admin": a.admin,
                    "action": a.action,
                    "target": a.target,
                    "details": details,
                }
            )
        else:
            print(
                f"{a.id}\t{local_time(a.time)}\t{safe_text(a.admin or '-')}\t"
                f"{safe_text(a.action)}\t{safe_text(a.target or '-')}\t"
                f"{safe_text(describe_details(a.details))}"
            )
    if actions and len(actions) == args.limit and not args.json:
        print(f"(more: --before {actions[-1].id})", file=sys.stderr)
    return 0


def cmd_purge(args: argparse.Namespace, settings: Settings) -> int:
    from kiosk.services.audit_log import AuditLogService

    with opened_store(settings) as store:
        actor = login(args, store)
        report = AuditLogService(store, settings).purge(actor)
    crops = f", {report.crops} enrollment crop(s)" if report.crop_cutoff else ""
    visitors = f"; erased {report.visitors} visitor(s) whose pass ended" if report.visitors else ""
    print(
        f"purged {report.snapshots} snapshot(s) older than "
        f"{local_time(report.snapshot_cutoff)}{crops}{visitors}"
    )
    return 0


def _add_log_filters(p: argparse.ArgumentParser) -> None:
    p.add_argument("--since", metavar="WHEN", help="from this date/time (local unless zoned)")
    p.add_argument("--until", metavar="WHEN", help="before this date/time")
    p.add_argument("--person", metavar="BADGE", help="only this person's events")
    p.add_argument(
        "--decision",
        metavar="D",
        help="allowed, denied-unknown, denied-inactive, denied-schedule, denied-spoof or error",
    )
    p.add_argument("--kiosk", metavar="ID", help="only this kiosk's events")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``log`` and ``purge`` to the kiosk command."""

    log = sub.add_parser("log", help="the access log: list, export, verify, admin-actions")
    log_sub = log.add_subparsers(dest="log_action", metavar="ACTION", required=True)
    p = log_sub.add_parser("list", help="newest events first, one page")
    _add_log_filters(p)
    p.add_argument(
        "--limit", type=bounded_int(1, 10_000), default=50, help="events per page (default 50)"
    )
    p.add_argument("--before", type=record_id, metavar="ID", help="the page before this event id")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    add_auth_arguments(p)
    p.set_defaults(handler=cmd_log)
    p = log_sub.add_parser("export", help="write the log as CSV (streams: any size)")
    p.add_argument("--csv", metavar="FILE", required=True, help="output file, '-' for stdout")
    p.add_argument("--force", action="store_true", help="replace FILE if it exists")
    _add_log_filters(p)
    add_auth_arguments(p)
    p.set_defaults(handler=cmd_log)
    p = log_sub.add_parser(
        "verify",
        help="check the hash chains, their checkpoints and the seals (exit 1 if tampered)",
    )
    p.add_argument("--json", action="store_true", help="one JSON object")
    add_auth_arguments(p)
    p.set_defaults(handler=cmd_log)
    p = log_sub.add_parser(
        "acknowledge",
        help="take a database older than its checkpoint file as it is (admin; recorded)",
    )
    add_auth_arguments(p)
    p.set_defaults(handler=cmd_log)
    p = log_sub.add_parser(
        "admin-actions",
        help="the operators' actions, newest first: sign-ins, enrollments, erasures, ...",
    )
    p.add_argument(
        "--limit", type=bounded_int(1, 10_000), default=50, help="actions per page (default 50)"
    )
    p.add_argument("--before", type=record_id, metavar="ID", help="the page before this id")
    p.add_argument("--action", metavar="ACTION", help="only this kind, e.g. login-failed")
    p.add_argument("--by", metavar="NAME", help="only this admin's actions")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    add_auth_arguments(p)
    p.set_defaults(handler=cmd_log)

    # purge
    p = sub.add_parser("purge", help="delete snapshots (and crops) older than the retention")
    add_auth_arguments(p)
    p.set_defaults(handler=cmd_purge)
