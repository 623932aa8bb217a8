"""A real MQTT broker for the tests: Debian's mosquitto on a free loopback port, with no
persistence, started and stopped by the test (``.ci/run`` installs the package)."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MOSQUITTO = shutil.which("mosquitto") or (
    "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def broker(folder: Path, port: int | None = None) -> Iterator[int]:
    """mosquitto listening on 127.0.0.1:``port`` (a free one by default). Its state is
    kept in ``folder`` across a stop and a start on the same port, as a real broker's:
    a subscriber's persistent session (see :func:`listening`) gets what was published
    while it was away, so a test never races a publisher to subscribe."""
    assert MOSQUITTO is not None
    port = port or free_port()
    conf = folder / f"mosquitto-{port}.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\n"
        f"persistence true\npersistence_location {folder}/\n"
        f"persistence_file mosquitto-{port}.db\n"
    )
    process = subprocess.Popen(
        [MOSQUITTO, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"mosquitto did not start: {process.stderr!r}") from None
                time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        process.wait(10)


@dataclass
class Listener:
    """A subscriber to ``topic`` (``#`` wildcards allowed): every message, decoded."""

    messages: list[tuple[str, Any, bool]] = field(default_factory=list)  # topic, json, retained
    lock: threading.Lock = field(default_factory=threading.Lock)

    def on_message(self, client: Any, userdata: Any, message: Any) -> None:
        with self.lock:
            self.messages.append(
                (message.topic, json.loads(message.payload.decode()), bool(message.retain))
            )

    def on(self, topic: str) -> list[Any]:
        with self.lock:
            return [body for t, body, _ in self.messages if t == topic]

    def wait(self, topic: str, count: int, timeout: float = 10.0) -> list[Any]:
        deadline = time.monotonic() + timeout
        while len(self.on(topic)) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.on(topic)


@contextmanager
def listening(port: int, topic: str = "#", session: str | None = None) -> Iterator[Listener]:
    """A subscriber; with ``session`` (a client id) a persistent one, which the broker
    keeps (and queues for) between two ``listening`` blocks."""
    import paho.mqtt.client as mqtt

    listener = Listener()
    if session is None:
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    else:
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=session, clean_session=False
        )
    subscribed = threading.Event()
    client.on_message = listener.on_message
    client.on_subscribe = lambda *args: subscribed.set()
    client.connect("127.0.0.1", port)
    client.subscribe(topic, qos=1)
    client.loop_start()
    try:
        if not subscribed.wait(10):
            raise RuntimeError("the test's subscriber was not subscribed")
        yield listener
    finally:
        client.disconnect()
        client.loop_stop()
