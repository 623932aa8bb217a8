"""Issue 25, item 5: the door. Only a 2xx answer without a redirect opens; a deadline
covers the whole exchange (a controller trickling bytes cannot hold the door queue); the
body can be signed; a serial relay is switched off at start and by a watchdog when the
kiosk process is killed."""

from __future__ import annotations

import hashlib
import hmac
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from kiosk.config import DoorSettings
from kiosk.services.door import DoorRequest, DoorWorker, WebhookDoor, make_door

REQUEST = DoorRequest("kiosk-9", 4, "Ada", datetime(2026, 1, 2, 3, 4, tzinfo=UTC), 0.2)
ROOT = Path(__file__).resolve().parents[2]


class Redirecting(BaseHTTPRequestHandler):
    seen: list[tuple[str, dict[str, str], bytes]] = []

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        type(self).seen.append((self.command, dict(self.headers), self.rfile.read(length)))
        if self.path == "/door":
            self.send_response(302)
            self.send_header("Location", "/opened")
        else:
            self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_POST = do_GET = _answer  # noqa: N815 (http.server's naming)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def redirecting() -> Iterator[str]:
    Redirecting.seen = []
    httpd = HTTPServer(("127.0.0.1", 0), Redirecting)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


def test_a_redirect_is_not_an_opening(redirecting: str) -> None:
    result = WebhookDoor(f"{redirecting}/door").open(REQUEST)
    assert not result.ok and "HTTP 302" in result.message
    assert [s[0] for s in Redirecting.seen] == ["POST"]  # not followed with a GET


def test_the_body_can_be_signed(redirecting: str) -> None:
    secret = b"s" * 32
    assert WebhookDoor(f"{redirecting}/ok", secret=secret).open(REQUEST).ok
    _, headers, body = Redirecting.seen[-1]
    expected = hmac.new(secret, body, hashlib.sha256).hexdigest()
    assert headers["X-Kiosk-Signature"] == f"sha256={expected}"
    WebhookDoor(f"{redirecting}/ok").open(REQUEST)
    assert "X-Kiosk-Signature" not in Redirecting.seen[-1][1]


@pytest.fixture
def trickling() -> Iterator[tuple[str, list[float]]]:
    """A controller that answers one byte every 0.3 s (each read within any per-read
    timeout, the whole answer never)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    requests: list[float] = []
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        with conn:
            conn.recv(65536)
            requests.append(time.monotonic())
            for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n":
                if stop.is_set():
                    return
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    return
                time.sleep(0.3)

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}/door", requests
    stop.set()
    server.close()


def test_a_trickling_controller_does_not_hold_the_door_queue(
    trickling: tuple[str, list[float]],
) -> None:
    url, requests = trickling
    door = WebhookDoor(url, timeout=1.0)
    results: list[bool] = []
    worker = DoorWorker()
    for _ in range(2):  # two people let in one after the other
        worker.submit(lambda: results.append(door.open(REQUEST).ok))
    assert worker.close(8.0)  # the answer alone would take 11 s each
    assert results == [False, False]
    assert len(requests) == 2  # the second request was sent


def test_the_relay_is_switched_off_at_start(tmp_path: Path) -> None:
    relay = tmp_path / "relay"
    relay.write_bytes(bytes.fromhex("A00101A2"))  # left on by a process killed earlier
    door = make_door(DoorSettings(kind="serial", serial_device=str(relay)))
    try:
        assert relay.read_bytes() == bytes.fromhex("A00100A1")
    finally:
        door.close()


KIOSK = """
import sys, time
from datetime import UTC, datetime
from kiosk.config import DoorSettings
from kiosk.services.door import DoorRequest, make_door
door = make_door(DoorSettings(kind="serial", serial_device=sys.argv[1]))
door.open(DoorRequest("k", 1, "Ada", datetime.now(UTC), 600.0))
print("open", flush=True)
time.sleep(600)
"""


def _relay_off_after(tmp_path: Path, stop: Callable[[subprocess.Popen[bytes]], None]) -> None:
    """A kiosk process that opened the serial relay, ended by ``stop``: the relay ends
    switched off (by the watchdog)."""
    relay = tmp_path / "relay"
    relay.write_bytes(b"")
    kiosk = subprocess.Popen(
        [sys.executable, "-c", KIOSK, str(relay)], stdout=subprocess.PIPE, cwd=ROOT
    )
    try:
        assert kiosk.stdout is not None and kiosk.stdout.readline() == b"open\n"
        assert relay.read_bytes() == bytes.fromhex("A00101A2")
        stop(kiosk)
        kiosk.wait(10)
        deadline = time.monotonic() + 10
        while relay.read_bytes() != bytes.fromhex("A00100A1") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert relay.read_bytes() == bytes.fromhex("A00100A1")
    finally:
        if kiosk.poll() is None:
            kiosk.kill()


def test_a_killed_kiosk_leaves_the_relay_off(tmp_path: Path) -> None:
    _relay_off_after(tmp_path, lambda kiosk: os.kill(kiosk.pid, signal.SIGKILL))


def test_a_service_stop_of_the_whole_group_leaves_the_relay_off(tmp_path: Path) -> None:
    """A service manager stops the kiosk by signalling every process of its control
    group (SIGTERM to the kiosk and its watchdog together, whatever their session): the
    watchdog outlives the kiosk and switches the relay off."""

    def stop(kiosk: subprocess.Popen[bytes]) -> None:
        time.sleep(0.5)  # the watchdog has started and set its signals
        children = Path(f"/proc/{kiosk.pid}/task/{kiosk.pid}/children").read_text().split()
        assert children, "no watchdog process"
        for pid in [kiosk.pid, *map(int, children)]:
            os.kill(pid, signal.SIGTERM)

    _relay_off_after(tmp_path, stop)


@pytest.mark.parametrize("url", ["http://door:99999/open", "http://door:abc/open"])
def test_a_webhook_port_that_is_no_port_is_one_line_at_start(url: str) -> None:
    from kiosk.errors import ConfigError

    with pytest.raises(ConfigError, match="port"):
        WebhookDoor(url)
