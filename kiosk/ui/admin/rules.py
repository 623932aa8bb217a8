"""Access rules: groups with weekly time windows and holidays, who is in each group, and
a check of what the kiosk would decide for a person at a given time."""

from __future__ import annotations

from datetime import datetime, time

from PySide6.QtCore import QDateTime, QTime, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDateTimeEdit,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QTableWidget,
    QTimeEdit,
    QVBoxLayout,
    QWidget,
)

from kiosk.domain.access import AccessSchedule, TimeWindow
from kiosk.errors import KioskError
from kiosk.services.access_rules import parse_holidays
from kiosk.services.accounts import Actor
from kiosk.services.admin import AdminServices

DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class AccessRulesPage(QWidget):
    def __init__(
        self, services: AdminServices, actor: Actor, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.rules = services.rules
        self.people = services.people
        self.actor = actor

        # groups
        self.groups = QListWidget()
        self.groups.currentItemChanged.connect(self._group_selected)
        new_group = QPushButton("New group…")
        new_group.clicked.connect(self._new_group)
        left = QVBoxLayout()
        left.addWidget(QLabel("<b>Groups</b>"))
        left.addWidget(self.groups, 1)
        left.addWidget(new_group)
        left.addWidget(
            _note(
                "People without a group may enter at any time. Put a person in a group "
                "with People → Edit."
            )
        )

        # schedule of the selected group
        self.title = QLabel("Select a group")
        self.title.setStyleSheet("font-size: 15px; font-weight: bold;")
        self.windows = QTableWidget(0, 3)
        self.windows.setHorizontalHeaderLabels(["Day", "From", "Until"])
        self.windows.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.windows.verticalHeader().setVisible(False)
        self.windows.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        add_window = QPushButton("Add window")
        add_window.clicked.connect(lambda: self.add_window(0, time(8, 0), time(18, 0)))
        workdays = QPushButton("Mon–Fri 08:00–18:00")
        workdays.setToolTip("Replace the windows with working days, 8 am to 6 pm")
        workdays.clicked.connect(self._workdays)
        remove_window = QPushButton("Remove window")
        remove_window.clicked.connect(self._remove_window)
        window_buttons = QHBoxLayout()
        for b in (add_window, workdays, remove_window):
            window_buttons.addWidget(b)
        window_buttons.addStretch(1)
        self.holidays = QPlainTextEdit()
        self.holidays.setPlaceholderText("One date per line, e.g. 2026-12-25")
        self.holidays.setFixedHeight(80)
        self.members = QLabel("")
        self.members.setWordWrap(True)
        self.save_button = QPushButton("Save the rules of this group")
        self.save_button.clicked.connect(self.save)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        schedule_box = QGroupBox("Weekly access windows (local time; none = any time)")
        sb = QVBoxLayout(schedule_box)
        sb.addWidget(self.windows)
        sb.addLayout(window_buttons)
        sb.addWidget(QLabel("Holidays (no access on these days):"))
        sb.addWidget(self.holidays)
        right = QVBoxLayout()
        right.addWidget(self.title)
        right.addWidget(schedule_box, 1)
        right.addWidget(self.members)
        right.addWidget(self.save_button)
        right.addWidget(self.message)

        # try a decision
        self.person = QComboBox()
        self.when = QDateTimeEdit(QDateTime.currentDateTime())
        self.when.setCalendarPopup(True)
        self.when.setDisplayFormat("ddd yyyy-MM-dd HH:mm")
        try_button = QPushButton("What would the kiosk decide?")
        try_button.clicked.connect(self.try_access)
        self.verdict = QLabel("")
        self.verdict.setObjectName("verdict")
        self.verdict.setWordWrap(True)
        try_box = QGroupBox("Try the rules")
        tb = QHBoxLayout(try_box)
        tb.addWidget(self.person, 2)
        tb.addWidget(self.when)
        tb.addWidget(try_button)
        tb.addWidget(self.verdict, 2)

        columns = QHBoxLayout()
        columns.addLayout(left, 1)
        columns.addLayout(right, 3)
        layout = QVBoxLayout(self)
        layout.addLayout(columns, 1)
        layout.addWidget(try_box)
        self.refresh()

    # -- loading -------------------------------------------------------------------------

    def refresh(self) -> None:
        current = self.current_group()
        self.groups.blockSignals(True)
        self.groups.clear()
        for info in self.rules.groups(self.actor):
            rules = (
                "any time"
                if info.windows == 0 and info.holidays == 0
                else f"{info.windows} window(s), {info.holidays} holiday(s)"
            )
            item = QListWidgetItem(f"{info.name}\n   {info.people} people · {rules}")
            item.setData(256, info.name)
            self.groups.addItem(item)
        self.groups.blockSignals(False)
        if current:
            self.select_group(current)
        elif self.groups.count():
            self.groups.setCurrentRow(0)
        self.person.clear()
        listed, _ = self.people.page(self.actor, limit=2000)
        for r in listed:
            self.person.addItem(
                f"{r.person.name} ({r.person.badge}) — {r.person.group or 'no group'}",
                r.person.id,
            )

    def current_group(self) -> str | None:
        item = self.groups.currentItem()
        return None if item is None else str(item.data(256))

    def select_group(self, name: str) -> None:
        for i in range(self.groups.count()):
            if self.groups.item(i).data(256) == name:
                self.groups.setCurrentRow(i)
                return
        item = QListWidgetItem(f"{name}\n   new group, not saved yet")
        item.setData(256, name)
        self.groups.addItem(item)
        self.groups.setCurrentItem(item)

    @Slot()
    def _group_selected(self) -> None:
        group = self.current_group()
        self.windows.setRowCount(0)
        self.holidays.clear()
        self.message.clear()
        if group is None:
            self.title.setText("Select a group")
            return
        self.title.setText(f"Group {group}")
        schedule = self.rules.schedule(self.actor, group)
        if schedule is not None:
            for w in schedule.windows:
                self.add_window(w.weekday, w.start, w.end)
            self.holidays.setPlainText("\n".join(d.isoformat() for d in sorted(schedule.holidays)))
        members, count = self.people.page(self.actor, group=group, limit=30)
        names = [r.person.name for r in members]
        self.members.setText(
            f"Members ({count}): "
            + (", ".join(names) or "none yet: put people in it with People → Edit")
            + (" …" if count > len(names) else "")
        )

    # -- editing -------------------------------------------------------------------------

    @Slot()
    def _new_group(self) -> None:
        name, ok = QInputDialog.getText(self, "New group", "Name of the group (e.g. Day staff):")
        if ok and name.strip():
            self.select_group(name.strip())

    def add_window(self, weekday: int, start: time, end: time) -> None:
        row = self.windows.rowCount()
        self.windows.insertRow(row)
        day = QComboBox()
        day.addItems(DAYS)
        day.setCurrentIndex(weekday)
        start_edit = QTimeEdit(QTime(start.hour, start.minute))
        end_edit = QTimeEdit(QTime(end.hour, end.minute))
        for e in (start_edit, end_edit):
            e.setDisplayFormat("HH:mm")
        self.windows.setCellWidget(row, 0, day)
        self.windows.setCellWidget(row, 1, start_edit)
        self.windows.setCellWidget(row, 2, end_edit)

    @Slot()
    def _workdays(self) -> None:
        self.windows.setRowCount(0)
        for d in range(5):
            self.add_window(d, time(8, 0), time(18, 0))

    @Slot()
    def _remove_window(self) -> None:
        rows = sorted({i.row() for i in self.windows.selectedIndexes()}, reverse=True)
        if not rows and self.windows.rowCount():
            rows = [self.windows.rowCount() - 1]
        for r in rows:
            self.windows.removeRow(r)

    def schedule_from_form(self) -> AccessSchedule | None:
        windows = []
        for row in range(self.windows.rowCount()):
            day: QComboBox = self.windows.cellWidget(row, 0)  # type: ignore[assignment]
            start: QTimeEdit = self.windows.cellWidget(row, 1)  # type: ignore[assignment]
            end: QTimeEdit = self.windows.cellWidget(row, 2)  # type: ignore[assignment]
            s, e = start.time(), end.time()
            windows.append(
                TimeWindow(
                    day.currentIndex(), time(s.hour(), s.minute()), time(e.hour(), e.minute())
                )
            )
        holidays = parse_holidays(self.holidays.toPlainText())
        if not windows and not holidays:
            return None
        return AccessSchedule(tuple(windows), holidays)

    @Slot()
    def save(self) -> bool:
        group = self.current_group()
        if group is None:
            self._say("Select or create a group first.", False)
            return False
        try:
            self.rules.set_schedule(self.actor, group, self.schedule_from_form())
        except KioskError as exc:
            self._say(str(exc), False)
            return False
        self.refresh()
        self._say(
            f"Saved. Kiosks apply the rules of {group} within a minute.",
            True,
        )
        return True

    @Slot()
    def try_access(self) -> None:
        person_id = self.person.currentData()
        if person_id is None:
            self.verdict.setText("Enroll someone first.")
            return
        when = datetime.fromtimestamp(self.when.dateTime().toSecsSinceEpoch()).astimezone()
        try:
            check = self.rules.try_access(self.actor, int(person_id), when)
        except KioskError as exc:
            self.verdict.setText(str(exc))
            return
        colour = "#1b7f3b" if check.decision.allowed else "#a4161a"
        self.verdict.setText(
            f"<span style='color:{colour}; font-weight:bold'>{check.decision}</span>: "
            f"{check.reason}"
        )

    def _say(self, text: str, ok: bool) -> None:
        self.message.setStyleSheet(f"color: {'#1b7f3b' if ok else '#a4161a'};")
        self.message.setText(text[:1].upper() + text[1:])


def _note(text: str) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setStyleSheet("color: #555;")
    return label
