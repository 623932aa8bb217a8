"""Tamper evidence: hash chains, an authenticated chain head, and seals.

Every MAC here is an HMAC-SHA256 with a key derived from the encryption key, which lives
outside the database: someone who can write the database file but has not the key can
delete or change rows, but cannot make the result look like something the kiosk wrote.

* **The access log** and **the operators' actions** are chains: each row's MAC covers its
  content and the previous row's MAC, and row ids are positions (1, 2, 3, ...). An event
  carries what the decision was about *at that moment*: the person's name and badge, the
  kiosk, the decision, the distance and the threshold, so renaming a person later does not
  rewrite history.
* **The chain head** (count and last MAC of each chain) is itself MAC'd, and copied to a
  checkpoint file outside the database (:mod:`kiosk.storage.anchor`): deleting the last
  rows, or all of them, and pointing the head at what is left is named by ``verify``.
* **Seals** cover the rows that decide who gets in or who may sign in: admin accounts,
  people (name, badge, group, active, validity), each group's rules. A row the kiosk did
  not write is refused where it is used and reported by ``log verify``.

``walk_chain`` walks a chain in order and names the first row that was altered, inserted
or deleted, and whether rows are missing from the end.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time

GENESIS = "0" * 64

#: chain_head rows
EVENTS_CHAIN = 1
ACTIONS_CHAIN = 2
CHAIN_NAMES = {EVENTS_CHAIN: "events", ACTIONS_CHAIN: "actions"}


def chain_key(encryption_key_material: bytes) -> bytes:
    return hashlib.sha256(b"kiosk access-log chain\0" + encryption_key_material).digest()


def _utc(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _float(value: float | None) -> float | None:
    return None if value is None else float(value)


def _mac(key: bytes, values: Sequence[object]) -> str:
    message = json.dumps(list(values), separators=(",", ":"), ensure_ascii=True)
    return hmac.new(key, message.encode("ascii"), hashlib.sha256).hexdigest()


def same(a: str | None, b: str | None) -> bool:
    """Constant-time equality of two stored values (hashes, seals). Compared as bytes: a
    value altered outside the kiosk may hold any character, and is then just different
    (``compare_digest`` raises on a non-ASCII ``str``)."""
    if a is None or b is None:
        return False
    return hmac.compare_digest(a.encode("utf-8", "replace"), b.encode("utf-8", "replace"))


# -- the access log ----------------------------------------------------------------------


@dataclass(frozen=True)
class ChainFields:
    """What an event's MAC covers: every stored column of an event except the MAC."""

    id: int
    time: datetime
    kiosk_id: str
    decision: str
    person_id: int | None
    score: float | None
    threshold: float | None
    model_version: str | None
    latency_ms: float | None
    reason: str
    prev_hash: str
    person_name: str | None = None
    person_badge: str | None = None


