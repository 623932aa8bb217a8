"""Checkpoints of the chain heads, outside the database.

After each commit that extends a chain, the new head (count and last MAC, with a MAC of
its own) is appended to a file beside the database (``kiosk.db-anchor`` for SQLite; for
PostgreSQL ``<home>/postgresql-<host>-<database>.anchor``), mode 0600 in the private
home folder. Someone who can write the database but not this file can delete the last
events, or all of them, and make the database consistent again; the checkpoint still says
how long the log was, and ``log verify`` names what is missing.

The file only grows by appends (several processes may write: each append is one
``write`` under an exclusive ``flock``). Every head it holds is evidence, not only the
newest: a database put back to an older copy and grown past the newest count since still
differs at the heads written before the rollback. Past :data:`COMPACT_BYTES` the file is
rewritten keeping, per chain, every head the database does not hold any more (the
evidence of a rollback) and the newest head it holds (which, being a hash chain, vouches
for every earlier one). Evidence stays until an admin acknowledges it (``kiosk log
acknowledge``: an ``ack`` line, and an operator's action in the chain). A checkpoint is a
lower bound: a crash between the commit and the append leaves the file one step behind,
never ahead.

Lines of kind ``fact`` record what the database once had (``admins``: an admin account),
so that a first-admin bootstrap is refused on a database whose admins were deleted; lines
of kind ``roster`` the newest generation of each table's roster
(:mod:`kiosk.storage.repositories.roster`), so an older roster put back is named.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import make_url

from kiosk.storage.chain import Checkpoint, checkpoint_mac, marker_mac, same

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows: appends are not locked
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

COMPACT_BYTES = 64 * 1024

#: the stored hashes of some rows of a chain: (chain name, ids) -> {id: hash} for the ids
#: the database holds (the store's, for compaction)
Lookup = Callable[[str, Sequence[int]], dict[int, str]]

HEAD, ACK, FACT, ROSTER = "head", "ack", "fact", "roster"


def anchor_path(database_url: str, home: Path) -> Path:
    """Where the checkpoints of this database live on this machine."""
    from kiosk.storage.database import normalise_url, sqlite_file

    db = sqlite_file(database_url)
    if db is not None:
        return db.with_name(db.name + "-anchor")
    url = make_url(normalise_url(database_url))
    host = re.sub(r"[^A-Za-z0-9._-]", "_", f"{url.host or 'local'}-{url.port or ''}")
    name = re.sub(r"[^A-Za-z0-9._-]", "_", str(url.database or "db"))
    return home / f"{url.get_backend_name()}-{host}-{name}.anchor"


@dataclass(frozen=True)
class _Line:
    kind: str
    chain: str
    count: int
    last_hash: str
    when: str
    mac: str

    def text(self) -> str:
        item: dict[str, object] = {
            "chain": self.chain,
            "n": self.count,
            "hash": self.last_hash,
            "time": self.when,
            "mac": self.mac,
        }
        if self.kind != HEAD:
            item = {"kind": self.kind, **item}
        return json.dumps(item, separators=(",", ":"))


class Anchor:
    """The checkpoint file of one database."""

    def __init__(self, path: Path, key: bytes, lookup: Lookup | None = None) -> None:
        self.path = path
        self._key = key
        self._lookup = lookup

    def exists(self) -> bool:
        return self.path.exists()

    def _line(self, kind: str, chain: str, count: int, last_hash: str) -> _Line:
        when = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        if kind == HEAD:
            mac = checkpoint_mac(self._key, chain, count, last_hash, when)
        else:
            mac = marker_mac(self._key, kind, chain, count, last_hash, when)
        return _Line(kind, chain, int(count), last_hash, when, mac)

    def record(self, chain: str, count: int, last_hash: str) -> None:
        """Append a checkpoint. A failure is logged, never raised: the door must not stop
        because a file could not be written (``log verify`` will then be less strict)."""
        self._append(self._line(HEAD, chain, count, last_hash))

    def acknowledge(self, chain: str, count: int, last_hash: str) -> None:
        """An admin has seen what the checkpoints before this say (a rollback, a cut) and
        takes the database as it is now: ``count`` and ``last_hash`` are its head. Raised
        on failure (the admin must know it did not happen)."""
        self._append(self._line(ACK, chain, count, last_hash), strict=True)

    def record_roster(self, table: str, generation: int, seal: str) -> None:
        """Append the newest roster (generation and seal) of a table."""
        self._append(self._line(ROSTER, table, generation, seal))

    def rosters(self) -> dict[str, Checkpoint]:
        """The newest roster line of each table (or its acknowledgement, when later)."""
        lines, _ = self._read()
        newest = _newest_rosters(lines)
        return {
            table: Checkpoint(line.count, line.last_hash, line.when, str(self.path))
            for table, line in newest.items()
        }

    def note_fact(self, fact: str) -> None:
        """Record that the database had ``fact`` (once; e.g. ``admins``)."""
        if fact not in self.facts():
            self._append(self._line(FACT, fact, 0, ""))

    def _append(self, line: _Line, *, strict: bool = False) -> None:
        try:
            with self._locked() as fd:
                os.write(fd, (line.text() + "\n").encode("ascii"))
                if os.fstat(fd).st_size > COMPACT_BYTES:
                    self._compact(fd)
        except OSError as exc:
            log.error("cannot write the checkpoint file %s: %s", self.path, exc)
            if strict:
                raise

    @contextmanager
    def _locked(self) -> Iterator[int]:
        """The file opened for appending, locked; reopened if a compaction replaced it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(5):
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                if fcntl is not None:
                    fcntl.flock(fd, fcntl.LOCK_EX)
                try:
                    same_file = os.fstat(fd).st_ino == os.stat(self.path).st_ino
                except FileNotFoundError:
                    same_file = False
                if same_file:
                    yield fd
                    return
            finally:
                os.close(fd)
        raise OSError(f"the checkpoint file {self.path} keeps being replaced")

    def _kept(self, lines: list[_Line]) -> list[_Line] | None:
        """What a compaction keeps: the facts; per chain its last acknowledgement, every
        head after it the database does not hold (evidence) and the newest it holds.
        ``None`` when the database cannot be asked (nothing is dropped then)."""
        if self._lookup is None:
            return None
        kept: list[_Line] = []
        facts: set[str] = set()
        for line in lines:
            if line.kind == FACT and line.chain not in facts:
                facts.add(line.chain)
                kept.append(line)
        kept += _newest_rosters(lines).values()
        for chain, heads in sorted(_by_chain(lines).items()):
            if heads[0].kind == ACK:  # it cuts off what came before: kept whatever it says
                kept.append(heads[0])
                heads = heads[1:]
            try:
                stored = self._lookup(chain, sorted({h.count for h in heads}))
            except Exception as exc:  # the file keeps everything rather than lose evidence
                log.warning("checkpoint file %s not compacted: %s", self.path, exc)
                return None
            holding: list[_Line] = []
            evidence: dict[tuple[int, str], _Line] = {}
            for h in heads:
                if same(stored.get(h.count), h.last_hash):
                    holding.append(h)
                else:
                    evidence.setdefault((h.count, h.last_hash), h)
            kept += evidence.values()
            if holding:
                kept.append(max(holding, key=lambda h: h.count))
        return kept

    def _compact(self, fd: int) -> None:
        lines, _ = self._read()
        kept = self._kept(lines)
        if kept is None:
            return
        partial = self.path.with_name(self.path.name + ".partial")
        partial.unlink(missing_ok=True)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        with open(os.open(partial, flags, 0o600), "w") as f:
            for line in kept:
                f.write(line.text() + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(partial, self.path)

    def _read(self) -> tuple[list[_Line], list[str]]:
        lines: list[_Line] = []
        problems: list[str] = []
        try:
            text = self.path.read_text(encoding="ascii", errors="replace")
        except FileNotFoundError:
            return lines, problems
        for number, raw in enumerate(text.splitlines(), 1):
            if not raw.strip():
                continue
            try:
                item = json.loads(raw)
                kind = str(item.get("kind", HEAD))
                line = _Line(
                    kind,
                    str(item["chain"]),
                    int(item["n"]),
                    str(item["hash"]),
                    str(item["time"]),
                    str(item["mac"]),
                )
            except (ValueError, KeyError, TypeError, AttributeError):
                problems.append(f"line {number} of the checkpoint file {self.path} is damaged")
                continue
            if kind == HEAD:
                expected = checkpoint_mac(
                    self._key, line.chain, line.count, line.last_hash, line.when
                )
            else:
                expected = marker_mac(
                    self._key, kind, line.chain, line.count, line.last_hash, line.when
                )
            if kind not in (HEAD, ACK, FACT, ROSTER) or not same(line.mac, expected):
                problems.append(
                    f"line {number} of the checkpoint file {self.path} was not written by the kiosk"
                )
                continue
            lines.append(line)
        return lines, problems

    def checkpoints(self) -> tuple[dict[str, list[Checkpoint]], list[str]]:
        """Every valid head of each chain since (and with) its last acknowledgement: the
        evidence; and the lines that are not valid."""
        lines, problems = self._read()
        where = str(self.path)
        return (
            {
                chain: [Checkpoint(h.count, h.last_hash, h.when, where) for h in heads]
                for chain, heads in _by_chain(lines).items()
            },
            problems,
        )

    def facts(self) -> set[str]:
        """What this database is recorded to have had (``admins``)."""
        lines, _ = self._read()
        return {line.chain for line in lines if line.kind == FACT}


ROSTER_ACK = "roster:"


def _newest_rosters(lines: list[_Line]) -> dict[str, _Line]:
    """Per table, its newest roster line; an acknowledgement (chain ``roster:<table>``)
    replaces it whatever its generation."""
    newest: dict[str, _Line] = {}
    for line in lines:
        if line.kind == ACK and line.chain.startswith(ROSTER_ACK):
            newest[line.chain.removeprefix(ROSTER_ACK)] = line
        elif line.kind == ROSTER and (
            line.chain not in newest or line.count > newest[line.chain].count
        ):
            newest[line.chain] = line
    return newest


def _by_chain(lines: list[_Line]) -> dict[str, list[_Line]]:
    """Per chain: its last acknowledgement (first, when there is one: the database's head
    when the admin acknowledged) and the heads written after it."""
    out: dict[str, list[_Line]] = {}
    for line in lines:
        if line.kind == ACK and line.chain.startswith(ROSTER_ACK):
            continue
        if line.kind == ACK:
            out[line.chain] = [line]
        elif line.kind == HEAD:
            out.setdefault(line.chain, []).append(line)
    return out
