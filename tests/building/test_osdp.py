"""Issue 27, item 1: the kiosk as an OSDP reader, against LibOSDP's own Control Panel on
the other end of a pseudo-terminal pair (tests/support/osdp_panel.py), Secure Channel on.

Each test takes about a second: the panel brings the line up in 0.5 s."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

pytest.importorskip("osdp", reason="libosdp is not installed")

from osdp import CardFormat, Command  # noqa: E402

from kiosk.config import DoorSettings, Settings  # noqa: E402
from kiosk.domain.access import Decision, Person  # noqa: E402
from kiosk.domain.card_bits import wiegand26, wiegand26_fields  # noqa: E402
from kiosk.errors import ConfigError  # noqa: E402
from kiosk.services.door import DoorRequest, make_door  # noqa: E402
from kiosk.services.door_osdp import OsdpReaderDoor  # noqa: E402
from kiosk.services.loop_messages import DoorReport  # noqa: E402
from kiosk.storage.errors import EncryptionKeyError  # noqa: E402
from kiosk.storage.osdp_key import osdp_key, osdp_key_path, read_osdp_key  # noqa: E402
from tests.support.osdp_panel import Line, panel, pty_line  # noqa: E402
from tests.unit.test_kiosk_loop import FakeStore, _decided, _feed, _loop  # noqa: E402

KEY = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
FACILITY = 42
#: the panel's answer is awaited this long in the tests (the default is 2 s)
DEADLINE = 0.6


def _request(badge: str) -> DoorRequest:
    return DoorRequest("north", 7, "Ada", datetime(2026, 1, 2, tzinfo=UTC), 5.0, badge)


def _wait(condition: object, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def line() -> Iterator[Line]:
    with pty_line() as made:
        yield made


@pytest.fixture
def reader(line: Line) -> Iterator[OsdpReaderDoor]:
    door = OsdpReaderDoor(line.device, key=KEY, facility=FACILITY, timeout=DEADLINE)
    door.start()
    yield door
    door.close()


def test_a_recognised_persons_badge_arrives_as_a_card_read_with_the_right_bits(
    line: Line, reader: OsdpReaderDoor
) -> None:
    with panel(line, KEY, granted={4242}) as cp:
        assert cp.online() and _wait(reader.online)
        assert cp.cp.is_sc_active(1)  # the exchange below is encrypted
        result = reader.open(_request("4242"))
        assert result.ok, result.message
        assert len(cp.reads) == 1
        read = cp.reads[0]
        assert read["format"] == CardFormat.Wiegand and read["length"] == 26
        assert cp.card() == wiegand26(FACILITY, 4242)
        assert wiegand26_fields(cp.card()) == (FACILITY, 4242)
        assert "Secure Channel" in reader.state()


def test_the_panels_led_and_buzzer_commands_are_answered(
    line: Line, reader: OsdpReaderDoor
) -> None:
    with panel(line, KEY, granted={17}) as cp:
        assert cp.online() and _wait(reader.online)
        assert reader.open(_request("17")).ok
        assert _wait(lambda: cp.acknowledged(Command.LED) and cp.acknowledged(Command.Buzzer))
        assert [(c.kind, c.colour) for c in reader.commands][:2] == [
            ("led", "green"),
            ("buzzer", ""),
        ]


def test_a_badge_the_panel_refuses_is_a_failed_door(line: Line, reader: OsdpReaderDoor) -> None:
    with panel(line, KEY, granted={1}) as cp:
        assert cp.online() and _wait(reader.online)
        result = reader.open(_request("2"))
        assert not result.ok and "refused" in result.message
        assert wiegand26_fields(cp.card()) == (FACILITY, 2)


def test_a_wrong_secure_channel_key_is_refused(line: Line, reader: OsdpReaderDoor) -> None:
    with panel(line, bytes(16), granted={4242}) as cp:
        assert not cp.online(timeout=2.0)  # the panel refuses the reader's cryptogram
        result = reader.open(_request("4242"))
        assert not result.ok and "door osdp" in result.message
        assert cp.reads == []  # nothing crossed the line in clear


def test_a_panel_that_stops_answering_is_a_failed_door_and_the_line_coming_back_is_picked_up(
    line: Line, reader: OsdpReaderDoor
) -> None:
    with panel(line, KEY, granted={4242}) as first:
        assert first.online() and _wait(reader.online)
        first.stop()  # the panel goes silent (a cut cable, a panel rebooting)
        started = time.monotonic()
        result = reader.open(_request("4242"))
        assert not result.ok and "no answer" in result.message
        assert time.monotonic() - started < DEADLINE + 0.5  # the deadline holds
    with panel(line, KEY, granted={4242}) as second:  # the same kiosk, not restarted
        assert second.online() and _wait(reader.online)
        assert reader.open(_request("4242")).ok
        assert len(second.reads) == 1  # the unanswered read was withdrawn, not replayed


def test_a_silent_panel_is_door_failed_in_the_kiosk_never_allowed(line: Line) -> None:
    door = OsdpReaderDoor(line.device, key=KEY, facility=FACILITY, timeout=DEADLINE)
    door.start()
    try:
        store = FakeStore([Person(7, "Ada", "4242")])
        loop, out, clock = _loop(store, door)  # type: ignore[arg-type]
        _feed(loop, clock, 7, 5)  # recognised, but no panel on the line at all
        decided = _decided(out)
        assert len(decided) == 1 and decided[0].door_failed
        assert decided[0].decision is Decision.ERROR  # never ALLOWED, on screen or in the log
        assert "see staff" in decided[0].message
        assert [e.decision for e in store.events] == [Decision.ERROR]
        assert store.events[0].reason.startswith("door failed: door osdp")
        reports = [o for o in out if isinstance(o, DoorReport)]
        assert len(reports) == 1 and not reports[0].ok
    finally:
        door.close()


def test_the_kiosk_shows_and_records_allowed_only_when_the_panel_grants(line: Line) -> None:
    door = OsdpReaderDoor(line.device, key=KEY, facility=FACILITY, timeout=DEADLINE)
    door.start()
    try:
        with panel(line, KEY, granted={4242}) as cp:
            assert cp.online() and _wait(door.online)
            store = FakeStore([Person(7, "Ada", "4242")])
            loop, out, clock = _loop(store, door)  # type: ignore[arg-type]
            _feed(loop, clock, 7, 5)
            granted = _decided(out)
            assert [d.decision for d in granted] == [Decision.ALLOWED]
            assert not granted[0].door_failed
            assert [e.decision for e in store.events] == [Decision.ALLOWED]
            assert wiegand26_fields(cp.card()) == (FACILITY, 4242)
    finally:
        door.close()


def test_the_key_file_is_made_once_private_and_checked(tmp_path: Path) -> None:
    path = osdp_key_path(tmp_path / "kiosk.key")
    assert path == tmp_path / "osdp.key"
    key = osdp_key(path)
    assert len(key) == 16 and osdp_key(path) == key
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert [p.name for p in tmp_path.iterdir()] == ["osdp.key"]  # no temporary left
    os.chmod(path, 0o644)
    with pytest.raises(EncryptionKeyError, match="chmod 600"):
        read_osdp_key(path)
    path.write_text("not hex\n")
    os.chmod(path, 0o600)
    with pytest.raises(EncryptionKeyError, match="32 hex digits"):
        read_osdp_key(path)


def test_bad_osdp_settings_are_one_line() -> None:
    with pytest.raises(ConfigError, match="osdp_device"):
        make_door(DoorSettings(kind="osdp"), osdp_key=KEY)
    with pytest.raises(ConfigError, match="osdp_format"):
        DoorSettings(kind="osdp", osdp_format="wiegand37")
    with pytest.raises(ConfigError, match="osdp_baud"):
        make_door(DoorSettings(kind="osdp", osdp_device="/dev/null", osdp_baud=1234), osdp_key=KEY)


def test_the_config_names_the_osdp_door(tmp_path: Path) -> None:
    (tmp_path / "kiosk.toml").write_text(
        '[door]\nkind = "osdp"\nosdp_device = "/dev/ttyUSB0"\nosdp_facility = 12\n'
    )
    settings = Settings.load({"KIOSK_HOME": str(tmp_path)})
    assert settings.door.osdp_facility == 12 and settings.door.osdp_secure
    assert replace(settings.door, osdp_secure=False).osdp_secure is False


def test_the_kiosk_makes_its_osdp_reader_with_the_key_file_beside_the_database_key(
    tmp_path: Path, line: Line
) -> None:
    from kiosk.app import make_door as kiosk_door

    settings = Settings(home=tmp_path)
    settings = replace(
        settings, door=DoorSettings(kind="osdp", osdp_device=line.device, timeout_seconds=0.6)
    )
    door = kiosk_door(settings)
    try:
        key = read_osdp_key(tmp_path / "osdp.key")  # beside kiosk.key, made on first start
        with panel(line, key, granted={5}) as cp:
            assert cp.online()
            assert door.open(_request("5")).ok
    finally:
        door.close()
