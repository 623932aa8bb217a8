"""The kiosk's decision times on a video with the message bus's broker up, then down.

    python -m tools.events_kiosk_bench --video door.avi [--seconds 40]

Runs ``main.py kiosk --windowed --camera VIDEO --exit-after SECONDS`` twice in one fresh
home, with ``[events] mqtt`` pointing at a mosquitto started here (up), then at a port
where nothing listens (down), and reads each decision's time from the face's first frame
to the decision (the access log's ``latency_ms``). Prints, per case, the count, the
median, the 90th percentile and the maximum, and the load average: on a busy machine the
spread is the machine's, not the bus's (``tools.events_bench`` times the bus alone).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tools.restart_check import REPO, _main_py, prepare


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(video: Path, env: dict[str, str], kiosk_id: str, url: str, seconds: float) -> None:
    run_env = {**env, "KIOSK_KIOSK_ID": kiosk_id, "KIOSK_EVENTS_MQTT": url}
    subprocess.run(
        [sys.executable, str(REPO / "main.py"), "kiosk", "--windowed", "--camera", str(video)]
        + ["--exit-after", str(seconds)],
        env=run_env,
        cwd=REPO,
        capture_output=True,
        timeout=seconds + 600,
        check=True,
    )


def _line(label: str, times: list[float]) -> str:
    if not times:
        return f"{label:<12} n=0"
    ordered = sorted(times)
    p90 = ordered[int(0.9 * (len(ordered) - 1))]
    return (
        f"{label:<12} n={len(times)}  median {statistics.median(times):7.1f} ms  "
        f"p90 {p90:7.1f} ms  max {ordered[-1]:7.1f} ms"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--video", type=Path, required=True)
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument(
        "--down-first", action="store_true", help="run with the broker down first (the order)"
    )
    args = parser.parse_args(argv)
    mosquitto = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(mosquitto).exists() or not args.video.is_file():
        print("error: needs mosquitto and an existing --video", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="kiosk-bus-") as folder:
        env = prepare(Path(folder) / "home")
        env["QT_QPA_PLATFORM"] = "offscreen"
        down = f"mqtt://127.0.0.1:{_free_port()}"
        if args.down_first:
            _run(args.video, env, "bus-down", down, args.seconds)
        port = _free_port()
        conf = Path(folder) / "mosquitto.conf"
        conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
        broker = subprocess.Popen([mosquitto, "-c", str(conf)], stderr=subprocess.DEVNULL)
        try:
            time.sleep(0.5)
            _run(args.video, env, "bus-up", f"mqtt://127.0.0.1:{port}", args.seconds)
        finally:
            broker.terminate()
            broker.wait(10)
        if not args.down_first:
            _run(args.video, env, "bus-down", down, args.seconds)
        rows = [json.loads(line) for line in _main_py(["log", "list", "--json"], env).splitlines()]
    for kiosk in ("bus-up", "bus-down"):
        times = [
            float(r["latency_ms"])
            for r in rows
            if r["kiosk_id"] == kiosk and r["decision"] != "error" and r["latency_ms"] is not None
        ]
        print(_line(f"broker {kiosk[4:]}", times))
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"load average (1, 5, 15 min): {load}; {os.cpu_count()} CPUs; video {args.video.name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
