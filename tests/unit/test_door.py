"""Doors: log-only, a webhook against a real HTTP server on loopback, a serial relay."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from kiosk.config import DoorSettings
from kiosk.errors import ConfigError
from kiosk.services.door import (
    DoorRequest,
    LogDoor,
    SerialRelayDoor,
    WebhookDoor,
    make_door,
)

REQUEST = DoorRequest("kiosk-9", 4, "Ada", datetime(2026, 1, 2, 3, 4, tzinfo=UTC), 0.2)


class Recorder(BaseHTTPRequestHandler):
    bodies: list[dict[str, object]] = []
    status = 200
    delay = 0.0

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        length = int(self.headers["Content-Length"])
        type(self).bodies.append(json.loads(self.rfile.read(length)))
        time.sleep(type(self).delay)
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[HTTPServer]:
    Recorder.bodies, Recorder.status, Recorder.delay = [], 200, 0.0
    httpd = HTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


def _url(httpd: HTTPServer) -> str:
    return f"http://127.0.0.1:{httpd.server_address[1]}/door"


def test_webhook_posts_json(server: HTTPServer) -> None:
    result = WebhookDoor(_url(server)).open(REQUEST)
    assert result.ok, result.message
    assert Recorder.bodies == [
        {
            "event": "open",
            "kiosk_id": "kiosk-9",
            "person_id": 4,
            "name": "Ada",
            "time": "2026-01-02T03:04:00+00:00",
            "open_seconds": 0.2,
        }
    ]


def test_webhook_failures_are_results_not_exceptions(server: HTTPServer) -> None:
    Recorder.status = 500
    result = WebhookDoor(_url(server)).open(REQUEST)
    assert not result.ok and "HTTP 500" in result.message
    Recorder.status, Recorder.delay = 200, 1.0
    started = time.monotonic()
    result = WebhookDoor(_url(server), timeout=0.2).open(REQUEST)
    assert not result.ok and "unreachable" in result.message
    assert time.monotonic() - started < 0.9  # the timeout, not the server, decided
    Recorder.delay = 0.0
    port = server.server_address[1]
    server.shutdown()
    server.server_close()
    result = WebhookDoor(f"http://127.0.0.1:{port}/door").open(REQUEST)
    assert not result.ok and "unreachable" in result.message


def test_serial_relay_writes_open_then_close_bytes(tmp_path: Path) -> None:
    fifo = tmp_path / "relay"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # stands in for the relay
    try:
        door = SerialRelayDoor(str(fifo), "A0 01 01 A2", "A00100A1")
        assert door.open(REQUEST).ok
        assert os.read(reader, 16) == bytes.fromhex("A00101A2")
        time.sleep(0.5)  # open_seconds is 0.2
        assert os.read(reader, 16) == bytes.fromhex("A00100A1")
        door.close()
    finally:
        os.close(reader)


def test_serial_relay_missing_port_is_reported(tmp_path: Path) -> None:
    result = SerialRelayDoor(str(tmp_path / "ttyUSB9"), "01", "00").open(REQUEST)
    assert not result.ok and "ttyUSB9" in result.message


def test_make_door_from_settings() -> None:
    assert isinstance(make_door(DoorSettings()), LogDoor)
    assert LogDoor().open(REQUEST).ok
    assert isinstance(make_door(DoorSettings(kind="webhook", url="http://x/")), WebhookDoor)
    with pytest.raises(ConfigError):
        make_door(DoorSettings(kind="webhook", url="ftp://x"))
    with pytest.raises(ConfigError):
        make_door(DoorSettings(kind="serial"))
    with pytest.raises(ConfigError):
        make_door(DoorSettings(kind="trapdoor"))
