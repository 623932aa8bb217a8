"""The door: what the kiosk does after an ALLOWED decision.

Three kinds: a log-only door (the default: it only writes a log line), an HTTP webhook
(POST of a JSON body, for door controllers and home-automation systems) and a serial
relay (a configured byte string to a serial device). A door never raises: a failure is a
:class:`DoorResult` that the kiosk shows to staff and records.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from kiosk.config import DoorSettings
from kiosk.errors import ConfigError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DoorRequest:
    """Who is let in, for the door controller."""

    kiosk_id: str
    person_id: int
    name: str
    time: datetime  # timezone-aware UTC
    open_seconds: float


@dataclass(frozen=True)
class DoorResult:
    ok: bool
    message: str  # for staff: "webhook: HTTP 500", "serial: /dev/ttyUSB0 missing"


class Door(Protocol):
    def open(self, request: DoorRequest) -> DoorResult:
        """Open the door for ``request.open_seconds``; never raises."""

    def close(self) -> None:
        """Release resources at shutdown (a relay is switched off)."""


class LogDoor:
    """Writes a log line; for kiosks that only record who came."""

    def open(self, request: DoorRequest) -> DoorResult:
        log.info("door: open for %s (%.0f s)", request.name, request.open_seconds)
        return DoorResult(True, "door: logged")

    def close(self) -> None:
        pass


class WebhookDoor:
    """POSTs ``{"event": "open", "kiosk_id", "person_id", "name", "time",
    "open_seconds"}`` as JSON to ``url``; any 2xx answer within ``timeout`` is success."""

    def __init__(self, url: str, timeout: float = 2.0) -> None:
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"door webhook: the url must start with http:// or https://: {url!r}")
        self.url = url
        self.timeout = timeout

    def open(self, request: DoorRequest) -> DoorResult:
        body = json.dumps(
            {
                "event": "open",
                "kiosk_id": request.kiosk_id,
                "person_id": request.person_id,
                "name": request.name,
                "time": request.time.isoformat(),
                "open_seconds": request.open_seconds,
            }
        ).encode()
        http_request = urllib.request.Request(
            self.url, data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(http_request, timeout=self.timeout) as response:
                status = int(response.status)
        except urllib.error.HTTPError as exc:
            return DoorResult(False, f"door webhook answered HTTP {exc.code}")
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            return DoorResult(False, f"door webhook unreachable: {reason}")
        if not 200 <= status < 300:
            return DoorResult(False, f"door webhook answered HTTP {status}")
        return DoorResult(True, "door: webhook ok")

    def close(self) -> None:
        pass


def _hex_bytes(text: str, what: str) -> bytes:
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise ConfigError(f"door: {what} must be hex bytes such as 'A0 01 01 A2'") from None


class SerialRelayDoor:
    """Writes ``open_bytes`` to a serial device, then ``close_bytes`` after the open
    time (from a timer thread, so the caller never waits for the door to close).

    The device is opened with a plain ``os.open``; its line settings (baud rate) are the
    system's (``stty -F /dev/ttyUSB0 9600`` once), so pyserial is not needed."""

    def __init__(self, device: str, open_bytes: str, close_bytes: str) -> None:
        if not device:
            raise ConfigError("door: kind = serial needs serial_device, e.g. /dev/ttyUSB0")
        self.device = device
        self.open_bytes = _hex_bytes(open_bytes, "serial_open")
        self.close_bytes = _hex_bytes(close_bytes, "serial_close")
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None

    def _write(self, data: bytes) -> None:
        fd = os.open(self.device, os.O_WRONLY | os.O_NOCTTY | os.O_NONBLOCK)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)

    def open(self, request: DoorRequest) -> DoorResult:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
            try:
                self._write(self.open_bytes)
            except OSError as exc:
                return DoorResult(False, f"door relay {self.device}: {exc.strerror or exc}")
            self._timer = threading.Timer(request.open_seconds, self._shut)
            self._timer.daemon = True
            self._timer.start()
        return DoorResult(True, "door: relay on")

    def _shut(self) -> None:
        try:
            self._write(self.close_bytes)
        except OSError as exc:
            log.error("door relay %s: cannot switch off: %s", self.device, exc)

    def close(self) -> None:
        with self._lock:
            if self._timer is not None and self._timer.is_alive():
                self._timer.cancel()
                self._shut()  # never leave the door open when the kiosk stops
            self._timer = None


def make_door(settings: DoorSettings) -> Door:
    """The door the settings name (``log``, ``webhook`` or ``serial``)."""
    kind = settings.kind.strip().lower()
    if kind == "log":
        return LogDoor()
    if kind == "webhook":
        return WebhookDoor(settings.url, settings.timeout_seconds)
    if kind == "serial":
        return SerialRelayDoor(settings.serial_device, settings.serial_open, settings.serial_close)
    raise ConfigError(f"door: kind must be log, webhook or serial, not {settings.kind!r}")


class DoorWorker:
    """One daemon thread that runs door jobs in the order given, one at a time, so that a
    slow door (a webhook waiting for its timeout) does not pause recognition.

    The queue is not bounded, but it stays short: a door request follows an ALLOWED
    decision, and there is one decision per attempt. Daemon, so that a door hanging
    beyond every timeout cannot keep the process alive."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._work, name="door", daemon=True)
        self._thread.start()

    def submit(self, job: Callable[[], None]) -> None:
        self._jobs.put(job)

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            try:
                job()
            except Exception:  # the jobs report their own errors; this is the last net
                log.exception("door: the door job failed")

    def close(self, timeout: float) -> bool:
        """Run the jobs already submitted, then end; true when done within ``timeout``."""
        self._jobs.put(None)
        self._thread.join(timeout)
        return not self._thread.is_alive()
