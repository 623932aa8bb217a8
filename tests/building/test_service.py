"""Issue 27, item 3: the systemd unit and the kiosk's sd_notify heartbeat (over a real
Unix datagram socket, as systemd listens)."""

from __future__ import annotations

import configparser
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kiosk.domain.access import Decision
from kiosk.services.loop_messages import Analysis, Decided, LoopReady, LoopState
from kiosk.services.sd_notify import SystemdNotifier

REPO = Path(__file__).resolve().parents[2]


def test_the_unit_restarts_on_failure_with_a_watchdog_in_the_graphical_session() -> None:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read(REPO / "deploy" / "kiosk.service")
    service = unit["Service"]
    assert service["Type"] == "notify" and service["Restart"] == "on-failure"
    assert int(service["WatchdogSec"]) > 0
    assert service["KillSignal"] == "SIGINT"  # the kiosk's clean stop
    assert "main.py kiosk" in service["ExecStart"]
    assert unit["Install"]["WantedBy"] == "graphical-session.target"
    assert unit["Unit"]["PartOf"] == "graphical-session.target"


@pytest.fixture
def systemd(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    path = str(tmp_path / "notify")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(path)
        sock.settimeout(2)
        yield sock, path


def _analysis(seq: int) -> Analysis:
    return Analysis(seq, 640, 480, (), None, LoopState.IDLE, 50.0, 10.0)


def test_ready_then_a_ping_per_recognised_frame_at_most_twice_a_period(
    systemd: tuple[socket.socket, str],
) -> None:
    sock, path = systemd
    clock = [0.0]
    beat = SystemdNotifier(
        {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "2000000"}, clock=lambda: clock[0]
    )
    assert beat.interval == 1.0
    beat.observe(LoopReady("cpu", "sface 1", 3))
    assert sock.recv(100).decode().splitlines()[0] == "READY=1"
    for i in range(30):  # 3 s of frames at 10 a second
        beat.observe(_analysis(i))
        clock[0] += 0.1
    assert beat.pings == 3
    assert [sock.recv(100) for _ in range(3)] == [b"WATCHDOG=1"] * 3
    when = datetime(2026, 1, 1, tzinfo=UTC)
    beat.observe(Decided(Decision.ALLOWED, "Welcome", "Ada", 7, 0.4, 300.0, when))
    assert sock.recv(100) == b"STATUS=decisions 1, last allowed"
    beat.stopping()
    assert sock.recv(100) == b"STOPPING=1"


def test_no_frames_no_pings(systemd: tuple[socket.socket, str]) -> None:
    """A hung camera or model: the loop recognises nothing, so nothing is sent, and
    systemd's watchdog restarts the kiosk."""
    sock, path = systemd
    beat = SystemdNotifier({"NOTIFY_SOCKET": path})
    beat.observe(LoopReady("cpu", "sface 1", 3))
    sock.recv(100)
    beat.observe(LoopReady("cpu", "sface 1", 3))  # a gallery reload is not a frame
    sock.settimeout(0.3)
    with pytest.raises(TimeoutError):
        sock.recv(100)
    assert beat.pings == 0


def test_without_systemd_it_does_nothing_and_a_gone_socket_is_not_an_error(
    tmp_path: Path,
) -> None:
    assert not SystemdNotifier({}).notify("READY=1")
    beat = SystemdNotifier({"NOTIFY_SOCKET": str(tmp_path / "gone")})
    beat.observe(_analysis(1))  # logged once, never raised
    assert not beat.enabled
    assert not SystemdNotifier({"NOTIFY_SOCKET": "/x", "WATCHDOG_PID": "1"}).enabled  # not ours
