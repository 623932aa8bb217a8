"""What systemd's ``Restart=on-failure`` does to the kiosk, done by hand and measured.

    python -m tools.restart_check --video door.avi [--home DIR] [--kills 1]

Runs ``main.py kiosk --windowed --camera VIDEO`` as a child with ``NOTIFY_SOCKET``
pointing at a socket this script reads, as systemd would (``deploy/kiosk.service``:
``Type=notify``, ``WatchdogSec``). It waits until the kiosk is ready and has decided,
kills it with SIGKILL (a crash; the unit restarts on that), starts it again at once, and
times the restart: to ``READY=1`` (models loaded) and to its first decision. Then it
checks the access log: ``log verify`` passes (the hash chain is whole), the rows are
numbered without a gap, every decision the kiosk announced is there, and none twice.

Prints one line per figure, with the machine's load average. A fresh home (a temporary
folder by default) gets an admin account to read the log; nobody is enrolled, so the
faces on the video are decided "denied-unknown" (a decision all the same).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PASSWORD = "Door-Keeper-2026"


@dataclass
class Run:
    """One kiosk process as systemd sees it: the datagrams it sent, when."""

    started: float
    process: subprocess.Popen[bytes]
    ready_at: float | None = None
    decided_at: list[float] = field(default_factory=list)
    pings: int = 0


@dataclass
class Report:
    restart_to_ready_s: float
    restart_to_decision_s: float
    announced: int  # decisions the kiosk announced (STATUS=decisions N), both runs
    logged: int  # decisions in the access log (error rows excluded)
    ids_consecutive: bool
    duplicates: int
    verify_ok: bool
    pings: int


def _main_py(args: list[str], env: dict[str, str], stdin: str = "") -> str:
    done = subprocess.run(
        [sys.executable, str(REPO / "main.py"), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        cwd=REPO,
    )
    if done.returncode != 0:
        raise RuntimeError(f"main.py {args[0]} exited {done.returncode}: {done.stderr[-2000:]}")
    return done.stdout


def kiosk_env(home: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "KIOSK_HOME": str(home),
        "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen"),
        "KIOSK_ADMIN": "chief",
        "KIOSK_KIOSK_ID": "restart-door",
        "KIOSK_DECISION_MAX_FRAMES": "3",
        "KIOSK_SCREEN_SOUNDS": "false",
        "KIOSK_LIVENESS_MODE": "off",  # still photos cannot turn their head
        "KIOSK_DECISION_COOLDOWN_SECONDS": "2",
    }
    env.pop("KIOSK_DATABASE_URL", None)
    env.pop("KIOSK_ADMIN_PASSWORD", None)
    return env


def prepare(home: Path) -> dict[str, str]:
    """A fresh kiosk home with an admin account (to read the log)."""
    env = kiosk_env(home)
    _main_py(["admin", "add", "chief", "--role", "admin", "--password-stdin"], env, PASSWORD)
    env["KIOSK_ADMIN_PASSWORD"] = PASSWORD
    return env


def _start(video: Path, env: dict[str, str], notify: str) -> Run:
    child_env = {**env, "NOTIFY_SOCKET": notify, "WATCHDOG_USEC": "4000000"}
    process = subprocess.Popen(
        [sys.executable, str(REPO / "main.py"), "kiosk", "--windowed", "--camera", str(video)],
        env=child_env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return Run(time.monotonic(), process)


def _listen(sock: socket.socket, run: Run, until: float, decisions: int) -> None:
    """Read the kiosk's notifications until it has announced ``decisions`` decisions in
    this run (or ``until``, a monotonic time, has passed)."""
    while time.monotonic() < until and len(run.decided_at) < decisions:
        if run.process.poll() is not None:
            raise RuntimeError(f"the kiosk exited with {run.process.returncode}")
        sock.settimeout(0.2)
        try:
            data = sock.recv(4096).decode()
        except TimeoutError:
            continue
        now = time.monotonic()
        for line in data.splitlines():
            if line == "READY=1" and run.ready_at is None:
                run.ready_at = now
            elif line == "WATCHDOG=1":
                run.pings += 1
            elif line.startswith("STATUS=decisions "):
                run.decided_at.append(now)


def _drain(sock: socket.socket, run: Run) -> None:
    sock.settimeout(0.2)
    while True:
        try:
            data = sock.recv(4096).decode()
        except TimeoutError:
            return
        run.decided_at += [0.0 for line in data.splitlines() if line.startswith("STATUS=dec")]


def restart_cycle(video: Path, home: Path, *, timeout: float = 300.0) -> Report:
    """Start, SIGKILL after its first decisions, restart, stop cleanly; check the log."""
    env = prepare(home)
    notify = str(home / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(notify)
        first = _start(video, env, notify)
        try:
            _listen(sock, first, time.monotonic() + timeout, decisions=2)
            if len(first.decided_at) < 2:
                raise RuntimeError("the kiosk did not decide twice before the deadline")
        finally:
            first.process.send_signal(signal.SIGKILL)  # a crash: no clean stop at all
            first.process.wait(30)
        _drain(sock, first)  # what it said just before it died is its, not the next run's
        second = _start(video, env, notify)  # Restart=on-failure, RestartSec=0
        try:
            _listen(sock, second, time.monotonic() + timeout, decisions=2)
        finally:
            second.process.send_signal(signal.SIGINT)  # a clean stop this time
            try:
                second.process.wait(60)
            except subprocess.TimeoutExpired:
                second.process.kill()
                second.process.wait(30)
    if second.ready_at is None or not second.decided_at:
        raise RuntimeError("the restarted kiosk did not come back to deciding")
    verify = subprocess.run(
        [sys.executable, str(REPO / "main.py"), "log", "verify"],
        env=env,
        cwd=REPO,
        capture_output=True,
        timeout=300,
    )
    rows = [
        json.loads(line)
        for line in _main_py(["log", "list", "--json", "--limit", "10000"], env).splitlines()
    ]
    rows.sort(key=lambda row: int(row["id"]))
    decisions = [row for row in rows if row["decision"] != "error"]
    keys = [(row["time_utc"], row["decision"], row["person_id"]) for row in decisions]
    return Report(
        restart_to_ready_s=second.ready_at - second.started,
        restart_to_decision_s=second.decided_at[0] - second.started,
        announced=len(first.decided_at) + len(second.decided_at),
        logged=len(decisions),
        ids_consecutive=[int(r["id"]) for r in rows] == list(range(1, len(rows) + 1)),
        duplicates=len(keys) - len(set(keys)),
        verify_ok=verify.returncode == 0,
        pings=first.pings + second.pings,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--video", type=Path, required=True, help="the camera: a video file")
    parser.add_argument("--home", type=Path, help="a fresh kiosk home (default: a temporary one)")
    args = parser.parse_args(argv)
    if not args.video.is_file():
        print(f"error: no video at {args.video}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="kiosk-restart-") as temporary:
        home = args.home or Path(temporary)
        try:
            report = restart_cycle(args.video, home)
        except RuntimeError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"load average (1, 5, 15 min): {load}; {os.cpu_count()} CPUs")
    print(f"SIGKILL, restart -> READY=1 (models loaded): {report.restart_to_ready_s:.1f} s")
    print(f"SIGKILL, restart -> first decision: {report.restart_to_decision_s:.1f} s (n=1)")
    print(f"decisions announced {report.announced}, in the access log {report.logged}")
    print(
        f"log: ids consecutive {report.ids_consecutive}, duplicates {report.duplicates}, "
        f"log verify {'ok' if report.verify_ok else 'FAILED'}; watchdog pings {report.pings}"
    )
    ok = (
        report.verify_ok
        and report.ids_consecutive
        and report.duplicates == 0
        and report.announced <= report.logged <= report.announced + 1
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
