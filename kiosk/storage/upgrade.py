"""Sealing a database written by an older kiosk, once, at the first start with the key.

The Alembic migration (``db/versions/0002_integrity.py``) adds the columns; it cannot
compute MACs because the key is not in the database. So the first ``open_store`` with the
key, in one write transaction:

1. checks the access log with the old chain format and keeps the verdict;
2. re-chains every event in the new format (with the person's name and badge, read from
   the people table as they are at that moment);
3. chains the operators' actions (they were not chained before; renumbered 1, 2, 3, ...);
4. seals every admin account (one ``admin-seal`` action each), person, group and template;
5. authenticates both chain heads and records an ``integrity-upgrade`` action with what it
   found; the caller writes the first checkpoints after the commit.

An old log that was already tampered is re-chained too (the kiosk must go on), but the
verdict stays in the chained ``integrity-upgrade`` action and ``log verify`` keeps
reporting it. Accounts present at the upgrade are sealed as found: the action lists them,
so an account inserted before the upgrade is visible in ``log admin-actions``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, select, text, update

from kiosk.storage.chain import (
    ACTIONS_CHAIN,
    EVENTS_CHAIN,
    GENESIS,
    ActionFields,
    ChainFields,
    Head,
    Link,
    action_hash,
    head_mac,
    link_hash,
    link_hash_v1,
    walk_chain,
)
from kiosk.storage.models import (
    AdminActionRow,
    AdminRow,
    ChainHead,
    EventRow,
    HolidayRow,
    PersonRow,
    ScheduleWindowRow,
    TemplateRow,
)
from kiosk.storage.repositories import GroupRepository, template_seal
from kiosk.storage.repositories.people import _seal_of

log = logging.getLogger(__name__)

INTEGRITY_KEY = "integrity_version"
INTEGRITY_VERSION = "2"
BATCH = 5000


def needs_upgrade(meta_value: str | None) -> bool:
    return meta_value != INTEGRITY_VERSION


def upgrade(uow: Any, key: bytes, note_head: Callable[[int, int, str], None]) -> None:
    """Seal and re-chain an older database (see the module's docstring). ``uow`` is a
    writing unit of work; nothing is committed here."""
    session = uow.session
    if session.get_bind().dialect.name == "postgresql":
        # one kiosk upgrades; the others wait here and then find it done
        session.execute(text("SELECT pg_advisory_xact_lock(74657)"))
    if not needs_upgrade(uow.meta.get(INTEGRITY_KEY)):
        return
    events = int(session.scalar(select(func.count()).select_from(EventRow)) or 0)
    if events:
        log.warning("sealing the database of an older kiosk version: %d events, once", events)
    old_verdict = _old_events_verdict(session, key)
    last_id, last_hash = _rechain_events(session, key)
    _set_head(session, key, EVENTS_CHAIN, last_id, last_hash)
    note_head(EVENTS_CHAIN, last_id, last_hash)
    a_id, a_hash = _rechain_actions(session, key)
    _set_head(session, key, ACTIONS_CHAIN, a_id, a_hash)

    groups = GroupRepository(session, key)
    names: set[str] = set(session.scalars(select(PersonRow.group_name).distinct()))
    names |= set(session.scalars(select(ScheduleWindowRow.group_name).distinct()))
    names |= set(session.scalars(select(HolidayRow.group_name).distinct()))
    for name in sorted(n for n in names if n):
        groups.reseal(name)
    people = 0
    for row in session.scalars(select(PersonRow).order_by(PersonRow.id)):
        row.seal = _seal_of(key, row)
        people += 1
    templates = 0
    for tid, pid, checksum, blob in session.execute(
        select(
            TemplateRow.id, TemplateRow.person_id, TemplateRow.model_checksum, TemplateRow.embedding
        )
    ).all():
        session.execute(
            update(TemplateRow)
            .where(TemplateRow.id == tid)
            .values(seal=template_seal(key, tid, pid, checksum, bytes(blob)))
        )
        templates += 1
    session.flush()

    accounts = []
    for row in session.scalars(select(AdminRow).order_by(AdminRow.id)).all():
        generation = uow.audit.record(None, "admin-seal", row.username, role=row.role)
        uow.admins.update(row.username, generation=generation)
        accounts.append(row.username)
    if not (last_id or a_id or accounts or people or templates):
        uow.meta.set(INTEGRITY_KEY, INTEGRITY_VERSION)  # a new database: nothing to seal
        session.flush()
        return
    uow.audit.record(
        None,
        "integrity-upgrade",
        "",
        events=last_id,
        old_chain=old_verdict,
        actions=a_id,
        accounts=accounts,
        people=people,
        templates=templates,
    )
    uow.meta.set(INTEGRITY_KEY, INTEGRITY_VERSION)
    session.flush()


def _old_events_verdict(session: Any, key: bytes) -> str:
    head_row = session.get(ChainHead, EVENTS_CHAIN)
    head = None if head_row is None else Head(int(head_row.last_id), head_row.last_hash, True)

    def links() -> Any:
        query = select(EventRow.__table__).order_by(EventRow.id).execution_options(yield_per=BATCH)
        for r in session.execute(query):
            fields = ChainFields(
                r.id,
                r.time,
                r.kiosk_id,
                r.decision,
                r.person_id,
                r.score,
                r.threshold,
                r.model_version,
                r.latency_ms,
                r.reason,
                r.prev_hash,
            )
            yield Link(r.id, link_hash_v1(key, fields), r.prev_hash, r.hash)

    result = walk_chain(links(), head, None)
    return "intact" if not result.problems else result.problems[0]


def _rechain_events(session: Any, key: bytes) -> tuple[int, str]:
    table = cast(Table, EventRow.__table__)
    names = dict(session.execute(select(PersonRow.id, PersonRow.name)).all())
    badges = dict(session.execute(select(PersonRow.id, PersonRow.badge)).all())
    statement = (
        update(table)
        .where(table.c.id == bindparam("b_id"))
        .values(
            person_name=bindparam("b_name"),
            person_badge=bindparam("b_badge"),
            prev_hash=bindparam("b_prev"),
            hash=bindparam("b_hash"),
        )
    )
    prev = GENESIS
    last_id = 0
    after = 0
    while True:
        rows = session.execute(
            select(table).where(table.c.id > after).order_by(table.c.id).limit(BATCH)
        ).all()
        if not rows:
            break
        params = []
        for r in rows:
            name = names.get(r.person_id) if r.person_id is not None else None
            badge = badges.get(r.person_id) if r.person_id is not None else None
            fields = ChainFields(
                r.id,
                r.time,
                r.kiosk_id,
                r.decision,
                r.person_id,
                r.score,
                r.threshold,
                r.model_version,
                r.latency_ms,
                r.reason,
                prev,
                name,
                badge,
            )
            digest = link_hash(key, fields)
            params.append(
                {"b_id": r.id, "b_name": name, "b_badge": badge, "b_prev": prev, "b_hash": digest}
            )
            prev = digest
            last_id = int(r.id)
        session.connection().execute(statement, params)
        after = last_id
    return last_id, prev


def _rechain_actions(session: Any, key: bytes) -> tuple[int, str]:
    table = cast(Table, AdminActionRow.__table__)
    rows = session.execute(select(table).order_by(table.c.id)).all()
    prev = GENESIS
    position = 0
    for r in rows:
        position += 1
        fields = ActionFields(position, r.time, r.admin, r.action, r.target, r.details, prev)
        digest = action_hash(key, fields)
        session.connection().execute(
            update(table).where(table.c.id == r.id).values(id=position, prev_hash=prev, hash=digest)
        )
        prev = digest
    return position, prev


def _set_head(session: Any, key: bytes, chain: int, last_id: int, last_hash: str) -> None:
    head = session.get(ChainHead, chain)
    if head is None:
        head = ChainHead(id=chain, last_id=0, last_hash=GENESIS)
        session.add(head)
    head.last_id = last_id
    head.last_hash = last_hash
    head.mac = head_mac(key, chain, last_id, last_hash)
    session.flush()
