"""A second kiosk process for the Today page's test: opens the database of KIOSK_HOME,
says "ready", then for each line read on stdin (a decision) appends one access event
and says "written <id>"; a line "beat <state>" writes a heartbeat instead."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

from kiosk.config import Settings
from kiosk.domain.access import AccessEvent, Decision
from kiosk.domain.kiosk_state import Heartbeat, KioskState
from kiosk.storage.store import open_store


def main() -> int:
    store = open_store(Settings.load())
    print("ready", flush=True)
    for line in sys.stdin:
        word = line.strip()
        if not word:
            break
        now = datetime.now(UTC)
        with store.unit_of_work(write=True) as uow:
            if word.startswith("beat "):
                state = KioskState(word.removeprefix("beat "))
                uow.kiosks.beat(Heartbeat("second-door", state, now, now, now))
                written = 0
            else:
                event = AccessEvent(now, "second-door", Decision(word), reason="from process 2")
                written = uow.events.append(event)
            uow.commit()
        print(f"written {written}", flush=True)
    store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
