"""What the console's Today page costs the database: one poll (every second while the
page is shown: the newest event id and the newest heartbeat) and one full read (when the
poll saw a change, and every 5 s), on a log of E events (T of them today) and K kiosks.
A benchmark, not a test.

    .venv/bin/python bench/today_poll.py                      # 1M events, 5,000 today
    .venv/bin/python bench/today_poll.py --events 100000 --today 2000 --json out.json

Prints the median and the 95th percentile of each, with the number of runs. An event
reaches the page within the poll interval (1 s) plus one poll plus one full read.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert  # noqa: E402

from kiosk.config import Settings  # noqa: E402
from kiosk.domain.kiosk_state import Heartbeat, KioskState  # noqa: E402
from kiosk.services.accounts import Actor  # noqa: E402
from kiosk.services.today import TodayService  # noqa: E402
from kiosk.storage.models import EventRow  # noqa: E402
from kiosk.storage.records import Role  # noqa: E402
from kiosk.storage.store import open_store  # noqa: E402

DECISIONS = ("allowed", "allowed", "allowed", "denied-unknown", "denied-schedule", "denied-spoof")


def fill(store: object, events: int, today: int, kiosks: int) -> None:
    now = datetime.now(UTC)
    old_start = now - timedelta(days=30)
    rows = []
    for i in range(1, events + 1):
        recent = i > events - today
        when = (
            now - timedelta(seconds=5 * (events - i + 1))
            if recent
            else old_start + timedelta(seconds=2 * i)
        )
        rows.append(
            {
                "id": i,
                "time": when,
                "kiosk_id": f"kiosk-{i % kiosks}",
                "decision": DECISIONS[i % len(DECISIONS)],
                "reason": "",
                "prev_hash": "0" * 64,
                "hash": "0" * 64,
            }
        )
        if len(rows) == 50_000 or i == events:
            with store.unit_of_work(write=True) as uow:  # type: ignore[attr-defined]
                uow.session.execute(insert(EventRow), rows)
                uow.commit()
            rows = []
    with store.unit_of_work(write=True) as uow:  # type: ignore[attr-defined]
        for k in range(kiosks):
            uow.kiosks.beat(Heartbeat(f"kiosk-{k}", KioskState.RUNNING, now, now, now, now))
        uow.commit()


def timed(call: object, runs: int) -> dict[str, float]:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        call()  # type: ignore[operator]
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return {
        "runs": runs,
        "median_ms": round(statistics.median(samples), 2),
        "p95_ms": round(samples[int(0.95 * (runs - 1))], 2),
        "max_ms": round(samples[-1], 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--today", type=int, default=5_000)
    parser.add_argument("--kiosks", type=int, default=5)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="today-bench-"))
    settings = Settings.load({"KIOSK_HOME": str(home)})
    store = open_store(settings)
    try:
        started = time.perf_counter()
        fill(store, args.events, args.today, args.kiosks)
        print(f"filled {args.events:,} events in {time.perf_counter() - started:.1f} s")
        today = TodayService(store)
        actor = Actor("bench", Role.AUDITOR)
        view = today.view(actor)
        result = {
            "events": args.events,
            "today": args.today,
            "kiosks": args.kiosks,
            "shown": len(view.events),
            "counts": vars(view.counts),
            "poll": timed(lambda: today.poll(actor), args.runs),
            "view": timed(lambda: today.view(actor), max(10, args.runs // 10)),
        }
    finally:
        store.close()
    print(json.dumps(result, indent=2))
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
