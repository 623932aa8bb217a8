"""Kiosk heartbeats and the Today page's reads, on a real SQLite file and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from kiosk.domain.access import AccessEvent, Decision
from kiosk.domain.kiosk_state import Heartbeat, KioskState
from kiosk.services.accounts import Actor
from kiosk.services.today import SPOOF_ALERT_COUNT, TodayService
from kiosk.storage.records import Role
from kiosk.storage.store import Store

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
AUDITOR = Actor("reader", Role.AUDITOR)


def _beat(kiosk: str, state: KioskState, at: datetime, detail: str = "") -> Heartbeat:
    return Heartbeat(
        kiosk, state, at, at - timedelta(minutes=1), at - timedelta(hours=1), None, detail
    )


def _event(kiosk: str, decision: Decision, at: datetime) -> AccessEvent:
    return AccessEvent(time=at, kiosk_id=kiosk, decision=decision, reason="test")


def test_a_heartbeat_is_one_row_per_kiosk_overwritten(store: Store) -> None:
    with store.unit_of_work(write=True) as uow:
        uow.kiosks.beat(_beat("north", KioskState.RUNNING, NOW))
        uow.kiosks.beat(_beat("south", KioskState.RUNNING, NOW))
        uow.commit()
    with store.unit_of_work(write=True) as uow:
        uow.kiosks.beat(_beat("north", KioskState.CAMERA_LOST, NOW + timedelta(seconds=5), "usb"))
        uow.commit()
    with store.unit_of_work() as uow:
        beats = uow.kiosks.all()
        latest = uow.kiosks.latest_beat()
    assert [(b.kiosk_id, b.state, b.detail) for b in beats] == [
        ("north", KioskState.CAMERA_LOST, "usb"),
        ("south", KioskState.RUNNING, ""),
    ]
    assert beats[0].beat_at == NOW + timedelta(seconds=5)
    assert latest is not None and latest.kiosk_id == "north"


def test_today_counts_stale_kiosks_and_alerts(store: Store) -> None:
    with store.unit_of_work(write=True) as uow:
        uow.events.append(_event("north", Decision.ALLOWED, NOW - timedelta(days=1)))  # not today
        for i in range(3):
            uow.events.append(_event("north", Decision.ALLOWED, NOW - timedelta(minutes=30 - i)))
        uow.events.append(_event("north", Decision.DENIED_UNKNOWN, NOW - timedelta(minutes=20)))
        for i in range(SPOOF_ALERT_COUNT):
            uow.events.append(
                _event("south", Decision.DENIED_SPOOF, NOW - timedelta(minutes=3 - i))
            )
        uow.events.append(_event("south", Decision.ERROR, NOW - timedelta(minutes=1)))
        uow.kiosks.beat(_beat("north", KioskState.RUNNING, NOW - timedelta(seconds=2)))
        uow.kiosks.beat(_beat("south", KioskState.DOOR_FAILING, NOW - timedelta(seconds=3), "503"))
        uow.kiosks.beat(_beat("west", KioskState.RUNNING, NOW - timedelta(minutes=2)))
        uow.commit()
    view = TodayService(store, now=lambda: NOW, stale_seconds=15).view(AUDITOR)
    assert (view.counts.entries, view.counts.denials, view.counts.spoofs) == (3, 4, 3)
    assert view.counts.problems == 1
    assert [e.id for e in view.events] == sorted((e.id for e in view.events), reverse=True)
    assert len(view.events) == 8 and len(view.spoofs) == 3
    stale = {k.beat.kiosk_id: k.stale for k in view.kiosks}
    assert stale == {"north": False, "south": False, "west": True}
    west = next(k for k in view.kiosks if k.beat.kiosk_id == "west")
    assert west.words.startswith("No heartbeat for 2 min")
    assert sorted(a.key for a in view.alerts) == [
        ("south", "door"),
        ("south", "spoof"),
        ("west", "quiet"),
    ]
    assert view.newest_id == 9
    assert TodayService(store).poll(AUDITOR)[0] == 9
