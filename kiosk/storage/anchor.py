"""Checkpoints of the chain heads, outside the database.

After each commit that extends a chain, the new head (count and last MAC, with a MAC of
its own) is appended to a file beside the database (``kiosk.db-anchor`` for SQLite; for
PostgreSQL ``<home>/postgresql-<host>-<database>.anchor``), mode 0600 in the private
home folder. Someone who can write the database but not this file can delete the last
events, or all of them, and make the database consistent again; the checkpoint still says
how long the log was, and ``log verify`` names what is missing.

The file only grows by appends (several processes may write: each append is one
``write`` under an exclusive ``flock``); past :data:`COMPACT_BYTES` it is rewritten with the
newest checkpoint of each chain. A checkpoint is a lower bound: a crash between the commit
and the append leaves the file one step behind, never ahead.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import make_url

from kiosk.storage.chain import Checkpoint, checkpoint_mac, same

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows: appends are not locked
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

COMPACT_BYTES = 64 * 1024


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


class Anchor:
    """The checkpoint file of one database."""

    def __init__(self, path: Path, key: bytes) -> None:
        self.path = path
        self._key = key

    def exists(self) -> bool:
        return self.path.exists()

    def record(self, chain: str, count: int, last_hash: str) -> None:
        """Append a checkpoint. A failure is logged, never raised: the door must not stop
        because a file could not be written (``log verify`` will then be less strict)."""
        when = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        line = json.dumps(
            {
                "chain": chain,
                "n": int(count),
                "hash": last_hash,
                "time": when,
                "mac": checkpoint_mac(self._key, chain, count, last_hash, when),
            },
            separators=(",", ":"),
        )
        try:
            with self._locked() as fd:
                os.write(fd, (line + "\n").encode("ascii"))
                if os.fstat(fd).st_size > COMPACT_BYTES:
                    self._compact(fd)
        except OSError as exc:
            log.error("cannot write the checkpoint file %s: %s", self.path, exc)

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

    def _compact(self, fd: int) -> None:
        best, _ = self._read()
        partial = self.path.with_name(self.path.name + ".partial")
        with open(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
            for chain, (count, last_hash, when, mac) in sorted(best.items()):
                f.write(
                    json.dumps(
                        {"chain": chain, "n": count, "hash": last_hash, "time": when, "mac": mac},
                        separators=(",", ":"),
                    )
                    + "\n"
                )
            f.flush()
            os.fsync(f.fileno())
        os.replace(partial, self.path)

    def _read(self) -> tuple[dict[str, tuple[int, str, str, str]], list[str]]:
        best: dict[str, tuple[int, str, str, str]] = {}
        problems: list[str] = []
        try:
            text = self.path.read_text(encoding="ascii", errors="replace")
        except FileNotFoundError:
            return best, problems
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                chain, count = str(item["chain"]), int(item["n"])
                last_hash, when, mac = str(item["hash"]), str(item["time"]), str(item["mac"])
            except (ValueError, KeyError, TypeError):
                problems.append(f"line {number} of the checkpoint file {self.path} is damaged")
                continue
            if not same(mac, checkpoint_mac(self._key, chain, count, last_hash, when)):
                problems.append(
                    f"line {number} of the checkpoint file {self.path} was not written by the kiosk"
                )
                continue
            if chain not in best or count > best[chain][0]:
                best[chain] = (count, last_hash, when, mac)
        return best, problems

    def checkpoints(self) -> tuple[dict[str, Checkpoint], list[str]]:
        """The newest valid checkpoint of each chain, and the lines that are not valid."""
        best, problems = self._read()
        return (
            {
                chain: Checkpoint(count, last_hash, when, str(self.path))
                for chain, (count, last_hash, when, _) in best.items()
            },
            problems,
        )
