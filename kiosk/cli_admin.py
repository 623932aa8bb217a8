"""Admin commands: ``admin``, ``enroll``, ``people``, ``log``, ``purge`` (and ``identify``
against the enrolled people). ``kiosk.cli`` calls :func:`register`.

Who is acting: ``--user NAME`` (or ``KIOSK_ADMIN``); the password comes from
``KIOSK_ADMIN_PASSWORD``, ``--password-stdin`` or a prompt. The very first account is
created without logging in: ``kiosk admin add NAME --role admin``.

Exit codes: 0 ok, 1 a negative answer (tampered log, unknown face), 2 bad input.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kiosk import app
from kiosk.cli_common import (
    add_auth_arguments,
    ask_password,
    emit,
    login,
    opened_store,
    photo_paths,
    print_identified,
    read_stdin_password,
)
from kiosk.config import Settings
from kiosk.domain.access import Decision
from kiosk.errors import InputError, KioskError
from kiosk.storage.records import EventFilter, PersonRecord, Role

# -- helpers -----------------------------------------------------------------------------


def _when(value: datetime | None) -> str:
    return "-" if value is None else value.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def _parse_time(text: str, flag: str) -> datetime:
    """An ISO date or date-time; without a zone it is local time."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise InputError(
            f"{flag} {text!r} is not a date: use e.g. 2026-05-04 or 2026-05-04T09:30"
        ) from None
    if value.tzinfo is None:
        value = value.astimezone()  # local time
    return value.astimezone(UTC)


# -- admin -------------------------------------------------------------------------------


def _new_password(args: argparse.Namespace, user: str, *, bootstrap: bool) -> str:
    if args.password_stdin:
        return read_stdin_password()
    if bootstrap and os.environ.get("KIOSK_ADMIN_PASSWORD"):
        return os.environ["KIOSK_ADMIN_PASSWORD"]
    first = ask_password(f"new password for {user}: ")
    if ask_password("repeat it: ") != first:
        raise InputError("the two passwords differ; try again")
    return first


def cmd_admin_add(args: argparse.Namespace, settings: Settings) -> int:
    from kiosk.services.accounts import AccountService

    with opened_store(settings) as store:
        accounts = AccountService(store)
        if accounts.has_admins():
            actor = login(args, store, stdin_is_mine=False)
            password = _new_password(args, args.username, bootstrap=False)
        else:
            actor = None
            password = _new_password(args, args.username, bootstrap=True)
        account = accounts.add_admin(actor, args.username, password, Role(args.role))
    print(f"added {account.role} {account.username}")
    return 0


def cmd_admin_passwd(args: argparse.Namespace, settings: Settings) -> int:
    from kiosk.services.accounts import AccountService

    with opened_store(settings) as store:
        actor = login(args, store, stdin_is_mine=False)
        target = args.username or actor.username
        password = _new_password(args, target, bootstrap=False)
        AccountService(store).change_password(actor, target, password)
    print(f"password changed for {target}")
    return 0


def cmd_admin_list(args: argparse.Namespace, settings: Settings) -> int:
    from kiosk.services.accounts import AccountService

    with opened_store(settings) as store:
        actor = login(args, store)
        accounts = AccountService(store).list_admins(actor)
    for a in accounts:
        locked = a.locked_until is not None and a.locked_until > datetime.now(UTC)
        if args.json:
            emit(
                {
                    "username": a.username,
                    "role": str(a.role),
                    "locked": locked,
                    "failed_logins": a.failed_logins,
                    "last_login": _iso(a.last_login_at),
                }
            )
        else:
            state = f"locked until {_when(a.locked_until)}" if locked else "ok"
            print(f"{a.username}\t{a.role}\t{state}\tlast login {_when(a.last_login_at)}")
    return 0


# -- enroll ------------------------------------------------------------------------------


