"""The kiosk's events on the building's message bus (MQTT, ``[events] mqtt``).

Topics, for ``[events] topic = "kiosk"`` and kiosk ``north-door``:

- ``kiosk/north-door/event``: every decision and every change of the kiosk's state, one
  JSON object each (``{"type": "decision", ...}``, ``{"type": "camera-lost", ...}``);
  QoS 1, not retained. No face image, ever.
- ``kiosk/north-door/state``: the kiosk's state, retained (``{"state": "running", ...}``);
  the broker publishes ``{"state": "offline"}`` there when the kiosk vanishes (its will).
- ``kiosk/north-door/decision``: the last decision, retained.
- Home Assistant MQTT discovery (``homeassistant/sensor/<kiosk>_state/config`` and
  ``..._decision/config``), retained, so both appear as sensors by themselves.

A broker that is down never slows the door: :meth:`EventBus.publish` puts the message in
a bounded queue and returns; one thread sends them when the broker is there. When the
queue is full the oldest message is dropped and counted; staff see the count
(:meth:`EventBus.staff_line`), and it is in the retained state.
"""

from __future__ import annotations

import collections
import contextlib
import json
import logging
import os
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kiosk.config import EventsSettings
from kiosk.domain.access import Decision
from kiosk.errors import ConfigError
from kiosk.services.loop_messages import Decided, DoorReport, LoopReady, Notice

log = logging.getLogger(__name__)

PASSWORD_ENV = "KIOSK_MQTT_PASSWORD"
#: paho's MQTT_ERR_QUEUE_SIZE: the client's own queue is full
QUEUE_FULL = 15
#: messages sent and not yet acknowledged before the sending thread waits for the broker
WINDOW = 100


@dataclass(frozen=True)
class Outgoing:
    topic: str
    payload: str
    retain: bool = False


@dataclass(frozen=True)
class Broker:
    host: str
    port: int
    tls: bool


