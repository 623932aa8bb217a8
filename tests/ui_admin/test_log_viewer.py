"""The audit-log viewer over a real database: a million events paged (never loaded
whole), filters, sort, live events, detail with snapshot, CSV export with progress,
and the hash chain state."""

from __future__ import annotations

import csv
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from kiosk.app import admin_services
from kiosk.config import Settings
from kiosk.domain.access import AccessEvent, Decision
from kiosk.services.access import AccessService
from kiosk.services.accounts import Actor
from kiosk.services.admin import AdminServices
from kiosk.storage.records import Role
from kiosk.storage.store import Store, open_store
from kiosk.ui.admin.log_model import MAX_PAGES, PAGE
from kiosk.ui.admin.log_viewer import LogViewer
from tests.support.bulk_log import fill_events

MILLION = 1_000_000
READER = Actor("reader", Role.AUDITOR)


@pytest.fixture(scope="session")
def million_home(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A database with 1,000,000 events, built once per session with a bulk insert."""
    settings = Settings(home=tmp_path_factory.mktemp("million"))
    with open_store(settings) as store, store.unit_of_work(write=True) as uow:
        ids = tuple(uow.people.add(name=f"Person {i}", badge=f"P{i}").id for i in range(5))
        uow.commit()
    fill_events(settings.sqlite_path, MILLION, person_ids=ids)
    return settings


@pytest.fixture
def million(million_home: Settings) -> Iterator[AdminServices]:
    store = open_store(million_home)
    yield admin_services(store, million_home)
    store.close()


def viewer(qtbot: QtBot, services: AdminServices, actor: Actor = READER, **kw: object) -> LogViewer:
    v = LogViewer(services, actor, live_ms=0, **kw)  # type: ignore[arg-type]
    qtbot.addWidget(v)
    v.resize(1100, 600)
    v.show()
    return v


def wait_rows(qtbot: QtBot, v: LogViewer, rows: list[int]) -> None:
    def loaded() -> bool:
        return all(v.model.event_at(r) is not None for r in rows)

    qtbot.waitUntil(loaded, timeout=20_000)


def test_a_million_events_scroll_to_the_end(qtbot: QtBot, million: AdminServices) -> None:
    v = viewer(qtbot, million, verify_on_open=False)
    try:
        qtbot.waitUntil(lambda: v.model.rowCount() == MILLION, timeout=20_000)
        assert v.count_label.text() == "1,000,000 events"
        wait_rows(qtbot, v, [0])
        newest = v.model.event_at(0)
        assert newest is not None and newest.id == MILLION
        v.table.scrollToBottom()
        wait_rows(qtbot, v, [MILLION - 1])
        oldest = v.model.event_at(MILLION - 1)
        assert oldest is not None and oldest.id == 1
        # only the pages shown were fetched: a few, not the log
        assert v.model.pages_loaded <= 6
        assert v.model.rows_fetched <= 6 * PAGE
        assert v.model.cached_pages <= MAX_PAGES
        # the middle, by jumping the scroll bar
        v.table.scrollTo(v.model.index(MILLION // 2, 0))
        wait_rows(qtbot, v, [MILLION // 2])
        middle = v.model.event_at(MILLION // 2)
        assert middle is not None and middle.id == MILLION - MILLION // 2
        assert v.model.pages_loaded <= 10

        # sorting oldest first maps the same positions: no new fetch for row 0
        loaded = v.model.pages_loaded
        v.table.sortByColumn(0, Qt_Ascending())
        first = v.model.event_at(0)
        assert first is not None and first.id == 1
        assert v.model.pages_loaded == loaded
    finally:
        v.close_threads()


def Qt_Ascending():  # noqa: N802 - reads like the enum it returns
    from PySide6.QtCore import Qt

    return Qt.SortOrder.AscendingOrder


def test_a_million_events_filtering(qtbot: QtBot, million: AdminServices) -> None:
    v = viewer(qtbot, million, verify_on_open=False)
    try:
        qtbot.waitUntil(lambda: v.model.rowCount() == MILLION, timeout=20_000)
        v.decision.setCurrentIndex(v.decision.findData(str(Decision.ERROR)))
        v.kiosk.setCurrentText("garage")
        v.apply_filters()
        # ids with i % 6 == 5 are errors, i % 3 == 2 the garage: i % 6 == 5
        qtbot.waitUntil(lambda: not v.model.counting, timeout=20_000)
        assert v.model.rowCount() == MILLION // 6
        assert "matching events" in v.count_label.text()
        wait_rows(qtbot, v, [0])
        before = v.model.pages_loaded
        v.table.scrollToBottom()
        last = v.model.rowCount() - 1
        wait_rows(qtbot, v, [last])
        row = v.model.event_at(last)
        assert row is not None and row.event.decision is Decision.ERROR
        assert row.event.kiosk_id == "garage" and row.id == 5
        assert v.model.pages_loaded - before <= 4
        # a badge filter
        v.clear_filters()
        v.badge.setText("P2")
        v.apply_filters()
        qtbot.waitUntil(lambda: not v.model.counting, timeout=20_000)
        wait_rows(qtbot, v, [0])
        top = v.model.event_at(0)
        assert top is not None and top.person_badge == "P2"
        assert v.badge.text() == "Person 2 (P2)" and "Events of Person 2" in v.filter_note.text()
        # a name nobody has: said by the field, and no rows rather than all of them
        v.badge.setText("nobody")
        v.apply_filters()
        assert "no person's name or badge contains" in v.filter_note.text().lower()
        assert v.model.rowCount() == 0 and not v.model.counting
        v.badge.setText("person 3")  # a name, any case
        v.apply_filters()
        qtbot.waitUntil(lambda: not v.model.counting, timeout=20_000)
        wait_rows(qtbot, v, [0])
        top = v.model.event_at(0)
        assert top is not None and top.person_name == "Person 3"
        # part of a name that only one person has
        v.badge.setText("son 4")
        v.apply_filters()
        qtbot.waitUntil(lambda: not v.model.counting, timeout=20_000)
        wait_rows(qtbot, v, [0])
        top = v.model.event_at(0)
        assert top is not None and top.person_name == "Person 4"
        # part of several names: the list to choose from, and no rows until one is chosen
        v.badge.setText("erso")
        v.apply_filters()
        assert "5 people match" in v.filter_note.text() and v.model.rowCount() == 0
        assert v.badge.person_list.stringList()[:2] == ["Person 0 (P0)", "Person 1 (P1)"]
        v.badge.pick("Person 1 (P1)")
        qtbot.waitUntil(lambda: not v.model.counting, timeout=20_000)
        wait_rows(qtbot, v, [0])
        top = v.model.event_at(0)
        assert top is not None and top.person_name == "Person 1"
    finally:
        v.close_threads()


@pytest.fixture
def small_log(store: Store, settings: Settings) -> AccessService:
    service = AccessService(store, settings)
    with store.unit_of_work(write=True) as uow:
        ada = uow.people.add(name="Ada", badge="A1")
        uow.commit()
    for i in range(30):
        service.record_event(
            AccessEvent(
                time=datetime(2026, 3, 1, 9, i, tzinfo=UTC),
                kiosk_id="front" if i % 2 else "back",
                decision=Decision.ALLOWED if i % 3 else Decision.DENIED_UNKNOWN,
                person_id=ada.id if i % 3 else None,
                score=0.4,
                threshold=0.6,
                reason="test",
                snapshot_jpeg=_jpeg() if i == 29 else None,
            )
        )
    return service


def _jpeg() -> bytes:
    import cv2
    import numpy as np

    ok, data = cv2.imencode(".jpg", np.full((60, 60, 3), 200, np.uint8))
    assert ok
    return bytes(data.tobytes())


def test_live_events_detail_and_chain(
    qtbot: QtBot,
    services: AdminServices,
    admin: Actor,
    small_log: AccessService,
    settings: Settings,
) -> None:
    v = viewer(qtbot, services, admin)
    try:
        qtbot.waitUntil(lambda: v.model.rowCount() == 30, timeout=10_000)
        qtbot.waitUntil(lambda: v.chain_report is not None, timeout=10_000)
        assert v.chain_report is not None and v.chain_report.ok
        assert "log intact" in v.chain_label.text()
        # detail pane with the snapshot of the newest event
        wait_rows(qtbot, v, [0])
        v.table.selectRow(0)
        v.table.setCurrentIndex(v.model.index(0, 0))
        assert "#30" in v.detail.text()
        assert v.snapshot.pixmap() is not None and not v.snapshot.pixmap().isNull()
        # a new event appears at the top
        small_log.record_event(
            AccessEvent(datetime.now(UTC), "front", Decision.DENIED_SPOOF, reason="photo")
        )
        v.poll()
        assert v.model.rowCount() == 31
        wait_rows(qtbot, v, [0])
        top = v.model.event_at(0)
        assert top is not None and top.event.decision is Decision.DENIED_SPOOF
        # oldest first: new events arrive at the end
        v.table.sortByColumn(0, Qt_Ascending())
        small_log.record_event(AccessEvent(datetime.now(UTC), "back", Decision.ERROR, reason="x"))
        v.poll()
        assert v.model.rowCount() == 32
        wait_rows(qtbot, v, [31, 0])
        last, first = v.model.event_at(31), v.model.event_at(0)
        assert last is not None and last.id == 32 and last.event.decision is Decision.ERROR
        assert first is not None and first.id == 1
        # alter a row behind the program's back: the chain names it
        conn = sqlite3.connect(settings.sqlite_path)
        conn.execute("UPDATE events SET decision = 'allowed' WHERE id = 7")
        conn.commit()
        conn.close()
        v.verify_chain()
        qtbot.waitUntil(
            lambda: v.chain_report is not None and not v.chain_report.ok, timeout=10_000
        )
        assert "#7" in v.chain_label.text()
    finally:
        v.close_threads()


def test_export_filtered_rows_with_progress(
    qtbot: QtBot,
    services: AdminServices,
    admin: Actor,
    small_log: AccessService,
    tmp_path: Path,
) -> None:
    v = viewer(qtbot, services, admin, verify_on_open=False)
    try:
        v.kiosk.setCurrentText("front")
        v.apply_filters()
        qtbot.waitUntil(lambda: not v.model.counting, timeout=10_000)
        assert v.model.rowCount() == 15
        target = tmp_path / "front.csv"
        v.export_to(target)
        assert v.export_progress.isVisible()
        qtbot.waitUntil(lambda: v.export_rows is not None, timeout=20_000)
        assert v.export_rows == 15
        assert not v.export_progress.isVisible()
        with open(target, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        assert len(rows) == 15 and {r["kiosk_id"] for r in rows} == {"front"}
        assert not (tmp_path / "front.csv.partial").exists()
        assert "Exported 15 rows" in v.message.text()
        with services.people.store.unit_of_work() as uow:
            [action] = uow.audit.list(action="export-log")
        assert action.admin == admin.username and "front.csv" in action.target
    finally:
        v.close_threads()


def test_export_of_a_million_reports_progress_and_can_be_cancelled(
    qtbot: QtBot, million: AdminServices, tmp_path: Path
) -> None:
    v = viewer(qtbot, million, verify_on_open=False)
    try:
        qtbot.waitUntil(lambda: v.model.rowCount() == MILLION, timeout=20_000)
        target = tmp_path / "all.csv"
        v.export_to(target)
        assert v.export_progress.isVisible() and v.export_progress.maximum() == MILLION
        qtbot.waitUntil(lambda: v.export_progress.value() >= 4000, timeout=30_000)
        v.cancel_export()
        assert not target.exists() and not (tmp_path / "all.csv.partial").exists()
        assert "cancelled" in v.message.text()
    finally:
        v.close_threads()