def cmd_enroll(args: argparse.Namespace, settings: Settings) -> int:
    from kiosk.services.enrollment import EnrollmentService, folder_people

    if args.from_folder is None and (not args.name or not args.badge or not args.photos):
        raise InputError("give --name, --badge and at least one PHOTO (or --from-folder DIR)")
    if args.from_folder is not None and (args.name or args.badge or args.photos):
        raise InputError("--from-folder takes the names from the subfolders: drop --name/--badge")
    valid_from = _parse_time(args.valid_from, "--valid-from") if args.valid_from else None
    valid_until = _parse_time(args.valid_until, "--valid-until") if args.valid_until else None
    with opened_store(settings) as store:
        actor = login(args, store)
        service = EnrollmentService(store, app.load_pipeline(settings), settings)
        if args.from_folder is None:
            jobs = [(args.name, args.badge, [Path(p) for p in args.photos])]
        else:
            jobs = [
                (name.replace("_", " "), name, photos)
                for name, photos in folder_people(Path(args.from_folder))
            ]
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
                )
            except KioskError as exc:
                if args.from_folder is None:
                    raise
                failed += 1
                _report_person(args, name, badge, None, str(exc))
                continue
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
                elif not outcome.accepted:
                    print(
                        f"rejected {outcome.source}: {'; '.join(outcome.reasons)}", file=sys.stderr
                    )
            for dup in result.duplicates:
                print(f"warning: {dup.describe()}", file=sys.stderr)
            if result.person is None:
                failed += 1
                _report_person(args, name, badge, None, "no usable photo; nothing stored")
            else:
                stored += 1
                _report_person(args, name, badge, result.templates_added, None)
    if failed and not stored:
        return 2
    return 0


def _progress(jobs: list[Any], *, enabled: bool) -> Any:
    if not enabled:
        return jobs
    from tqdm import tqdm

    return tqdm(jobs, desc="enrolling", unit="person", file=sys.stderr, disable=None)


def _report_person(
    args: argparse.Namespace, name: str, badge: str, templates: int | None, error: str | None
) -> None:
    if args.json:
        emit(
            {
                "name": name,
                "badge": badge,
                "enrolled": error is None,
                "templates": templates,
                "error": error,
            }
        )
    elif error is None:
        print(f"enrolled {name} (badge {badge}): {templates} photo(s) stored")
    else:
        print(f"not enrolled {name} (badge {badge}): {error}", file=sys.stderr)


# -- people ------------------------------------------------------------------------------


def _person_json(record: PersonRecord) -> dict[str, Any]:
    p = record.person
    return {
        "id": p.id,
        "name": p.name,
        "badge": p.badge,
        "group": p.group,
        "active": p.active,
        "valid_from": _iso(p.valid_from),
        "valid_until": _iso(p.valid_until),
        "templates": record.templates,
        "consent_at": _iso(record.consent_at),
        "consent_by": record.consent_by,
        "erased_at": _iso(record.erased_at),
        "created_at": _iso(record.created_at),
    }


def cmd_people(args: argparse.Namespace, settings: Settings) -> int:
    from kiosk.services.people import PeopleService

    action = args.people_action
    if action != "list" and not args.badge:
        raise InputError(f"people {action} needs --badge ID")
    with opened_store(settings) as store:
        actor = login(args, store)
        service = PeopleService(store)
        # the command line names people by badge; the services take their id (erase
        # looks it up after the confirmation)
        person_id = None if action in ("list", "erase") else service.id_for_badge(actor, args.badge)
        if action == "list":
            from kiosk.vision.networks import network

            checksum = network(settings.vision.network).sha256
            need = service.need_new_photos(actor, checksum)
            waiting = service.waiting_for_reembedding(checksum)
            for record in service.everyone(actor, group=args.group, include_erased=args.all):
                pid = record.person.id
                photos = (
                    "needs new photos"
                    if pid in need and not record.erased
                    else ("re-embedded at the next kiosk start" if pid in waiting else "")
                )
                if args.json:
                    emit({**_person_json(record), "photos": photos or "ok"})
                else:
                    p = record.person
                    state = "erased" if record.erased else ("active" if p.active else "inactive")
                    print(
                        f"{p.badge}\t{p.name}\t{p.group or '-'}\t{state}\t"
                        f"{record.templates} template(s)" + (f"\t{photos}" if photos else "")
                    )
            return 0
        if action == "show":
            assert person_id is not None
            details = service.details(actor, person_id)
            if args.json:
                obj = _person_json(details.record)
                obj["template_list"] = [
                    {
                        "id": t.id,
                        "model": f"{t.model_name} {t.model_version}",
                        "quality": t.quality,
                        "source": t.source,
                        "created_at": _iso(t.created_at),
                        "crop": t.has_crop,
                    }
                    for t in details.templates
                ]
                obj["recent_events"] = [
                    {
                        "id": e.id,
                        "time": _iso(e.event.time),
                        "decision": str(e.event.decision),
                        "kiosk_id": e.event.kiosk_id,
                    }
                    for e in details.recent_events
                ]
                emit(obj)
            else:
                r = details.record
                for key, value in _person_json(r).items():
                    print(f"{key}: {'-' if value is None else value}")
                for t in details.templates:
                    print(
                        f"template {t.id}: {t.model_name} {t.model_version}, quality "
                        f"{t.quality:.2f}, from {t.source}, {_when(t.created_at)}"
                    )
                for e in details.recent_events:
                    print(
                        f"event {e.id}: {_when(e.event.time)} {e.event.decision} "
                        f"at {e.event.kiosk_id}"
                    )
            return 0
        if action in ("activate", "deactivate"):
            assert person_id is not None
            record = service.set_active(actor, person_id, action == "activate")
            print(
                f"{record.person.name} (badge {args.badge}) is now "
                f"{'active' if record.person.active else 'inactive'}"
            )
            return 0
        assert action == "erase"
        if not args.yes:
            if not sys.stdin.isatty():
                raise InputError("erase cannot be undone: confirm with --yes")
            answer = input(
                f"erase every face template and snapshot of badge {args.badge}? "
                "This cannot be undone. [y/N] "
            )
            if answer.strip().lower() not in ("y", "yes"):
                print("not erased")
                return 1
        report = service.erase(actor, service.id_for_badge(actor, args.badge))
        print(
            f"erased {report.name} (badge {report.badge}): {report.templates} template(s), "
            f"{report.snapshots} snapshot(s); past access events kept without biometric data"
        )
        return 0