def parse_broker(url: str) -> Broker:
    """``mqtt://host[:port]`` (1883) or ``mqtts://host[:port]`` (8883); one line if not."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise ConfigError(f"events mqtt must be mqtt://host[:port] or mqtts://..., not {url!r}")
    if parts.username or parts.password:
        raise ConfigError(
            "events mqtt: no user or password in the url; use username and "
            f"{PASSWORD_ENV} or password_file"
        )
    try:
        port = parts.port
    except ValueError:
        raise ConfigError(f"events mqtt: the url's port is not a port: {url!r}") from None
    tls = parts.scheme == "mqtts"
    return Broker(parts.hostname, port or (8883 if tls else 1883), tls)


def broker_password(settings: EventsSettings, env: dict[str, str] | None = None) -> str | None:
    """The broker's password: ``KIOSK_MQTT_PASSWORD``, else the first line of
    ``password_file`` (which other users must not be able to read); ``None``: none."""
    env = dict(os.environ) if env is None else env
    if env.get(PASSWORD_ENV):
        return env[PASSWORD_ENV]
    if not settings.password_file:
        return None
    path = Path(settings.password_file).expanduser()
    try:
        if path.stat().st_mode & 0o077:
            raise ConfigError(f"events password_file {path} is readable by others: chmod 600")
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"events password_file: cannot read {path}: {exc}") from None
    return lines[0] if lines else ""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class EventBus:
    """MQTT publisher with a bounded queue; see the module's docstring. Build it, then
    :meth:`start`; :meth:`observe` takes the recognition loop's messages."""

    def __init__(
        self,
        settings: EventsSettings,
        kiosk_id: str,
        *,
        password: str | None = None,
        on_change: Callable[[str | None], None] | None = None,
    ) -> None:
        self.settings = settings
        self.kiosk_id = kiosk_id
        self.broker = parse_broker(settings.mqtt)
        self.password = password
        self.on_change = on_change  # called with staff_line() when it changes
        base = f"{settings.topic}/{kiosk_id}"
        self.topics = {
            "event": f"{base}/event",
            "state": f"{base}/state",
            "decision": f"{base}/decision",
        }
        self.lost = 0  # messages dropped because the queue was full
        self.sent = 0
        self.connected = False
        self.state = "starting"
        self._queue: collections.deque[Outgoing] = collections.deque()
        self._lock = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._client: Any = None
        self._pending: collections.deque[Any] = collections.deque()  # sent, not yet acked
        self._last_line: str | None = None

    # -- the decision path: never waits --------------------------------------------------

    def publish(self, item: Outgoing) -> None:
        """Queue ``item``; returns at once. A full queue drops its oldest (counted)."""
        with self._lock:
            if len(self._queue) >= self.settings.queue_size:
                self._queue.popleft()
                self.lost += 1
            self._queue.append(item)
            self._lock.notify()
        if self.lost:
            self._report()

    def event(self, kind: str, **fields: Any) -> None:
        """One event on the event topic: ``{"type": kind, "kiosk_id", "time", ...}``."""
        body = {"type": kind, "kiosk_id": self.kiosk_id, "time": _now(), **fields}
        self.publish(Outgoing(self.topics["event"], json.dumps(body)))

    def set_state(self, state: str, kind: str, **fields: Any) -> None:
        """The kiosk's retained state (``running``, ``camera-lost``, ``stopped``), and the
        event ``kind`` that changed it (``started``, ``camera-lost``, ``camera-back``...)."""
        self.state = state
        self.event(kind, **fields)
        self.publish(Outgoing(self.topics["state"], self._state_body(), retain=True))

    def _state_body(self) -> str:
        return json.dumps(
            {"state": self.state, "kiosk_id": self.kiosk_id, "time": _now(), "lost": self.lost}
        )

    def observe(self, message: object) -> None:
        """The recognition loop's message, as events (the others are not for the bus)."""
        match message:
            case Decided():
                body = {
                    "decision": message.decision.value,
                    "allowed": message.allowed,
                    "name": message.name,
                    "person_id": message.person_id,
                    "distance": round(message.distance, 4)
                    if message.distance == message.distance and message.distance != float("inf")
                    else None,
                    "since_face_ms": message.since_face_ms,
                    "attempt": message.attempt,
                    "decided_at": message.time.isoformat(),
                    "door_failed": message.door_failed,
                }
                self.event("decision", **body)
                self.publish(
                    Outgoing(
                        self.topics["decision"],
                        json.dumps({"kiosk_id": self.kiosk_id, **body}),
                        retain=True,
                    )
                )
                if message.decision is Decision.DENIED_SPOOF:
                    self.event("liveness-failed", person_id=message.person_id)
            case DoorReport() if not message.ok:
                self.event("door-failed", message=message.message, person_id=message.person_id)
            case LoopReady() if self.state == "starting":  # (again when the gallery reloads)
                self.set_state("running", "started", device=message.device, model=message.model)
            case Notice():
                self.event("notice", message=message.message, fatal=message.fatal)

    def camera(self, online: bool, detail: str = "") -> None:
        """The camera was lost (``online`` false) or is back."""
        if online:
            self.set_state("running", "camera-back", detail=detail)
        else:
            self.set_state("camera-lost", "camera-lost", detail=detail)

    def watch_camera(self, status: Callable[[], tuple[bool, str]]) -> None:
        """Follow the camera's ``status()`` (online, message) from a daemon thread and
        publish each change."""

        def follow() -> None:
            online = True
            while not self._stop.wait(0.5):
                now, detail = status()
                if now != online:
                    online = now
                    self.camera(now, detail)

        threading.Thread(target=follow, name="events-camera", daemon=True).start()

    def staff_line(self) -> str | None:
        """What staff see about the bus: ``None`` when all is well."""
        where = f"{self.broker.host}:{self.broker.port}"
        if self.lost:
            why = f"queue of {self.settings.queue_size} full"
            if not self.connected:
                why += f"; broker {where} unreachable"
            return f"message bus: {self.lost} events lost ({why})"
        if not self.connected and self.sent == 0 and self.state != "starting":
            return f"message bus: broker {where} not reached yet"
        return None

    def _report(self) -> None:
        line = self.staff_line()
        if line != self._last_line:
            self._last_line = line
            if self.on_change is not None:
                self.on_change(line)

    # -- the sending thread --------------------------------------------------------------

    def start(self) -> None:
        """Connect in the background (never waits for the broker) and start sending."""
        import paho.mqtt.client as mqtt

        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=f"kiosk-{self.kiosk_id}",
            clean_session=False,  # QoS 1 messages in flight are sent again on reconnect
        )
        if self.settings.username:
            client.username_pw_set(self.settings.username, self.password)
        if self.broker.tls:
            client.tls_set(ca_certs=self.settings.ca_file or None, cert_reqs=ssl.CERT_REQUIRED)
        offline = json.dumps({"state": "offline", "kiosk_id": self.kiosk_id})
        client.will_set(self.topics["state"], offline, qos=1, retain=True)
        client.reconnect_delay_set(min_delay=1, max_delay=10)
        # what the client holds itself (sent, not yet acknowledged; or caught by a lost
        # connection) is bounded too
        client.max_queued_messages_set(self.settings.queue_size + WINDOW)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        self._client = client
        client.connect_async(self.broker.host, self.broker.port, keepalive=30)
        client.loop_start()
        self._thread = threading.Thread(target=self._send, name="events", daemon=True)
        self._thread.start()

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, *args: Any) -> None:
        if getattr(reason, "is_failure", False):
            log.error("events: the broker refused the connection: %s", reason)
            return
        with self._lock:
            self.connected = True
            self._lock.notify()
        if self.settings.discovery:
            for item in self._discovery():
                client.publish(item.topic, item.payload, qos=1, retain=True)
        # the state again: the broker may have published the will meanwhile
        client.publish(self.topics["state"], self._state_body(), qos=1, retain=True)
        self._report()

    def _on_disconnect(
        self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        with self._lock:
            self.connected = False
        self._report()

    def _send(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                while not self._stop.is_set() and not (self._queue and self.connected):
                    self._lock.wait(0.1 if self._pending else 0.5)
                    self._settle(wait=False)  # count the acks (never waits: the lock is held)
                    self._report()  # (a broker never reached is news for staff too)
                if self._stop.is_set() and not (self._queue and self.connected):
                    return
                item = self._queue.popleft()
            info = self._client.publish(item.topic, item.payload, qos=1, retain=item.retain)
            if info.rc == QUEUE_FULL:  # (the client's own bound: see start())
                self.lost += 1
                self._report()
                continue
            if info.rc == 0:
                self._pending.append(info)
            else:
                # NO_CONN (the connection went meanwhile): a QoS 1 message stays with
                # the client, which sends it on reconnecting; queueing it again here
                # would double it
                self.sent += 1
                with self._lock:
                    self.connected = self._client.is_connected()
            self._settle()

    def _settle(self, *, wait: bool = True) -> None:
        """Count what the broker acknowledged; with :data:`WINDOW` messages still
        unacknowledged, wait for the oldest (this thread only: the decisions only queue),
        so that the client's own backlog stays small."""
        while self._pending:
            oldest = self._pending[0]
            if not oldest.is_published():
                if not wait or len(self._pending) < WINDOW or self._stop.is_set():
                    return
                with contextlib.suppress(RuntimeError, ValueError):
                    oldest.wait_for_publish(0.5)
                if not oldest.is_published():
                    return  # the broker is slow or gone; the client resends on reconnect
            self._pending.popleft()
            self.sent += 1

    def flush(self, timeout: float) -> bool:
        """Wait until the queue is empty and the broker acknowledged every message sent
        (tests, stop); false after ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                empty = not self._queue
            if empty and not self._pending:  # the sending thread counted every ack
                return True
            time.sleep(0.05)
        return False

    def close(self, timeout: float = 2.0) -> None:
        """Publish ``stopped``, send what is queued within ``timeout``, disconnect."""
        if self._client is None:
            return
        self.set_state("stopped", "stopped")
        if self.connected:
            self.flush(timeout)
        self._stop.set()
        with self._lock:
            self._lock.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
        self._client.disconnect()
        self._client.loop_stop()
        self._client = None

    def _discovery(self) -> list[Outgoing]:
        """Home Assistant MQTT discovery: the kiosk's state and its last decision."""
        device = {
            "identifiers": [f"kiosk_{self.kiosk_id}"],
            "name": f"Face kiosk {self.kiosk_id}",
            "manufacturer": "kiosk",
        }
        unique = f"kiosk_{self.kiosk_id}".replace("-", "_").replace(" ", "_")
        sensors = {
            "state": {
                "name": "State",
                "state_topic": self.topics["state"],
                "value_template": "{{ value_json.state }}",
                "json_attributes_topic": self.topics["state"],
            },
            "decision": {
                "name": "Last decision",
                "state_topic": self.topics["decision"],
                "value_template": "{{ value_json.decision }}",
                "json_attributes_topic": self.topics["decision"],
            },
        }
        prefix = self.settings.discovery_prefix
        return [
            Outgoing(
                f"{prefix}/sensor/{unique}_{key}/config",
                json.dumps({**config, "unique_id": f"{unique}_{key}", "device": device}),
                retain=True,
            )
            for key, config in sensors.items()
        ]


def make_event_bus(
    settings: EventsSettings, kiosk_id: str, on_change: Callable[[str | None], None] | None = None
) -> EventBus | None:
    """The configured bus, started; ``None`` when ``[events] mqtt`` is empty."""
    if not settings.mqtt:
        return None
    bus = EventBus(settings, kiosk_id, password=broker_password(settings), on_change=on_change)
    bus.start()
    return bus
