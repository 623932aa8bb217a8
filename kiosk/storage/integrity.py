"""The one integrity check behind ``log verify`` and the console's "Check the chain".

It walks both chains (the access log and the operators' actions) against their
authenticated heads and the checkpoints outside the database, then checks the seals of
admin accounts, people, group rules and templates. Each problem is one sentence that names
the rows concerned and what to do.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from kiosk.storage.chain import ChainReport, Checkpoint, Link, same, walk_chain

if TYPE_CHECKING:
    from kiosk.storage.anchor import Anchor
    from kiosk.storage.store import UnitOfWork

#: at most this many rows of one kind are named; the rest are counted
MAX_NAMED = 10

Progress = Callable[[int], None]


class Stopped(Exception):
    """The check was stopped (the console's Cancel)."""


def _watched(
    links: Iterator[Link], progress: Progress | None, stop: threading.Event | None, every: int
) -> Iterator[Link]:
    for i, link in enumerate(links):
        if i % every == 0:
            if stop is not None and stop.is_set():
                raise Stopped
            if progress is not None:
                progress(i)
        yield link


def _named(items: list[str], what: str, advice: str) -> str:
    """What, whom (the first :data:`MAX_NAMED`), then what to do: the names come early,
    so a status line cut short still shows them."""
    shown = ", ".join(items[:MAX_NAMED])
    more = f" and {len(items) - MAX_NAMED} more" if len(items) > MAX_NAMED else ""
    return f"{what}: {shown}{more} ({advice})"


_LOGS = {"events": ("event", "access log"), "actions": ("admin action", "operators' actions")}


def rollback(uow: UnitOfWork, anchor: Anchor | None) -> list[str]:
    """What shows the database older than its checkpoint file: a head recorded there (and
    not acknowledged since) whose row the database no longer holds, or holds with another
    MAC (put back to an older copy, cut, or replaced). Cheap (one query per chain): the
    kiosk checks it before it starts."""
    if anchor is None:
        return []
    checkpoints, _ = anchor.checkpoints()
    problems: list[str] = []
    for chain, heads in sorted(checkpoints.items()):
        noun, log_name = _LOGS.get(chain, (chain, chain))
        repo = uow.events if chain == "events" else uow.audit
        stored = repo.stored_hashes([h.count for h in heads if h.count > 0])
        ordered = sorted((h for h in heads if h.count > 0), key=lambda h: h.count)
        differs = [
            h for h in ordered if h.count in stored and not same(stored[h.count], h.last_hash)
        ]
        missing = [h for h in ordered if h.count not in stored]
        if differs:
            h = differs[0]
            problems.append(
                f"{noun} {h.count} of the {log_name} is not the one the checkpoint file "
                f"{h.where} recorded at {h.when}"
            )
        elif missing:
            h = missing[-1]
            problems.append(
                f"the {log_name} holds no {noun} {h.count}, which the checkpoint file "
                f"{h.where} recorded at {h.when}"
            )
    return problems + _roster_rollback(uow, anchor)


_ROWS = {"people": "person records", "templates": "face templates", "admins": "admin accounts"}
ROSTER_TABLES = tuple(_ROWS)


def _roster_rollback(uow: UnitOfWork, anchor: Anchor | None) -> list[str]:
    """A roster older than the newest generation the checkpoint file recorded."""
    if anchor is None:
        return []
    problems: list[str] = []
    for table, cp in sorted(anchor.rosters().items()):
        stored = uow.roster.get(table)
        what = _ROWS.get(table, table)
        if stored is None:
            problems.append(
                f"the roster of the {what} is missing from the database (the checkpoint file "
                f"{cp.where} recorded its generation {cp.count} at {cp.when})"
            )
        elif stored.generation < cp.count or (
            stored.generation == cp.count and not same(stored.seal, cp.last_hash)
        ):
            problems.append(
                f"the roster of the {what} is older than the checkpoint file {cp.where} "
                f"(generation {stored.generation}, recorded {cp.count} at {cp.when}): an older "
                "copy was put back"
            )
    return problems


def _deleted_admins(uow: UnitOfWork) -> list[str]:
    """Accounts the operators' actions added and never deleted, missing from the table."""
    expected: set[str] = set()
    for action in sorted(
        uow.audit.of_kind("admin-add") + uow.audit.of_kind("admin-delete"), key=lambda a: a.id
    ):
        if action.action == "admin-add":
            expected.add(action.target)
        else:
            expected.discard(action.target)
    present = {a.username for a in uow.admins.list()}
    return sorted(expected - present)


def rosters(uow: UnitOfWork, anchor: Anchor | None) -> list[str]:
    """Rows of people, templates and admin accounts deleted (or inserted, or replaced)
    outside the kiosk: each table's rows against its sealed roster, and the roster against
    the checkpoint file."""
    problems: list[str] = []
    for table, what in _ROWS.items():
        stored = uow.roster.get(table)
        if stored is None:
            if anchor is None or table not in anchor.rosters():
                problems.append(f"the roster of the {what} is missing from the database")
            continue
        if not stored.authentic:
            problems.append(
                f"the roster of the {what} was altered outside the kiosk: rows may have been "
                "deleted or added"
            )
            continue
        count, total = uow.roster.compute(table)
        if count < stored.count:
            gone = stored.count - count
            named = ""
            if table == "admins":
                names = _deleted_admins(uow)
                named = f" ({', '.join(names[:MAX_NAMED])})" if names else ""
            problems.append(
                f"{what} deleted outside the kiosk: {gone} of {stored.count}{named} (restore "
                "them from a backup)"
            )
        elif count > stored.count:
            problems.append(
                f"{what} inserted outside the kiosk: {count - stored.count} more than the "
                f"{stored.count} it wrote"
            )
        elif total != stored.total:
            problems.append(
                f"{what} replaced outside the kiosk (as many as the kiosk wrote, but not the "
                "same rows)"
            )
    return problems + _roster_rollback(uow, anchor)


def check(
    uow: UnitOfWork,
    anchor: Anchor | None,
    *,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
    every: int = 10_000,
) -> ChainReport | None:
    """Everything ``log verify`` checks; ``None`` when ``stop`` was set before the end."""
    checkpoints: dict[str, list[Checkpoint]] = {}
    problems: list[str] = []
    first_bad: int | None = None
    if anchor is not None:
        checkpoints, anchor_problems = anchor.checkpoints()
        problems += anchor_problems
    try:
        events = walk_chain(
            _watched(uow.events.links(), progress, stop, every),
            uow.events.head(),
            checkpoints.get("events"),
        )
        actions = walk_chain(
            uow.audit.links(),
            uow.audit.head(),
            checkpoints.get("actions"),
            noun="admin action",
            plural="admin actions",
            log_name="operators' actions",
        )
    except Stopped:
        return None
    if events.problems:
        first_bad = events.first_bad_id
    problems = list(events.problems) + problems + list(actions.problems)

    accounts = uow.admins.unsealed()
    if accounts:
        problems.append(
            _named(
                accounts,
                "admin accounts not created or changed by the kiosk",
                "added or altered in the database; they cannot sign in: delete them with "
                "`kiosk admin delete`",
            )
        )
    people = [badge for _, badge in uow.people.unsealed()]
    if people:
        problems.append(
            _named(
                [f"badge {b}" for b in people],
                "people whose records were changed outside the kiosk",
                "the kiosk refuses them: erase and enroll them again",
            )
        )
    groups = uow.groups.unsealed()
    if groups:
        problems.append(
            _named(
                groups,
                "groups whose access rules were changed outside the kiosk",
                "their people are refused until an admin sets the rules again: `kiosk rules set`",
            )
        )
    problems += rosters(uow, anchor)
    orphans = uow.events.orphan_snapshots()
    if orphans:
        problems.append(
            _named(
                [f"event {i}" for i in orphans],
                "snapshots of events that do not exist",
                "inserted outside the kiosk; the kiosk removes one when it records that event",
            )
        )
    if stop is not None and stop.is_set():
        return None
    damaged = uow.templates.damaged()
    if damaged:
        problems.append(
            _named(
                [f"{d.id} (badge {d.badge})" for d in damaged],
                "face templates damaged or moved to another person",
                "skipped by recognition: re-enroll those people",
            )
        )
    for action in uow.audit.of_kind("integrity-upgrade"):
        try:
            old = json.loads(action.details or "{}").get("old_chain", "intact")
        except ValueError:
            old = "intact"
        if old != "intact":
            problems.append(
                f"before the upgrade of {action.time:%Y-%m-%d} (admin action {action.id}) the "
                f"access log was already tampered: {old}"
            )
    return ChainReport(
        ok=not problems,
        checked=events.checked,
        first_bad_id=first_bad,
        problem=problems[0] if problems else "",
        problems=tuple(problems),
        actions_checked=actions.checked,
    )
