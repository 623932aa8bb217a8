"""The head of a hash chain (the access log's, the operators' actions'), locked while a
unit of work extends the chain."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kiosk.storage.chain import GENESIS, Head, head_mac, same
from kiosk.storage.models import ChainHead

#: called with (chain, count, last hash) when a unit of work extends a chain; the unit of
#: work copies the newest head to the checkpoint file after its commit
OnExtend = Callable[[int, int, str], None]


class _Chain:
    """The head of one chain, locked for the rest of the transaction (SELECT ... FOR
    UPDATE on PostgreSQL; BEGIN IMMEDIATE already serialises writers on SQLite)."""

    def __init__(self, session: Session, key: bytes, chain: int, on_extend: OnExtend | None):
        self.session = session
        self.key = key
        self.chain = chain
        self.on_extend = on_extend

    def lock(self) -> ChainHead:
        head = self.session.scalar(
            select(ChainHead).where(ChainHead.id == self.chain).with_for_update()
        )
        if head is None:
            head = ChainHead(
                id=self.chain,
                last_id=0,
                last_hash=GENESIS,
                mac=head_mac(self.key, self.chain, 0, GENESIS),
            )
            self.session.add(head)
            self.session.flush()
        return head

    def authentic(self, head: ChainHead) -> bool:
        return same(head.mac, head_mac(self.key, self.chain, head.last_id, head.last_hash))

    def advance(self, head: ChainHead, last_id: int, last_hash: str) -> None:
        # A head altered outside the kiosk stays unauthenticated: extending it must not
        # launder the tampering (``log verify`` keeps naming it).
        authentic = self.authentic(head)
        head.last_id = last_id
        head.last_hash = last_hash
        head.mac = head_mac(self.key, self.chain, last_id, last_hash) if authentic else None
        if authentic and self.on_extend is not None:
            self.on_extend(self.chain, last_id, last_hash)

    def read(self) -> Head | None:
        row = self.session.get(ChainHead, self.chain)
        if row is None:
            return None
        return Head(int(row.last_id), row.last_hash, self.authentic(row))


def _stored_hashes(session: Session, table: Any, ids: Sequence[int]) -> dict[int, str]:
    """The stored MAC of each of ``ids`` present in a chain's table (in batches)."""
    found: dict[int, str] = {}
    wanted = sorted({int(i) for i in ids})
    for start in range(0, len(wanted), 500):
        batch = wanted[start : start + 500]
        for row_id, digest in session.execute(
            select(table.id, table.hash).where(table.id.in_(batch))
        ):
            found[int(row_id)] = str(digest)
    return found
