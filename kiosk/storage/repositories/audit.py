"""The operators' actions, hash-chained like the access log."""

from __future__ import annotations

import builtins
import json
from collections.abc import Iterator, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from kiosk.storage import limits
from kiosk.storage.chain import ACTIONS_CHAIN, ActionFields, Head, Link, action_hash
from kiosk.storage.models import AdminActionRow
from kiosk.storage.records import AdminAction
from kiosk.storage.repositories.chain_head import OnExtend, _Chain, _stored_hashes
from kiosk.storage.repositories.clock import utcnow


class AuditRepository:
    """The operators' actions: who signed in (or failed to), enrolled, edited, erased,
    changed a setting, exported the log; a hash chain like the access log."""

    HEAD_ID = ACTIONS_CHAIN

    def __init__(self, session: Session, key: bytes, on_extend: OnExtend | None = None) -> None:
        self.session = session
        self.key = key
        self._chain = _Chain(session, key, ACTIONS_CHAIN, on_extend)

    def record(self, admin: str | None, action: str, target: str = "", **details: object) -> int:
        """Append an action; returns its id (its position in the chain)."""
        head = self._chain.lock()
        fields = ActionFields(
            id=head.last_id + 1,
            time=utcnow(),
            admin=None if admin is None else limits.printable(admin, limits.USERNAME_MAX),
            action=limits.printable(action, 50),
            target=limits.printable(target, limits.ACTION_TARGET_MAX),
            details=json.dumps(details, sort_keys=True, default=str) if details else "",
            prev_hash=head.last_hash,
        )
        digest = action_hash(self.key, fields)
        self.session.add(
            AdminActionRow(
                id=fields.id,
                time=fields.time,
                admin=fields.admin,
                action=fields.action,
                target=fields.target,
                details=fields.details,
                prev_hash=fields.prev_hash,
                hash=digest,
            )
        )
        self._chain.advance(head, fields.id, digest)
        self.session.flush()
        return fields.id

    def list(
        self,
        *,
        limit: int = 100,
        action: str | None = None,
        admin: str | None = None,
        before_id: int | None = None,
        target: str | None = None,
    ) -> list[AdminAction]:
        """Newest first."""
        query = select(AdminActionRow).order_by(AdminActionRow.id.desc()).limit(limit)
        if action is not None:
            query = query.where(AdminActionRow.action == action)
        if target is not None:
            query = query.where(AdminActionRow.target == target)
        if admin is not None:
            query = query.where(AdminActionRow.admin == admin)
        if before_id is not None:
            query = query.where(AdminActionRow.id < before_id)
        return [
            AdminAction(r.id, r.time, r.admin, r.action, r.target, r.details)
            for r in self.session.scalars(query)
        ]

    def head(self) -> Head | None:
        return self._chain.read()

    def stored_hashes(self, ids: Sequence[int]) -> dict[int, str]:
        """The stored MAC of each of ``ids`` the chain holds (for the checkpoints)."""
        return _stored_hashes(self.session, AdminActionRow, ids)

    def links(self, *, batch: int = 10_000) -> Iterator[Link]:
        query = (
            select(AdminActionRow.__table__)
            .order_by(AdminActionRow.id)
            .execution_options(yield_per=batch)
        )
        for row in self.session.execute(query):
            fields = ActionFields(
                row.id, row.time, row.admin, row.action, row.target, row.details, row.prev_hash
            )
            yield Link(row.id, action_hash(self.key, fields), row.prev_hash or "", row.hash or "")

    def of_kind(self, action: str) -> builtins.list[AdminAction]:
        """Every action of one kind, oldest first."""
        query = (
            select(AdminActionRow)
            .where(AdminActionRow.action == action)
            .order_by(AdminActionRow.id)
        )
        return [
            AdminAction(r.id, r.time, r.admin, r.action, r.target, r.details)
            for r in self.session.scalars(query)
        ]
