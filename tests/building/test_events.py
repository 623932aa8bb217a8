"""Issue 27, item 2: events on MQTT, against a real mosquitto the tests start."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kiosk.config import EventsSettings, Settings
from kiosk.domain.access import Decision
from kiosk.errors import ConfigError
from kiosk.services.events import EventBus, broker_password, parse_broker
from kiosk.services.loop_messages import Decided, DoorReport, LoopReady
from tests.support.mosquitto import MOSQUITTO, broker, free_port, listening

needs_broker = pytest.mark.skipif(
    MOSQUITTO is None, reason="mosquitto is not installed (apt-get install mosquitto)"
)

WHEN = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def _decided(i: int, decision: Decision = Decision.ALLOWED) -> Decided:
    return Decided(decision, "Welcome", "Ada", 7, 0.41, 350.0, WHEN, attempt=i)


def _bus(port: int, **settings: object) -> EventBus:
    events = EventsSettings(mqtt=f"mqtt://127.0.0.1:{port}", **settings)  # type: ignore[arg-type]
    return EventBus(events, "north-door")


@needs_broker
def test_every_decision_and_state_change_reaches_the_broker(tmp_path: Path) -> None:
    with broker(tmp_path) as port, listening(port, "kiosk/#") as heard:
        bus = _bus(port)
        bus.start()
        try:
            bus.observe(LoopReady("cpu", "sface 1", 3))
            for i in range(50):
                bus.observe(_decided(i))
            bus.observe(_decided(50, Decision.DENIED_SPOOF))
            bus.observe(DoorReport(False, "door osdp: no answer from the panel within 2 s", 7))
            bus.camera(False, "camera 0 unplugged")
            bus.camera(True)
            assert bus.flush(10)
            events = heard.wait("kiosk/north-door/event", 56)
        finally:
            bus.close()
        kinds = [e["type"] for e in events]
        assert kinds[0] == "started"
        assert [e["attempt"] for e in events if e["type"] == "decision"] == list(range(51))
        assert kinds[-4:] == ["liveness-failed", "door-failed", "camera-lost", "camera-back"]
        assert all(e["kiosk_id"] == "north-door" for e in events)
        assert not any("image" in e or "snapshot" in e for e in events)  # no face images
        assert bus.lost == 0
        states = [s["state"] for s in heard.on("kiosk/north-door/state")]
        assert states[-3:] == ["camera-lost", "running", "stopped"]


@needs_broker
def test_the_state_the_last_decision_and_home_assistant_discovery_are_retained(
    tmp_path: Path,
) -> None:
    with broker(tmp_path) as port:
        bus = _bus(port)
        bus.start()
        bus.observe(LoopReady("cpu", "sface 1", 3))
        bus.observe(_decided(1))
        assert bus.flush(10)
        try:
            with listening(port) as late:  # subscribes after: sees only what is retained
                late.wait("kiosk/north-door/decision", 1)
                assert late.wait("homeassistant/sensor/kiosk_north_door_state/config", 1)
            state = late.on("kiosk/north-door/state")[-1]
            assert state["state"] == "running" and state["lost"] == 0
            assert late.on("kiosk/north-door/decision")[-1]["decision"] == "allowed"
            config = late.on("homeassistant/sensor/kiosk_north_door_decision/config")[0]
            assert config["state_topic"] == "kiosk/north-door/decision"
            assert config["value_template"] == "{{ value_json.decision }}"
            assert all(retained for _, _, retained in late.messages)
        finally:
            bus.close()


@needs_broker
def test_a_broker_that_is_down_never_blocks_and_the_loss_is_counted_and_shown(
    tmp_path: Path,
) -> None:
    port = free_port()
    with broker(tmp_path, port), listening(port, "kiosk/north-door/event", "desk"):
        pass  # the building's subscriber, known to the broker before the kiosk starts
    bus = _bus(port, queue_size=20)  # nobody listens on the port now
    lines: list[str | None] = []
    bus.on_change = lines.append
    bus.start()
    try:
        for i in range(100):
            bus.observe(_decided(i))  # returns at once: the queue takes it
        # each decision is two messages (event, retained last decision): 200 in a queue of 20
        assert bus.lost == 180 and len(bus._queue) == 20
        assert lines and lines[-1] is not None and "180 events lost" in lines[-1]
        with broker(tmp_path, port), listening(port, "kiosk/north-door/event", "desk") as heard:
            # the broker comes up: what the queue kept is sent (the newest)
            events = heard.wait("kiosk/north-door/event", 10, timeout=20)
            assert [e["attempt"] for e in events][:10] == list(range(90, 100))
            assert bus.connected
    finally:
        bus.close()


def test_the_password_comes_from_the_environment_or_a_private_file(tmp_path: Path) -> None:
    secret = tmp_path / "mqtt.pw"
    secret.write_text("s3cret\n")
    secret.chmod(0o600)
    settings = EventsSettings(mqtt="mqtt://h", username="kiosk", password_file=str(secret))
    assert broker_password(settings, {}) == "s3cret"
    assert broker_password(settings, {"KIOSK_MQTT_PASSWORD": "env"}) == "env"
    secret.chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        broker_password(settings, {})
    with pytest.raises(ConfigError, match="no user or password in the url"):
        parse_broker("mqtt://kiosk:pw@h")
    assert parse_broker("mqtts://bus.example").port == 8883


def test_bad_events_settings_are_one_line(tmp_path: Path) -> None:
    (tmp_path / "kiosk.toml").write_text('[events]\nmqtt = "http://bus"\n')
    with pytest.raises(ConfigError, match="mqtt://"):
        Settings.load({"KIOSK_HOME": str(tmp_path)})
    with pytest.raises(ConfigError, match="plain MQTT topic"):
        EventsSettings(mqtt="mqtt://h", topic="a/#")
    assert Settings.load({"KIOSK_HOME": str(tmp_path / "none")}).events.mqtt == ""


@needs_broker
def test_a_broker_restart_loses_nothing_and_doubles_nothing(tmp_path: Path) -> None:
    port = free_port()
    bus = _bus(port)
    topic = "kiosk/north-door/event"
    try:
        with broker(tmp_path, port), listening(port, topic, "desk") as first:
            bus.start()
            for i in range(20):
                bus.observe(_decided(i))
            assert [e["attempt"] for e in first.wait(topic, 20)] == list(range(20))
            assert bus.flush(10)
        # the broker is gone (a restart, a maintenance window): the decisions wait
        for i in range(20, 40):
            bus.observe(_decided(i))
        with broker(tmp_path, port), listening(port, topic, "desk") as second:
            second.wait(topic, 20, timeout=30)
            time.sleep(1.0)  # anything doubled would come now
            later = [e["attempt"] for e in second.on(topic)]
        assert later == list(range(20, 40))  # each once, in order
        assert bus.lost == 0
    finally:
        bus.close()