# -- log ---------------------------------------------------------------------------------


def _filter(args: argparse.Namespace, person_id: int | None) -> EventFilter:
    decision = None
    if args.decision:
        try:
            decision = str(Decision(args.decision))
        except ValueError:
            choices = ", ".join(d.value for d in Decision)
            raise InputError(f"--decision must be one of {choices}") from None
    return EventFilter(
        since=_parse_time(args.since, "--since") if args.since else None,
        until=_parse_time(args.until, "--until") if args.until else None,
        person_id=person_id,
        decision=decision,
        kiosk_id=args.kiosk,
    )


def cmd_log(args: argparse.Namespace, settings: Settings) -> int:
    from kiosk.services.audit_log import AuditLogService, event_row
    from kiosk.services.people import PeopleService

    with opened_store(settings) as store:
        actor = login(args, store)
        service = AuditLogService(store, settings)
        if args.log_action == "verify":
            report = service.verify(actor)
            if args.json:
                emit(
                    {
                        "ok": report.ok,
                        "checked": report.checked,
                        "first_bad_id": report.first_bad_id,
                        "problem": report.problem or None,
                    }
                )
            else:
                print(report.describe())
            return 0 if report.ok else 1
        # the person is named by badge here and by id in the services
        person_id = PeopleService(store).id_for_badge(actor, args.person) if args.person else None
        flt = _filter(args, person_id)
        if args.log_action == "export":
            if args.csv == "-":
                count = service.export_csv(actor, sys.stdout, flt)
            else:
                count = service.export_csv(actor, Path(args.csv), flt)
                print(f"exported {count} event(s) to {args.csv}", file=sys.stderr)
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
                    f"{row['id']}\t{row['time_local']}\t{row['kiosk_id']}\t{row['decision']}\t"
                    f"{who}\t{score}"
                )
        if rows and len(rows) == args.limit and not args.json:
            print(f"(more: --before {rows[-1].id})", file=sys.stderr)
        return 0


def cmd_purge(args: argparse.Namespace, settings: Settings) -> int:
    from kiosk.services.audit_log import AuditLogService

    with opened_store(settings) as store:
        actor = login(args, store)
        report = AuditLogService(store, settings).purge(actor)
    crops = f", {report.crops} enrollment crop(s)" if report.crop_cutoff else ""
    print(
        f"purged {report.snapshots} snapshot(s) older than {_when(report.snapshot_cutoff)}{crops}"
    )
    return 0


# -- identify against the enrolled people -------------------------------------------------


def identify_enrolled(args: argparse.Namespace, settings: Settings) -> int:
    """``identify PHOTO...`` without ``--gallery``: one line (or JSON object) per face.

    Exit 1 also when a photo's main face would not be let in (unknown, inactive, ...).
    """
    from kiosk.services.access import AccessService
    from kiosk.services.identify import Identifier

    paths = list(photo_paths(args.photos))
    with opened_store(settings) as store:
        service = AccessService(store, settings)
        identifier = Identifier(service, app.load_pipeline(settings), settings)
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
    return f"{path}\tface {row['face']}\t{who}\t{dist}\t{row['decision']}"


