"""Rosters: which rows of ``people``, ``templates`` and ``admins`` the kiosk wrote, so
that deleting one (or all) is named, not only changing one.

A row's seal proves the kiosk wrote it, but says nothing when the row is gone. A roster is
a sealed multiset hash of a table's row ids (the sum, modulo 2**256, of one MAC per id,
updated by the repositories as they add and delete rows) with a generation that grows at
each change. ``log verify`` recomputes the sum from the rows; the newest generation is also
copied to the checkpoint file, so an older copy of the roster put back with the rows it
names is named as well.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kiosk.storage.chain import same
from kiosk.storage.models import AdminRow, Meta, PersonRow, TemplateRow

TABLES: dict[str, Any] = {"people": PersonRow, "templates": TemplateRow, "admins": AdminRow}
MODULUS = 1 << 256

#: called with (table, generation, seal) after a roster changed (the unit of work copies
#: the newest to the checkpoint file after its commit)
OnRoster = Callable[[str, int, str], None]


def _element(key: bytes, table: str, row_id: int) -> int:
    digest = hmac.new(key, f"roster/1\0{table}\0{int(row_id)}".encode(), hashlib.sha256)
    return int.from_bytes(digest.digest(), "big")


def roster_seal(key: bytes, table: str, count: int, total: int, generation: int) -> str:
    message = json.dumps(["roster/1", table, int(count), f"{total:064x}", int(generation)])
    return hmac.new(key, message.encode("ascii"), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Roster:
    """A table's roster as stored: row count, sum of the row MACs, generation, and
    whether its own seal holds."""

    count: int
    total: int
    generation: int
    seal: str
    authentic: bool


def _meta_key(table: str) -> str:
    return f"roster:{table}"


class RosterRepository:
    def __init__(self, session: Session, key: bytes, on_change: OnRoster | None = None) -> None:
        self.session = session
        self.key = key
        self.on_change = on_change

    def _row(self, table: str, *, lock: bool = False) -> Meta | None:
        query = select(Meta).where(Meta.key == _meta_key(table))
        if lock:
            query = query.with_for_update()
        return self.session.scalar(query)

    def _parse(self, table: str, row: Meta | None) -> Roster | None:
        if row is None:
            return None
        try:
            item = json.loads(row.value)
            count, total = int(item["n"]), int(str(item["sum"]), 16)
            generation, seal = int(item["gen"]), str(item["seal"])
        except (ValueError, KeyError, TypeError):
            return Roster(0, 0, 0, "", False)
        authentic = same(seal, roster_seal(self.key, table, count, total, generation))
        return Roster(count, total, generation, seal, authentic)

    def get(self, table: str) -> Roster | None:
        return self._parse(table, self._row(table))

    def compute(self, table: str, *, batch: int = 20_000) -> tuple[int, int]:
        """The count and MAC sum of the rows the table holds now."""
        model = TABLES[table]
        count = total = 0
        query = select(model.id).execution_options(yield_per=batch)
        for row_id in self.session.scalars(query):
            count += 1
            total = (total + _element(self.key, table, row_id)) % MODULUS
        return count, total

    def _store(
        self, table: str, row: Meta | None, count: int, total: int, gen: int, ok: bool
    ) -> None:
        seal = roster_seal(self.key, table, count, total, gen) if ok else ""
        value = json.dumps({"n": count, "sum": f"{total:064x}", "gen": gen, "seal": seal})
        if row is None:
            self.session.add(Meta(key=_meta_key(table), value=value))
        else:
            row.value = value
        self.session.flush()
        if ok and self.on_change is not None:
            self.on_change(table, gen, seal)

    def change(
        self,
        table: str,
        *,
        added: Iterable[int] = (),
        removed: Iterable[int] = (),
        uncertain: Iterable[int] = (),
    ) -> None:
        """Rows ``added`` and ``removed`` (already flushed) by the kiosk. ``uncertain``:
        rows deleted whose seal did not hold (inserted outside the kiosk, so never in the
        roster, or the kiosk's own and altered): the table decides which. A roster altered
        outside the kiosk stays unsealed: changing it must not launder the tampering."""
        row = self._row(table, lock=True)
        current = self._parse(table, row)
        if current is None:  # a database from before the rosters: taken as it is now
            count, total = self.compute(table)
            self._store(table, row, count, total, 1, True)
            return
        total = current.total
        count = current.count
        for row_id in added:
            total, count = (total + _element(self.key, table, row_id)) % MODULUS, count + 1
        for row_id in removed:
            total, count = (total - _element(self.key, table, row_id)) % MODULUS, count - 1
        doubtful = list(uncertain)
        if doubtful:
            without = (count - len(doubtful), total)
            for row_id in doubtful:
                without = (without[0], (without[1] - _element(self.key, table, row_id)) % MODULUS)
            if self.compute(table) != (count, total):  # they were the kiosk's rows
                count, total = without
        self._store(table, row, count, total, current.generation + 1, current.authentic)

    def rebuild(self, table: str) -> None:
        """Seal the roster as the table is now, whatever it was. For a bulk loader that
        wrote rows with plain SQL and the key (``bench/storage_scale.py``); the kiosk never
        calls it (it would launder a deletion)."""
        row = self._row(table, lock=True)
        current = self._parse(table, row)
        count, total = self.compute(table)
        self._store(table, row, count, total, (current.generation if current else 0) + 1, True)

    def start(self, table: str) -> bool:
        """Seal the roster of a table that has none (a database from before the rosters,
        taken as it is: trust on first use); ``True`` when one was made."""
        row = self._row(table, lock=True)
        if row is not None:
            return False
        count, total = self.compute(table)
        self._store(table, None, count, total, 1, True)
        return True
