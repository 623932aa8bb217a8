"""The Today page through its real widgets on a real database: an event written by a
second process appears within 2 s; a kiosk whose heartbeat stops is marked stale; the
counts, alerts (sound off by default) and plain words."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from kiosk.domain.access import AccessEvent, Decision
from kiosk.domain.kiosk_state import Heartbeat, KioskState
from kiosk.services.accounts import Actor
from kiosk.services.admin import AdminServices
from kiosk.services.today import SPOOF_ALERT_COUNT, TodayService
from kiosk.storage.store import Store
from kiosk.ui.admin.today import TodayPage

ROOT = Path(__file__).resolve().parents[2]


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def writer(kiosk_home: Path, store: Store) -> Iterator[subprocess.Popen[str]]:
    """A second process on the same database (after this one created it)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.support.event_writer"],
        cwd=ROOT,
        env={**os.environ, "KIOSK_HOME": str(kiosk_home)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdin is not None
    assert proc.stdout.readline().strip() == "ready"
    yield proc
    proc.stdin.close()
    proc.wait(timeout=30)


def _ask(proc: subprocess.Popen[str], line: str) -> int:
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(line + "\n")
    proc.stdin.flush()
    answer = proc.stdout.readline().split()
    assert answer[0] == "written"
    return int(answer[1])


def _page(qtbot: QtBot, today: TodayService, actor: Actor) -> TodayPage:
    page = TodayPage(today, actor)
    qtbot.addWidget(page)
    page.resize(1200, 700)
    page.show()
    return page


def test_an_event_from_a_second_process_appears_within_2_s(
    qtbot: QtBot, services: AdminServices, admin: Actor, writer: subprocess.Popen[str]
) -> None:
    page = _page(qtbot, services.today, admin)
    assert page.shown_event_ids() == [] and page.entries.text() == "0"
    first = _ask(writer, "allowed")
    # the assertion the issue asks for: on screen within 2 s of the write
    qtbot.waitUntil(lambda: page.shown_event_ids() == [first], timeout=2000)
    assert page.entries.text() == "1"
    second = _ask(writer, "denied-unknown")
    qtbot.waitUntil(lambda: page.shown_event_ids() == [second, first], timeout=2000)
    assert page.denials.text() == "1"
    assert page.events.item(0, 1).text() == "Denied: face not recognised"
    assert page.events.item(0, 2).text() == "not recognised"
    assert page.events.item(0, 3).text() == "second-door"
    _ask(writer, "beat camera lost")
    qtbot.waitUntil(lambda: page.kiosks.rowCount() == 1, timeout=2000)
    assert "Camera lost" in page.kiosks.item(0, 2).text()
    assert "second-door: Camera lost" in page.alerts.text()


def test_a_kiosk_is_marked_stale_when_its_heartbeat_stops(
    qtbot: QtBot, store: Store, admin: Actor
) -> None:
    clock = Clock()
    today = TodayService(store, now=clock, stale_seconds=15)
    with store.unit_of_work(write=True) as uow:
        uow.kiosks.beat(Heartbeat("north", KioskState.RUNNING, clock.now, clock.now, clock.now))
        uow.commit()
    page = _page(qtbot, today, admin)
    assert page.kiosks.item(0, 2).text().startswith("Running since")
    assert page.alerts.text() == "No open alerts."
    clock.now += timedelta(seconds=14)  # within the beat's life: still running
    page.refresh()
    assert page.kiosks.item(0, 2).text().startswith("Running since")
    clock.now += timedelta(seconds=2)  # 16 s without a heartbeat
    page.refresh()
    state = page.kiosks.item(0, 2).text()
    assert state.startswith("STALE: No heartbeat for 16 s"), state
    assert "stale after 15 s" in state and "Last said: running" in state
    assert "north: No heartbeat" in page.alerts.text()
    # a kiosk closed cleanly said so: not stale, however old
    with store.unit_of_work(write=True) as uow:
        uow.kiosks.beat(Heartbeat("north", KioskState.STOPPED, clock.now, clock.now, clock.now))
        uow.commit()
    clock.now += timedelta(hours=2)
    page.refresh()
    assert page.kiosks.item(0, 2).text().startswith("Stopped (closed)")
    assert page.alerts.text() == "No open alerts."


def test_repeated_spoof_attempts_at_one_kiosk_are_an_alert_with_sound_only_if_asked(
    qtbot: QtBot, store: Store, admin: Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    beeps: list[int] = []
    monkeypatch.setattr("kiosk.ui.admin.today.QApplication.beep", lambda: beeps.append(1))
    today = TodayService(store)
    page = _page(qtbot, today, admin)
    assert not page.sound.isChecked()  # off by default
    now = datetime.now(UTC)
    with store.unit_of_work(write=True) as uow:
        for i in range(SPOOF_ALERT_COUNT):
            uow.events.append(
                AccessEvent(now - timedelta(seconds=10 - i), "lobby", Decision.DENIED_SPOOF)
            )
        uow.commit()
    page.poll()
    assert page.spoofs.text() == str(SPOOF_ALERT_COUNT)
    assert f"lobby: {SPOOF_ALERT_COUNT} attempts with a photo or a screen" in page.alerts.text()
    assert beeps == []  # the sound is off
    page.sound.setChecked(True)
    with store.unit_of_work(write=True) as uow:
        uow.kiosks.beat(Heartbeat("lobby", KioskState.DOOR_FAILING, now, now, now, None, "503"))
        uow.commit()
    page.poll()
    assert "lobby: Door failing" in page.alerts.text()
    assert beeps == [1] and page.sounded == 1  # a new alert: one sound
    page.refresh()
    assert beeps == [1]  # the same alerts again: no sound
    assert page.spoof_box.count() == 2 * SPOOF_ALERT_COUNT  # a picture and a caption each
