"""The door: what the kiosk does after an ALLOWED decision.

Three kinds: a log-only door (the default: it only writes a log line), an HTTP webhook
(POST of a JSON body, for door controllers and home-automation systems) and a serial
relay (a configured byte string to a serial device). A door never raises: a failure is a
:class:`DoorResult` that the kiosk shows to staff and records.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import http.client
import json
import logging
import os
import queue
import socket
import subprocess
import sys
import threading
import urllib.parse
from collections.abc import Callable
from typing import TYPE_CHECKING

from kiosk.config import DoorSettings
from kiosk.errors import ConfigError
from kiosk.services.door_types import Door, DoorRequest, DoorResult

if TYPE_CHECKING:
    from kiosk.config import Settings
    from kiosk.services.accounts import Actor
    from kiosk.storage.store import Store

log = logging.getLogger(__name__)

__all__ = ["Door", "DoorRequest", "DoorResult", "DoorWorker", "make_door"]


class LogDoor:
    """Writes a log line; for kiosks that only record who came."""

    def open(self, request: DoorRequest) -> DoorResult:
        log.info("door: open for %s (%.0f s)", request.name, request.open_seconds)
        return DoorResult(True, "door: logged")

    def close(self) -> None:
        pass


class WebhookDoor:
    """POSTs ``{"event": "open", "kiosk_id", "person_id", "name", "time",
    "open_seconds"}`` as JSON to ``url``. Only a 2xx answer is success: a redirect is not
    followed (a controller that answers 302 did not open), and the whole exchange, from
    connecting to the last byte of the status and headers, must end within ``timeout``
    (a controller trickling one byte at a time cannot hold the door queue).

    With ``secret``, the body is signed: ``X-Kiosk-Signature: sha256=<hex HMAC-SHA256 of
    the body>``; the body's ``time`` lets the controller refuse a replayed request."""

    def __init__(self, url: str, timeout: float = 2.0, secret: bytes | None = None) -> None:
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"door webhook: the url must start with http:// or https://: {url!r}")
        parts = urllib.parse.urlsplit(url)
        if not parts.hostname:
            raise ConfigError(f"door webhook: the url names no host: {url!r}")
        try:
            parts.port  # noqa: B018 - a port out of range or not a number raises here
        except ValueError:
            raise ConfigError(f"door webhook: the url's port is not a port: {url!r}") from None
        self.url = url
        self.timeout = timeout
        self.secret = secret

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
        headers = {"Content-Type": "application/json"}
        if self.secret is not None:
            digest = hmac.new(self.secret, body, hashlib.sha256).hexdigest()
            headers["X-Kiosk-Signature"] = f"sha256={digest}"
        outcome: list[DoorResult] = []
        connections: list[http.client.HTTPConnection] = []
        done = threading.Event()

        def exchange() -> None:
            try:
                outcome.append(self._exchange(body, headers, connections))
            except (OSError, http.client.HTTPException) as exc:
                outcome.append(DoorResult(False, f"door webhook unreachable: {exc}"))
            finally:
                done.set()

        threading.Thread(target=exchange, name="door-webhook", daemon=True).start()
        if not done.wait(self.timeout) or not outcome:
            for connection in connections:  # unblock the exchange: it ends at once
                sock = connection.sock
                if sock is not None:
                    with contextlib.suppress(OSError):
                        sock.shutdown(socket.SHUT_RDWR)
            return DoorResult(
                False, f"door webhook unreachable: no complete answer within {self.timeout:g} s"
            )
        return outcome[0]

    def _exchange(
        self, body: bytes, headers: dict[str, str], connections: list[http.client.HTTPConnection]
    ) -> DoorResult:
        parts = urllib.parse.urlsplit(self.url)
        kind = (
            http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        )
        connection = kind(parts.hostname or "", parts.port, timeout=self.timeout)
        connections.append(connection)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            connection.request("POST", path, body=body, headers=headers)
            status = int(connection.getresponse().status)
        finally:
            connection.close()
        if 300 <= status < 400:
            return DoorResult(
                False, f"door webhook answered HTTP {status}: a redirect, not followed"
            )
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
        self._watchdog: subprocess.Popen[bytes] | None = None

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

    def start(self) -> None:
        """At the kiosk's start: switch the relay off (a process killed while the door was
        open never sent the "off" bytes) and start the watchdog, a small process that
        sends them if this one dies without closing the door (``kill -9``, a crash)."""
        self._shut()
        if self._watchdog is None:
            try:
                self._watchdog = subprocess.Popen(
                    [sys.executable, "-m", "kiosk.services.relay_watchdog", self.device],
                    stdin=subprocess.PIPE,
                    env={**os.environ, "KIOSK_RELAY_OFF": self.close_bytes.hex()},
                    start_new_session=True,  # a Ctrl-C to the kiosk does not stop it first
                )
            except OSError as exc:
                log.error("door relay %s: no watchdog: %s", self.device, exc)

    def close(self) -> None:
        with self._lock:
            if self._timer is not None and self._timer.is_alive():
                self._timer.cancel()
                self._shut()  # never leave the door open when the kiosk stops
            self._timer = None
        watchdog, self._watchdog = self._watchdog, None
        if watchdog is not None and watchdog.stdin is not None:
            watchdog.stdin.close()  # it switches the relay off once more, and ends
            with contextlib.suppress(subprocess.TimeoutExpired):
                watchdog.wait(5)


def make_door(
    settings: DoorSettings, *, secret: bytes | None = None, osdp_key: bytes | None = None
) -> Door:
    """The door the settings name (``log``, ``webhook``, ``serial`` or ``osdp``), ready: a
    relay is switched off and watched (:meth:`SerialRelayDoor.start`), an OSDP reader
    answers the panel. ``secret``: the webhook's signing key (``[door] sign``);
    ``osdp_key``: the OSDP Secure Channel key (``kiosk.storage.osdp_key``)."""
    kind = settings.kind.strip().lower()
    if kind == "log":
        return LogDoor()
    if kind == "webhook":
        return WebhookDoor(settings.url, settings.timeout_seconds, secret)
    if kind == "serial":
        door = SerialRelayDoor(settings.serial_device, settings.serial_open, settings.serial_close)
        door.start()
        return door
    if kind == "osdp":
        from kiosk.services.door_osdp import make_osdp_door

        return make_osdp_door(settings, osdp_key)
    raise ConfigError(f"door: kind must be log, webhook, serial or osdp, not {settings.kind!r}")


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


def reveal_door_secret(store: Store, settings: Settings, actor: Actor) -> str:
    """The webhook's signing secret (hex) for the door controller's set-up; admins
    only, and recorded as an operator's action."""
    from kiosk.storage.records import Role
    from kiosk.storage.store import door_secret

    actor.require(Role.ADMIN)
    secret = door_secret(settings).hex()
    with store.unit_of_work(write=True) as uow:
        uow.audit.record(actor.username, "door-secret", "", shown=True)
        uow.commit()
    return secret
