"""``people list|show|activate|deactivate|erase``: the enrolled people, named by badge.
``kiosk.cli`` calls :func:`register`.

Who is acting as for every admin command (:mod:`kiosk.cli.admin`).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from kiosk.cli.common import (
    add_auth_arguments,
    emit,
    iso_utc,
    local_time,
    login,
    opened_store,
    safe_text,
)
from kiosk.config import Settings
from kiosk.errors import InputError
from kiosk.storage import limits
from kiosk.storage.records import PersonRecord


def _person_json(record: PersonRecord) -> dict[str, Any]:
    p = record.person
    return {
        "id": p.id,
        "name": p.name,
        "badge": p.badge,
        "group": p.group,
        "active": p.active,
        "valid_from": iso_utc(p.valid_from),
        "valid_until": iso_utc(p.valid_until),
        "templates": record.templates,
        "consent_at": iso_utc(record.consent_at),
        "consent_by": record.consent_by,
        "erased_at": iso_utc(record.erased_at),
        "created_at": iso_utc(record.created_at),
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
                        f"{safe_text(p.badge)}\t{safe_text(p.name)}\t{safe_text(p.group or '-')}\t"
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
                        "created_at": iso_utc(t.created_at),
                        "crop": t.has_crop,
                        "damaged": t.damaged,
                    }
                    for t in details.templates
                ]
                obj["recent_events"] = [
                    {
                        "id": e.id,
                        "time": iso_utc(e.event.time),
                        "decision": str(e.event.decision),
                        "kiosk_id": e.event.kiosk_id,
                    }
                    for e in details.recent_events
                ]
                emit(obj)
            else:
                r = details.record
                for key, value in _person_json(r).items():
                    print(f"{key}: {'-' if value is None else safe_text(str(value))}")
                if not r.sealed:
                    print(
                        "WARNING: this record was changed outside the kiosk; the kiosk refuses "
                        "this person (erase and enroll again)"
                    )
                for t in details.templates:
                    damaged = " DAMAGED: skipped by recognition, re-enroll" if t.damaged else ""
                    print(
                        f"template {t.id}: {t.model_name} {t.model_version}, quality "
                        f"{t.quality:.2f}, from {safe_text(t.source)}, {local_time(t.created_at)}"
                        f"{damaged}"
                    )
                for e in details.recent_events:
                    print(
                        f"event {e.id}: {local_time(e.event.time)} {e.event.decision} "
                        f"at {e.event.kiosk_id}"
                    )
            return 0
        if action in ("activate", "deactivate"):
            assert person_id is not None
            record = service.set_active(actor, person_id, action == "activate")
            print(
                f"{safe_text(record.person.name)} (badge {safe_text(args.badge)}) is now "
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
            f"erased {safe_text(report.name)} (badge {safe_text(report.badge)}): "
            f"{report.templates} template(s), "
            f"{report.snapshots} snapshot(s); past access events kept without biometric data"
        )
        return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``people`` to the kiosk command."""

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
