"""A large access log, written fast with one bulk insert (no hash chain: the viewer tests
that use it do not verify the chain)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

DECISIONS = ("allowed", "allowed", "allowed", "denied-unknown", "denied-schedule", "error")
KIOSKS = ("front-door", "back-door", "garage")


def fill_events(
    db_path: Path, count: int, *, person_ids: tuple[int, ...] = (), start: datetime | None = None
) -> None:
    """Append ``count`` events (one every 10 s from ``start``) to the SQLite database
    (schema already at head), and point the chain head at the last one."""
    start = start or datetime(2026, 1, 1, tzinfo=UTC)
    conn = sqlite3.connect(db_path)
    try:
        first = (conn.execute("SELECT coalesce(max(id), 0) FROM events").fetchone()[0]) + 1

        base = np.datetime64(start.astimezone(UTC).replace(tzinfo=None), "us")
        ids = np.arange(first, first + count)
        stamps = np.datetime_as_string(base + ids * np.timedelta64(10, "s"), unit="us")
        times = [t.replace("T", " ") for t in stamps.tolist()]

        def rows():  # type: ignore[no-untyped-def]
            for i, when in zip(ids.tolist(), times, strict=True):
                decision = DECISIONS[i % len(DECISIONS)]
                person = (
                    person_ids[i % len(person_ids)]
                    if person_ids and decision != "denied-unknown"
                    else None
                )
                yield (
                    i,
                    when,
                    KIOSKS[i % len(KIOSKS)],
                    decision,
                    person,
                    0.3 + (i % 50) / 100,
                    0.6,
                    "test",
                    80.0,
                    "",
                    "x",
                    "x",
                )

        # Indexes are dropped during the insert and built again after it (much faster).
        indexes = conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events' "
            "AND sql IS NOT NULL"
        ).fetchall()
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("BEGIN")
        for name, _ in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        conn.executemany(
            "INSERT INTO events (id, time, kiosk_id, decision, person_id, score, threshold, "
            "model_version, latency_ms, reason, prev_hash, hash) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows(),
        )
        last = first + count - 1
        conn.execute("DELETE FROM chain_head")
        conn.execute("INSERT INTO chain_head (id, last_id, last_hash) VALUES (1, ?, 'x')", (last,))
        for _, sql in indexes:
            conn.execute(sql)
        conn.commit()
    finally:
        conn.close()