def canonical_v1(fields: ChainFields) -> bytes:
    """The first chain format (before names and badges were in it); kept to check a log
    written by an older kiosk before it is re-chained (:mod:`kiosk.storage.upgrade`)."""
    values = [
        fields.id,
        _utc(fields.time),
        fields.kiosk_id,
        fields.decision,
        fields.person_id,
        _float(fields.score),
        _float(fields.threshold),
        fields.model_version,
        _float(fields.latency_ms),
        fields.reason,
        fields.prev_hash,
    ]
    return json.dumps(values, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def link_hash_v1(key: bytes, fields: ChainFields) -> str:
    return hmac.new(key, canonical_v1(fields), hashlib.sha256).hexdigest()


def link_hash(key: bytes, fields: ChainFields) -> str:
    """The MAC of one event (format 2: with the name and badge at that moment)."""
    return _mac(
        key,
        [
            "event/2",
            fields.id,
            _utc(fields.time),
            fields.kiosk_id,
            fields.decision,
            fields.person_id,
            fields.person_name,
            fields.person_badge,
            _float(fields.score),
            _float(fields.threshold),
            fields.model_version,
            _float(fields.latency_ms),
            fields.reason,
            fields.prev_hash,
        ],
    )


# -- the operators' actions --------------------------------------------------------------


@dataclass(frozen=True)
class ActionFields:
    """What an admin action's MAC covers."""

    id: int
    time: datetime
    admin: str | None
    action: str
    target: str
    details: str
    prev_hash: str


def action_hash(key: bytes, fields: ActionFields) -> str:
    return _mac(
        key,
        [
            "action/1",
            fields.id,
            _utc(fields.time),
            fields.admin,
            fields.action,
            fields.target,
            fields.details,
            fields.prev_hash,
        ],
    )


# -- heads and seals ---------------------------------------------------------------------


def head_mac(key: bytes, chain: int, last_id: int, last_hash: str) -> str:
    """The MAC of a chain head: its length and last MAC, so it cannot be shortened."""
    return _mac(key, ["head/1", CHAIN_NAMES[chain], int(last_id), last_hash])


def checkpoint_mac(key: bytes, chain: str, count: int, last_hash: str, when: str) -> str:
    return _mac(key, ["checkpoint/1", chain, int(count), last_hash, when])


def marker_mac(key: bytes, kind: str, chain: str, count: int, last_hash: str, when: str) -> str:
    """The MAC of a checkpoint file line that is not a head: an admin's acknowledgement of
    a rollback (``ack``) or a fact about the database (``fact``, e.g. it had an admin)."""
    return _mac(key, ["checkpoint/2", kind, chain, int(count), last_hash, when])


def account_seal(
    key: bytes,
    *,
    id: int,
    username: str,
    password_hash: str,
    role: str,
    disabled: bool,
    generation: int,
) -> str:
    """An admin account's seal. ``generation`` is the id of the (chained) admin action
    that last changed the account, so an older copy of the row cannot be put back."""
    return _mac(
        key,
        ["admin/1", int(id), username, password_hash, role, bool(disabled), int(generation)],
    )


def person_seal(
    key: bytes,
    *,
    id: int,
    name: str,
    badge: str,
    group: str | None,
    active: bool,
    valid_from: datetime | None,
    valid_until: datetime | None,
    erased_at: datetime | None,
) -> str:
    """A person's seal: everything the kiosk decides on after a match."""
    return _mac(
        key,
        [
            "person/1",
            int(id),
            name,
            badge,
            group,
            bool(active),
            _utc(valid_from),
            _utc(valid_until),
            _utc(erased_at),
        ],
    )


def rules_seal(
    key: bytes,
    group: str,
    windows: Iterable[tuple[int, time, time]],
    holidays: Iterable[date],
) -> str:
    """A group's access rules' seal (a group with no rules has one too: "any time")."""
    return _mac(
        key,
        [
            "rules/1",
            group,
            sorted([int(d), s.isoformat(), e.isoformat()] for d, s, e in windows),
            sorted(d.isoformat() for d in holidays),
        ],
    )


# -- walking a chain ---------------------------------------------------------------------


@dataclass(frozen=True)
class Head:
    """A chain head as stored: its length, last MAC, and whether its own MAC holds."""

    last_id: int
    last_hash: str
    authentic: bool


@dataclass(frozen=True)
class Checkpoint:
    """The newest head of a chain recorded outside the database."""

    count: int
    last_hash: str
    when: str  # ISO time the checkpoint was written
    where: str  # the file, for the message


@dataclass(frozen=True)
class Link:
    """One row of a chain: its position, the MAC its content gives, the stored MACs."""

    id: int
    computed: str
    prev_hash: str
    stored: str


@dataclass(frozen=True)
class ChainReport:
    """The outcome of a check: ``ok``, how many rows were checked, and what is wrong
    (``problem`` is the first thing found, ``problems`` every one)."""

    ok: bool
    checked: int
    first_bad_id: int | None = None
    problem: str = ""
    problems: tuple[str, ...] = ()
    actions_checked: int = 0
    notes: tuple[str, ...] = field(default=())

    def short_problem(self, limit: int = 100) -> str:
        """The first problem, cut to ``limit`` characters, and how many more there are
        (for a status line; ``describe`` has them all)."""
        more = len(self.problems) - 1
        extra = f" (and {more} more problem{'s' if more > 1 else ''})" if more > 0 else ""
        text = self.problem if len(self.problem) <= limit else self.problem[: limit - 1] + "…"
        return text + extra

    def describe(self) -> str:
        """One line when intact; when not, one line per problem after the first."""
        if self.ok:
            return (
                f"access log intact: {self.checked} events, hash chain verified; "
                f"{self.actions_checked} operator actions verified"
            )
        lines = [f"access log TAMPERED: {self.problem}"]
        lines += [f"  also: {p}" for p in self.problems[1:]]
        return "\n".join(lines)


@dataclass(frozen=True)
class WalkResult:
    checked: int
    problems: tuple[str, ...]
    first_bad_id: int | None


def walk_chain(
    links: Iterable[Link],
    head: Head | None,
    checkpoints: Checkpoint | Sequence[Checkpoint] | None,
    *,
    noun: str = "event",
    plural: str = "events",
    log_name: str = "access log",
) -> WalkResult:
    """Walk ``links`` in id order against the head and the checkpoints.

    Every checkpoint is checked, not only the newest: a database put back to an older
    copy that has grown past the checkpoint's count since still differs at the rows the
    older checkpoints name. Ids start at 1 and have no gaps; a problem is named by the
    rows it concerns."""
    problems: list[str] = []
    first_bad: int | None = None
    if isinstance(checkpoints, Checkpoint):
        checkpoints = [checkpoints]
    at: dict[int, list[Checkpoint]] = {}
    for cp in checkpoints or ():
        at.setdefault(cp.count, []).append(cp)
    checkpoint = max(checkpoints or (), key=lambda cp: cp.count, default=None)

    def bad(row: int | None, text: str) -> None:
        nonlocal first_bad
        if first_bad is None:
            first_bad = row
        problems.append(text)

    def span(a: int, b: int) -> str:
        return f"{noun} {a}" if a == b else f"{plural} {a} to {b}"

    expected = 1
    prev = GENESIS
    checked = 0
    head_id = head.last_id if head is not None else None
    complete = False
    for link in links:
        if head_id is not None and link.id > head_id:
            bad(
                link.id,
                f"{noun} {link.id} was inserted after the last recorded {noun} {head_id}",
            )
            break
        if link.id != expected:
            bad(expected, f"{span(expected, link.id - 1)} deleted")
            break
        if not same(link.computed, link.stored):
            bad(link.id, f"{noun} {link.id} was altered (its hash does not match)")
            break
        if not same(link.prev_hash, prev):
            bad(
                link.id,
                f"{noun} {link.id} does not follow {noun} {link.id - 1}: a {noun} before it "
                "was replaced or inserted",
            )
            break
        differs = [cp for cp in at.get(link.id, ()) if not same(link.stored, cp.last_hash)]
        if differs:
            cp = differs[0]
            bad(
                link.id,
                f"{noun} {link.id} is not the one recorded in the checkpoint file "
                f"{cp.where} at {cp.when}: the log was replaced or put back to an older "
                "copy (rolled back)",
            )
            break
        prev = link.stored
        expected += 1
        checked += 1
    else:
        complete = True
    if complete and checkpoint is not None and checked < checkpoint.count:
        if checked == 0:
            bad(
                1,
                f"the {log_name} was wiped: the database holds no {plural}, but the "
                f"checkpoint file {checkpoint.where} recorded {checkpoint.count} at "
                f"{checkpoint.when}",
            )
        else:
            bad(
                checked + 1,
                f"{span(checked + 1, checkpoint.count)} deleted from the end of the "
                f"{log_name} (the checkpoint file {checkpoint.where} recorded "
                f"{checkpoint.count} {plural} at {checkpoint.when})",
            )
    elif complete and head_id is not None and checked < head_id:
        bad(checked + 1, f"{span(checked + 1, head_id)} deleted from the end of the {log_name}")
    if complete and head is not None and checked >= head.last_id and not same(head.last_hash, prev):
        bad(head.last_id, f"{noun} {head.last_id} was replaced")
    if head is None:
        bad(None, f"the head of the {log_name} is missing from the database")
    elif not head.authentic:
        bad(
            None,
            f"the head of the {log_name} ({head.last_id} {plural}) was not written by the "
            "kiosk: it was altered outside it",
        )
    return WalkResult(checked, tuple(problems), first_bad)
