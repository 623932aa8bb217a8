"""The console's first page, "Today": entries and denials as they come from every kiosk
of the database, today's counts, the last spoof attempts with their snapshots, each
kiosk's state from its heartbeat, and the open alerts (with a sound, off by default).

It asks :meth:`TodayService.poll` every second (the newest event id and the newest
heartbeat time: two index lookups) and reads the page again when either changed, and
every few seconds anyway, so that a kiosk that went quiet turns stale on time.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtGui import QColor, QPixmap
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from kiosk.errors import KioskError
from kiosk.services.accounts import Actor
from kiosk.services.today import Alert, KioskView, TodayService, TodayView
from kiosk.storage.errors import StorageError
from kiosk.storage.records import LoggedEvent
from kiosk.ui.admin.log_model import DECISION_COLOURS, who

log = logging.getLogger(__name__)

#: how often the page asks whether anything changed
POLL_MS = 1000
#: the page is read again at least this often (a kiosk going quiet changes nothing in
#: the database: only the clock tells)
FULL_REFRESH_MS = 5000
SNAPSHOT_PX = 120


def _tile(title: str) -> tuple[QFrame, QLabel]:
    frame = QFrame()
    frame.setFrameShape(QFrame.Shape.StyledPanel)
    box = QVBoxLayout(frame)
    figure = QLabel("0")
    figure.setStyleSheet("font-size: 28px; font-weight: bold;")
    caption = QLabel(title)
    caption.setStyleSheet("color: #555;")
    box.addWidget(figure)
    box.addWidget(caption)
    return frame, figure


def _table(headers: list[str]) -> QTableWidget:
    table = QTableWidget(0, len(headers))
    table.setHorizontalHeaderLabels(headers)
    table.verticalHeader().setVisible(False)
    table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
    table.setWordWrap(True)
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    header.setStretchLastSection(True)
    return table


def _item(text: str, colour: str | None = None) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    if colour:
        item.setForeground(QColor(colour))
    return item


class TodayPage(QWidget):
    """What happened today, live."""

    def __init__(self, today: TodayService, actor: Actor, *, poll_ms: int = POLL_MS) -> None:
        super().__init__()
        self.today = today
        self.actor = actor
        self.view: TodayView | None = None
        self._seen: tuple[int, object] | None = None
        self._alert_keys: set[tuple[str, str]] = set()
        self._snapshots: dict[int, QPixmap | None] = {}
        #: alerts that sounded (for tests and the status line)
        self.sounded = 0

        tiles = QHBoxLayout()
        entries, self.entries = _tile("entries today")
        denials, self.denials = _tile("denials today")
        spoofs, self.spoofs = _tile("photo or screen shown today")
        problems, self.problems = _tile("kiosk problems today")
        for tile in (entries, denials, spoofs, problems):
            tiles.addWidget(tile, 1)

        self.alerts = QLabel("")
        self.alerts.setObjectName("todayAlerts")
        self.alerts.setWordWrap(True)
        self.alerts.setTextFormat(Qt.TextFormat.PlainText)
        self.sound = QCheckBox("Sound on a new alert")
        self.sound.setChecked(False)
        self.updated = QLabel("")
        self.updated.setStyleSheet("color: #555;")
        alert_row = QHBoxLayout()
        alert_row.addWidget(self.alerts, 1)
        alert_row.addWidget(self.sound, 0, Qt.AlignmentFlag.AlignTop)

        self.events = _table(["Time", "What happened", "Who", "Kiosk"])
        self.kiosks = _table(["Kiosk", "Last decision", "State"])
        self.kiosks.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.kiosks.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.spoof_box = QGridLayout()
        spoof_frame = QFrame()
        spoof_frame.setLayout(self.spoof_box)

        left = QVBoxLayout()
        left.addWidget(QLabel("<b>Entries and denials today</b> (newest first)"))
        left.addWidget(self.events, 1)
        right = QVBoxLayout()
        right.addWidget(QLabel("<b>Kiosks</b>"))
        right.addWidget(self.kiosks, 1)
        right.addWidget(QLabel("<b>Last attempts with a photo or a screen</b>"))
        right.addWidget(spoof_frame)
        columns = QHBoxLayout()
        columns.addLayout(left, 3)
        columns.addLayout(right, 2)

        layout = QVBoxLayout(self)
        layout.addLayout(tiles)
        layout.addLayout(alert_row)
        layout.addLayout(columns, 1)
        layout.addWidget(self.updated)

        self.poll_timer = QTimer(self)
        self.poll_timer.setInterval(poll_ms)
        self.poll_timer.timeout.connect(self.poll)
        self.full_timer = QTimer(self)
        self.full_timer.setInterval(FULL_REFRESH_MS)
        self.full_timer.timeout.connect(self.refresh)
        self.refresh()

    # -- when shown, live -----------------------------------------------------------

    def showEvent(self, event: object) -> None:  # noqa: N802
        self.refresh()
        self.poll_timer.start()
        self.full_timer.start()
        super().showEvent(event)  # type: ignore[arg-type]

    def hideEvent(self, event: object) -> None:  # noqa: N802
        self.poll_timer.stop()
        self.full_timer.stop()
        super().hideEvent(event)  # type: ignore[arg-type]

    @Slot()
    def poll(self) -> None:
        try:
            seen = self.today.poll(self.actor)
        except (KioskError, StorageError) as exc:
            self.updated.setText(f"Cannot read the database: {exc}; trying again.")
            return
        if seen != self._seen:
            self.refresh()

    @Slot()
    def refresh(self) -> None:
        try:
            view = self.today.view(self.actor)
        except (KioskError, StorageError) as exc:
            self.updated.setText(f"Cannot read the database: {exc}; trying again.")
            return
        self.view = view
        self._seen = (view.newest_id, max((k.beat.beat_at for k in view.kiosks), default=None))
        counts = view.counts
        self.entries.setText(str(counts.entries))
        self.denials.setText(str(counts.denials))
        self.spoofs.setText(str(counts.spoofs))
        self.problems.setText(str(counts.problems))
        self._show_alerts(view.alerts)
        self._show_events(view.events)
        self._show_kiosks(view.kiosks)
        self._show_spoofs(view.spoofs)
        shown = len(view.events)
        total = counts.entries + counts.denials + counts.problems
        more = f" (the newest {shown} of {total})" if total > shown else ""
        now = self.today.now().astimezone()
        self.updated.setText(
            f"Today since {view.day_start.astimezone():%H:%M}{more}. Read at {now:%H:%M:%S}; "
            "checked every second while this page is shown. A kiosk is stale after "
            f"{self.today.stale_seconds:.0f} s without a heartbeat."
        )

    # -- parts ----------------------------------------------------------------------

    def _show_alerts(self, alerts: list[Alert]) -> None:
        if not alerts:
            self.alerts.setText("No open alerts.")
            self.alerts.setStyleSheet("color: #1b7f3b; font-weight: bold;")
        else:
            lines = [f"⚠ {a.text}" for a in alerts]
            self.alerts.setText("\n".join(lines))
            self.alerts.setStyleSheet(
                "color: #a4161a; font-weight: bold; border: 2px solid #a4161a; padding: 6px;"
            )
        keys = {a.key for a in alerts}
        if keys - self._alert_keys and self.sound.isChecked():
            self.sounded += 1
            QApplication.beep()
        self._alert_keys = keys

    def _show_events(self, events: list[LoggedEvent]) -> None:
        table = self.events
        table.setRowCount(len(events))
        for row, logged in enumerate(events):
            e = logged.event
            colour = DECISION_COLOURS.get(e.decision)
            table.setItem(row, 0, _item(e.time.astimezone().strftime("%H:%M:%S")))
            what = _item(e.decision.words, colour)
            what.setData(Qt.ItemDataRole.UserRole, logged.id)
            what.setToolTip(e.reason)
            table.setItem(row, 1, what)
            table.setItem(row, 2, _item(who(logged)))
            table.setItem(row, 3, _item(e.kiosk_id))

    def _show_kiosks(self, kiosks: list[KioskView]) -> None:
        table = self.kiosks
        table.setRowCount(len(kiosks))
        for row, k in enumerate(kiosks):
            beat = k.beat
            colour = "#a4161a" if k.stale or beat.state.alarming else None
            if not colour and beat.state.value == "liveness off":
                colour = "#b35c00"
            table.setItem(row, 0, _item(beat.kiosk_id))
            last = beat.last_decision_at
            when = "none yet" if last is None else f"{last.astimezone():%H:%M:%S}"
            table.setItem(row, 1, _item(when))
            table.setItem(row, 2, _item(("STALE: " if k.stale else "") + k.words, colour))
        table.resizeRowsToContents()

    def _show_spoofs(self, spoofs: list[LoggedEvent]) -> None:
        box = self.spoof_box
        while box.count():
            item = box.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        if not spoofs:
            box.addWidget(QLabel("None."), 0, 0)
            return
        for column, logged in enumerate(spoofs):
            picture = QLabel()
            picture.setFixedSize(SNAPSHOT_PX, SNAPSHOT_PX)
            picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
            picture.setStyleSheet("border: 1px solid #7b1fa2;")
            pixmap = self._snapshot(logged)
            if pixmap is None:
                picture.setText("no snapshot\nkept")
            else:
                picture.setPixmap(
                    pixmap.scaled(
                        SNAPSHOT_PX,
                        SNAPSHOT_PX,
                        Qt.AspectRatioMode.KeepAspectRatio,
                        Qt.TransformationMode.SmoothTransformation,
                    )
                )
            when = logged.event.time.astimezone()
            posed = f"\nas {logged.person_name}" if logged.person_name else ""
            caption = QLabel(f"{when:%d %b %H:%M}, {logged.event.kiosk_id}{posed}")
            caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
            box.addWidget(picture, 0, column)
            box.addWidget(caption, 1, column)

    def _snapshot(self, logged: LoggedEvent) -> QPixmap | None:
        if logged.id not in self._snapshots:
            pixmap = None
            if logged.has_snapshot:
                try:
                    data = self.today.snapshot(self.actor, logged.id)
                except (KioskError, StorageError) as exc:
                    log.warning("today: snapshot %d unreadable: %s", logged.id, exc)
                    data = None
                if data:
                    pixmap = QPixmap()
                    if not pixmap.loadFromData(data):
                        pixmap = None
            self._snapshots[logged.id] = pixmap
        return self._snapshots[logged.id]

    def shown_event_ids(self) -> list[int]:
        """The ids of the events in the live list, top first."""
        ids = []
        for row in range(self.events.rowCount()):
            item = self.events.item(row, 1)
            if item is not None:
                ids.append(int(item.data(Qt.ItemDataRole.UserRole)))
        return ids

    def resizeEvent(self, event: object) -> None:  # noqa: N802
        super().resizeEvent(event)  # type: ignore[arg-type]
        self.kiosks.resizeRowsToContents()  # the state's words wrap to the new width

    def close_threads(self) -> None:
        self.poll_timer.stop()
        self.full_timer.stop()
