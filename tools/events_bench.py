"""What the message bus adds to a decision, with the broker up and with it down.

    python -m tools.events_bench [--decisions 5000]

The bus is on the recognition thread's path in one place: each message the loop emits
is also handed to :meth:`kiosk.services.events.EventBus.observe` (``kiosk/ui/kiosk_app.py``),
which only queues. This times that call for each decision (a ``Decided``, what the kiosk
emits when it decides), against a real mosquitto started here on loopback:

- broker up: the queue is drained by the sending thread as the decisions come;
- broker down, queue not full: nobody listens on the port;
- broker down, queue full: the oldest messages are dropped (and counted).

Prints the count, the median, the 99th percentile and the maximum, in microseconds, and
the load average. Recognition itself (hundreds of milliseconds a frame on a CPU) is not
in these figures: they are the bus's share only.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from kiosk.config import EventsSettings
from kiosk.domain.access import Decision
from kiosk.services.events import EventBus
from kiosk.services.loop_messages import Decided


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _times(bus: EventBus, count: int) -> list[float]:
    when = datetime.now(UTC)
    spent = []
    for i in range(count):
        decided = Decided(Decision.ALLOWED, "Welcome", "Ada", 7, 0.41, 350.0, when, attempt=i)
        start = time.perf_counter()
        bus.observe(decided)
        spent.append((time.perf_counter() - start) * 1e6)
    return spent


def _line(label: str, spent: list[float], bus: EventBus) -> str:
    ordered = sorted(spent)
    p99 = ordered[int(0.99 * (len(ordered) - 1))]
    return (
        f"{label:<32} n={len(spent)}  median {statistics.median(spent):7.1f} us  "
        f"p99 {p99:7.1f} us  max {ordered[-1]:8.1f} us  (lost {bus.lost}, sent {bus.sent})"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--decisions", type=int, default=5000)
    args = parser.parse_args(argv)
    mosquitto = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(mosquitto).exists():
        print("error: mosquitto is not installed (apt-get install mosquitto)", file=sys.stderr)
        return 2
    n = args.decisions
    with tempfile.TemporaryDirectory() as folder:
        port = _free_port()
        conf = Path(folder) / "mosquitto.conf"
        conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
        broker = subprocess.Popen([mosquitto, "-c", str(conf)], stderr=subprocess.DEVNULL)
        try:
            time.sleep(0.5)
            up = EventBus(
                EventsSettings(mqtt=f"mqtt://127.0.0.1:{port}", queue_size=2 * n + 10), "bench"
            )
            up.start()
            deadline = time.monotonic() + 10
            while not up.connected and time.monotonic() < deadline:
                time.sleep(0.05)
            up_times = _times(up, n)
            up.flush(30)
            print(_line("broker up", up_times, up))
            up.close()
        finally:
            broker.terminate()
            broker.wait(10)
    down_port = _free_port()  # nobody listens there
    roomy = EventBus(
        EventsSettings(mqtt=f"mqtt://127.0.0.1:{down_port}", queue_size=2 * n + 10), "bench"
    )
    roomy.start()
    print(_line("broker down, queue not full", _times(roomy, n), roomy))
    full = EventBus(EventsSettings(mqtt=f"mqtt://127.0.0.1:{down_port}", queue_size=100), "bench")
    full.start()
    print(_line("broker down, queue full", _times(full, n), full))
    for bus in (roomy, full):
        bus.close(timeout=0.1)
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"load average (1, 5, 15 min): {load}; {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
