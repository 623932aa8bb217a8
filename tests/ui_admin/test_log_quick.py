"""The access log's quick filters (issue 26): today, the last hour and the last 7 days
in one click, all denials in one click, several people at once, a larger snapshot; on a
real database through the real viewer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import cv2
import numpy as np
from pytestqt.qtbot import QtBot

from kiosk.config import Settings
from kiosk.domain.access import AccessEvent, Decision
from kiosk.services.access import AccessService
from kiosk.services.accounts import Actor
from kiosk.services.admin import AdminServices
from kiosk.storage.store import Store
from kiosk.ui.admin.log_filters import QuickRange
from kiosk.ui.admin.log_viewer import LogViewer


def _rows(qtbot: QtBot, v: LogViewer) -> list[tuple[str, str | None]]:
    qtbot.waitUntil(lambda: not v.model.counting, timeout=10_000)
    total = v.model.rowCount()
    qtbot.waitUntil(
        lambda: all(v.model.event_at(r) is not None for r in range(total)), timeout=10_000
    )
    out = []
    for r in range(total):
        e = v.model.event_at(r)
        assert e is not None
        out.append((str(e.event.decision), e.person_name))
    return out


def test_quick_ranges_all_denials_several_people_and_a_larger_snapshot(
    qtbot: QtBot, services: AdminServices, admin: Actor, store: Store, settings: Settings
) -> None:
    with store.unit_of_work(write=True) as uow:
        ada = uow.people.add(name="Ada Byron", badge="A1")
        bo = uow.people.add(name="Bo Chen", badge="B2")
        cy = uow.people.add(name="Cy Dent", badge="C3")
        uow.commit()
    access = AccessService(store, settings)
    now = datetime.now(UTC)
    ok, jpeg = cv2.imencode(".jpg", np.full((80, 60, 3), 120, np.uint8))
    for ago, decision, who in [
        (timedelta(days=10), Decision.ALLOWED, ada),  # older than a week
        (timedelta(days=3), Decision.DENIED_SCHEDULE, bo),
        (timedelta(hours=2), Decision.ALLOWED, cy),
        (timedelta(minutes=20), Decision.DENIED_UNKNOWN, None),
        (timedelta(minutes=10), Decision.DENIED_SPOOF, ada),
        (timedelta(minutes=5), Decision.ALLOWED, bo),
    ]:
        access.record_event(
            AccessEvent(
                now - ago,
                "front",
                decision,
                person_id=None if who is None else who.id,
                snapshot_jpeg=jpeg.tobytes(),
            )
        )
    v = LogViewer(services, admin, live_ms=0, verify_on_open=False)
    qtbot.addWidget(v)
    v.resize(1200, 700)
    v.show()
    try:
        assert len(_rows(qtbot, v)) == 6
        v.quick.range_buttons[QuickRange.LAST_HOUR].click()
        assert [d for d, _ in _rows(qtbot, v)] == ["allowed", "denied-spoof", "denied-unknown"]
        v.quick.range_buttons[QuickRange.LAST_7_DAYS].click()
        assert len(_rows(qtbot, v)) == 5
        v.quick.range_buttons[QuickRange.TODAY].click()
        since = v.since.dateTime().toPython()
        assert v.since_on.isChecked() and not v.until_on.isChecked()
        assert (since.date(), since.hour, since.minute) == (datetime.now().date(), 0, 0)
        assert len(_rows(qtbot, v)) <= 4  # at most the last 2 h (all of them after 02:00)
        v.quick.range_buttons[QuickRange.LAST_7_DAYS].click()
        v.quick.denials_button.click()  # every kind of denial, in one click
        assert v.decision.currentText() == "all denials"
        assert [d for d, _ in _rows(qtbot, v)] == [
            "denied-spoof",
            "denied-unknown",
            "denied-schedule",
        ]
        # several people: name one, add, name another
        v.clear_filters()
        v.badge.setText("Ada")
        v.quick.add_current()
        v.badge.setText("B2")
        v.apply_filters()
        assert {p for _, p in _rows(qtbot, v)} == {"Ada Byron", "Bo Chen"}
        assert "People: Ada Byron (A1)" in v.quick.people_label.text()
        assert "Events of Ada Byron, badge A1, Bo Chen, badge B2." in v.filter_note.text()
        v.quick.clear_people.click()
        v.badge.clear()
        v.apply_filters()
        assert len(_rows(qtbot, v)) == 6
        # the decision in words; a larger snapshot on demand
        assert v.model.data(v.model.index(0, 1)) == "Entered"
        v.table.setCurrentIndex(v.model.index(0, 0))
        assert v.pane.larger.isEnabled()
        v.pane.larger.click()
        dialog = v.pane.large
        assert dialog is not None and dialog.isVisible()
        from PySide6.QtWidgets import QLabel

        big = dialog.findChild(QLabel, "largeSnapshot")
        assert big.pixmap().height() == 480  # 80x60 shown at 480 px high, not 200
        assert "Details: code allowed" in v.detail.text()
        dialog.close()
    finally:
        v.close_threads()
