"""Admin commands: ``admin``, ``enroll``, ``people``, ``log``, ``purge`` (and ``identify``
against the enrolled people). ``kiosk.cli`` calls :func:`register`.

Every argument is checked before anything is written (and, where the check needs no
database, before signing in): a bad one is one line on stderr and exit 2.

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
    bounded_int,
    emit,
    error_line,
    login,
    opened_store,
    parse_time,
    photo_paths,
    print_identified,
    read_stdin_password,
    record_id,
)
from kiosk.config import Settings
from kiosk.domain.access import Decision
from kiosk.errors import InputError, KioskError
from kiosk.storage import limits
from kiosk.storage.records import AdminAction, EventFilter, PersonRecord, Role

# -- helpers -----------------------------------------------------------------------------


def _when(value: datetime | None) -> str:
    return "-" if value is None else value.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def _parse_time(text: str, flag: str) -> datetime:
    return parse_time(text, flag)


def _shown(text: str) -> str:
    """A value from the database or the user, safe on one terminal line."""
    return limits.printable(text, 300)


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
    from kiosk.services.accounts import AccountService, check_new_username

    check_new_username(args.username)
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
                    "disabled": a.disabled,
                    "sealed": a.sealed,
                    "failed_logins": a.failed_logins,
                    "last_login": _iso(a.last_login_at),
                }
            )
        else:
            if not a.sealed:
                state = "NOT SEALED (not written by the kiosk: delete it)"
            elif a.disabled:
                state = "disabled"
            else:
                state = f"locked until {_when(a.locked_until)}" if locked else "ok"
            print(f"{_shown(a.username)}\t{a.role}\t{state}\tlast login {_when(a.last_login_at)}")
    return 0


def cmd_admin_change(args: argparse.Namespace, settings: Settings) -> int:
    """``admin disable|enable|delete|role USER``."""
    from kiosk.services.accounts import AccountService

    action = args.admin_action
    user = limits.check_username(args.username)
    if action == "delete" and not args.yes and not sys.stdin.isatty():
        raise InputError("deleting an account cannot be undone: confirm with --yes")
    with opened_store(settings) as store:
        actor = login(args, store)
        accounts = AccountService(store)
        if action == "delete":
            if not args.yes:
                answer = input(f"delete the account {user}? [y/N] ")
                if answer.strip().lower() not in ("y", "yes"):
                    print("not deleted")
                    return 1
            accounts.delete_account(actor, user)
            print(f"deleted the account {_shown(user)}")
            return 0
        if action == "role":
            account = accounts.set_role(actor, user, Role(args.role))
            print(f"{account.username} is now an {account.role}")
            return 0
        account = accounts.set_disabled(actor, user, action == "disable")
    print(f"{account.username} is now {'disabled' if account.disabled else 'enabled'}")
    return 0


# -- enroll ------------------------------------------------------------------------------


def cmd_enroll(args: argparse.Namespace, settings: Settings) -> int:
    from kiosk.services.enrollment import EnrollmentService, check_person_input, folder_people

    if args.from_folder is None and (not args.name or not args.badge or not args.photos):
        raise InputError("give --name, --badge and at least one PHOTO (or --from-folder DIR)")
    if args.from_folder is not None and (args.name or args.badge or args.photos):
        raise InputError("--from-folder takes the names from the subfolders: drop --name/--badge")
    if args.new_group and not args.group:
        raise InputError("--new-group creates the group named by --group: give --group too")
    valid_from = _parse_time(args.valid_from, "--valid-from") if args.valid_from else None
    valid_until = _parse_time(args.valid_until, "--valid-until") if args.valid_until else None
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
                    f"{_shown(o.source)}: {', '.join(o.reasons)}" for o in result.rejected
                )
                raise InputError(
                    f"nothing stored for {_shown(name)} (badge {_shown(badge)}): {why}"
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
                        f"rejected {_shown(outcome.source)}: {'; '.join(outcome.reasons)}",
                        file=sys.stderr,
                    )
            for dup in result.duplicates:
                print(f"warning: {_shown(dup.describe())}", file=sys.stderr)
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
    return 0


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
        print(f"enrolled {_shown(name)} (badge {_shown(badge)}): {templates} photo(s) stored{more}")
    else:
        print(f"not enrolled {_shown(name)} (badge {_shown(badge)}): {error}", file=sys.stderr)


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
    if action != "list":
        limits.check_badge(args.badge)
    if action == "erase" and not args.yes and not sys.stdin.isatty():
        raise InputError("erase cannot be undone: confirm with --yes")
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
                    if not record.sealed:
                        state += " ALTERED OUTSIDE THE KIOSK"
                    print(
                        f"{_shown(p.badge)}\t{_shown(p.name)}\t{_shown(p.group or '-')}\t"
                        f"{state}\t{record.templates} template(s)"
                        + (f"\t{photos}" if photos else "")
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
                        "damaged": t.damaged,
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
                    print(f"{key}: {'-' if value is None else _shown(str(value))}")
                if not r.sealed:
                    print(
                        "WARNING: this record was changed outside the kiosk; the kiosk refuses "
                        "this person (erase and enroll again)"
                    )
                for t in details.templates:
                    damaged = " DAMAGED: skipped by recognition, re-enroll" if t.damaged else ""
                    print(
                        f"template {t.id}: {t.model_name} {t.model_version}, quality "
                        f"{t.quality:.2f}, from {_shown(t.source)}, {_when(t.created_at)}"
                        f"{damaged}"
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
                f"{_shown(record.person.name)} (badge {_shown(args.badge)}) is now "
                f"{'active' if record.person.active else 'inactive'}"
            )
            return 0
        assert action == "erase"
        if not args.yes:
            answer = input(
                f"erase every face template and snapshot of badge {args.badge}? "
                "This cannot be undone. [y/N] "
            )
            if answer.strip().lower() not in ("y", "yes"):
                print("not erased")
                return 1
        report = service.erase(actor, service.id_for_badge(actor, args.badge))
        print(
            f"erased {_shown(report.name)} (badge {_shown(report.badge)}): "
            f"{report.templates} template(s), "
            f"{report.snapshots} snapshot(s); past access events kept without biometric data"
        )
        return 0


# -- log ---------------------------------------------------------------------------------


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
        since=_parse_time(args.since, "--since") if args.since else None,
        until=_parse_time(args.until, "--until") if args.until else None,
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
                count = service.export_csv(actor, Path(args.csv), flt)
                print(f"exported {count} event(s) to {_shown(args.csv)}", file=sys.stderr)
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
                    f"{row['id']}\t{row['time_local']}\t{_shown(row['kiosk_id'])}\t"
                    f"{row['decision']}\t{_shown(who)}\t{score}"
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
                    "time": _iso(a.time),
                    "admin": a.admin,
                    "action": a.action,
                    "target": a.target,
                    "details": details,
                }
            )
        else:
            print(
                f"{a.id}\t{_when(a.time)}\t{_shown(a.admin or '-')}\t{_shown(a.action)}\t"
                f"{_shown(a.target or '-')}\t{_shown(describe_details(a.details))}"
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
        for notice in service.staff_notices():
            print(f"warning: {_shown(notice)}", file=sys.stderr)
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
    return f"{_shown(path)}\tface {row['face']}\t{_shown(who)}\t{dist}\t{row['decision']}"


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
    admin = sub.add_parser(
        "admin", help="admin accounts: add, passwd, list, disable, enable, delete, role"
    )
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
    for action, text in [
        ("disable", "stop an account from signing in (its actions stay in the log)"),
        ("enable", "let a disabled account sign in again"),
        ("delete", "remove an account (its actions stay in the log)"),
        ("role", "make an account an admin or an auditor"),
    ]:
        p = admin_sub.add_parser(action, help=text)
        p.add_argument("username", metavar="USER")
        if action == "role":
            p.add_argument("--role", choices=[r.value for r in Role], required=True)
        if action == "delete":
            p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
        add_auth_arguments(p)
        p.set_defaults(handler=cmd_admin_change)

    # enroll
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