# -- registration ------------------------------------------------------------------------


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
    """Add ``admin``, ``enroll``, ``people``, ``log`` and ``purge`` to the kiosk command."""
    # admin
    admin = sub.add_parser("admin", help="admin accounts: add, passwd, list")
    admin_sub = admin.add_subparsers(dest="admin_action", metavar="ACTION", required=True)
    p = admin_sub.add_parser("add", help="add an account (asks for its password)")
    p.add_argument("username", metavar="USER")
    p.add_argument(
        "--role",
        choices=[r.value for r in Role],
        default="admin",
        help="admin (everything) or auditor (may only read the log)",
    )
    add_auth_arguments(p, stdin_help="read the NEW password from standard input")
    p.set_defaults(handler=cmd_admin_add)
    p = admin_sub.add_parser("passwd", help="change a password (yours, or anyone's as admin)")
    p.add_argument("username", metavar="USER", nargs="?", help="default: yourself")
    add_auth_arguments(p, stdin_help="read the NEW password from standard input")
    p.set_defaults(handler=cmd_admin_passwd)
    p = admin_sub.add_parser("list", help="list the accounts")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    add_auth_arguments(p)
    p.set_defaults(handler=cmd_admin_list)

    # enroll
    p = sub.add_parser("enroll", help="enroll a person from photos (quality-checked)")
    p.add_argument("photos", nargs="*", metavar="PHOTO")
    p.add_argument("--name", help="the person's display name")
    p.add_argument("--badge", help="badge or employee id (unique)")
    p.add_argument("--group", help="access group (its schedule applies)")
    p.add_argument("--valid-from", metavar="WHEN", help="access starts then (date or date-time)")
    p.add_argument("--valid-until", metavar="WHEN", help="access ends then (date or date-time)")
    p.add_argument(
        "--from-folder",
        metavar="DIR",
        help="enroll DIR/<name>/<photos>: the folder name is the name and badge",
    )
    p.add_argument("--json", action="store_true", help="one JSON object per photo and person")
    add_auth_arguments(p)
    p.set_defaults(handler=cmd_enroll)

    # people
    people = sub.add_parser("people", help="enrolled people: list, show, (de)activate, erase")
    people_sub = people.add_subparsers(dest="people_action", metavar="ACTION", required=True)
    for action, text in [
        ("list", "list enrolled people"),
        ("show", "one person, with templates and recent events"),
        ("deactivate", "refuse access (keeps the enrollment)"),
        ("activate", "allow access again"),
        ("erase", "delete every template, crop and snapshot of a person"),
    ]:
        p = people_sub.add_parser(action, help=text)
        if action == "list":
            p.add_argument("--group", help="only this group")
            p.add_argument("--all", action="store_true", help="include erased people")
        else:
            p.add_argument("--badge", metavar="ID", required=True)
        if action in ("list", "show"):
            p.add_argument("--json", action="store_true", help="one JSON object per line")
        if action == "erase":
            p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
        add_auth_arguments(p)
        p.set_defaults(handler=cmd_people)

    # log
    log = sub.add_parser("log", help="the access log: list, export, verify")
    log_sub = log.add_subparsers(dest="log_action", metavar="ACTION", required=True)
    p = log_sub.add_parser("list", help="newest events first, one page")
    _add_log_filters(p)
    p.add_argument("--limit", type=int, default=50, help="events per page (default 50)")
    p.add_argument("--before", type=int, metavar="ID", help="the page before this event id")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    add_auth_arguments(p)
    p.set_defaults(handler=cmd_log)
    p = log_sub.add_parser("export", help="write the log as CSV (streams: any size)")
    p.add_argument("--csv", metavar="FILE", required=True, help="output file, '-' for stdout")
    _add_log_filters(p)
    add_auth_arguments(p)
    p.set_defaults(handler=cmd_log)
    p = log_sub.add_parser("verify", help="check the hash chain (exit 1 if tampered)")
    p.add_argument("--json", action="store_true", help="one JSON object")
    add_auth_arguments(p)
    p.set_defaults(handler=cmd_log)

    # purge
    p = sub.add_parser("purge", help="delete snapshots (and crops) older than the retention")
    add_auth_arguments(p)
    p.set_defaults(handler=cmd_purge)
