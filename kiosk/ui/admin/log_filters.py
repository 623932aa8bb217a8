"""The access log's quick filters: a time range in one click (today, the last hour, the
last 7 days), all denials in one click, and several people at once."""

from __future__ import annotations

import enum
from datetime import datetime, timedelta

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget

from kiosk.storage.records import PersonRecord
from kiosk.ui.admin.person_filter import PersonField, PersonNotFound, person_label

#: the decision box's entry for every denial at once
ALL_DENIALS = "denials"


class QuickRange(enum.Enum):
    TODAY = "Today"
    LAST_HOUR = "Last hour"
    LAST_7_DAYS = "Last 7 days"


def range_start(quick: QuickRange, now: datetime) -> datetime:
    """Where ``quick`` starts, for a local ``now`` (today: local midnight)."""
    if quick is QuickRange.TODAY:
        return now.replace(hour=0, minute=0, second=0, microsecond=0)
    if quick is QuickRange.LAST_HOUR:
        return now - timedelta(hours=1)
    return now - timedelta(days=7)


class QuickFilters(QWidget):
    """One row: the quick ranges, "All denials", and the people chosen so far (added
    one by one from the person field, cleared together)."""

    range_chosen = Signal(object)  # a QuickRange
    denials_chosen = Signal()
    people_changed = Signal()

    def __init__(self, field: PersonField, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.field = field
        self.people: list[PersonRecord] = []
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(QLabel("Quick:"))
        self.range_buttons: dict[QuickRange, QPushButton] = {}
        for quick in QuickRange:
            button = QPushButton(quick.value)
            button.setProperty("quick", quick.name)
            button.clicked.connect(self._range_clicked)
            self.range_buttons[quick] = button
            row.addWidget(button)
        self.denials_button = QPushButton("All denials")
        self.denials_button.setToolTip("Every denial: not recognised, not valid, hours, spoof")
        self.denials_button.clicked.connect(self.denials_chosen.emit)
        row.addWidget(self.denials_button)
        row.addSpacing(24)
        self.add_person = QPushButton("Add person to the filter")
        self.add_person.setToolTip(
            "Keep the person named in the field and name another: events of any of them"
        )
        self.add_person.clicked.connect(self.add_current)
        self.people_label = QLabel("")
        self.people_label.setObjectName("chosenPeople")
        self.people_label.setWordWrap(True)
        self.clear_people = QPushButton("Clear people")
        self.clear_people.clicked.connect(self._clear_clicked)
        self.clear_people.setVisible(False)
        row.addWidget(self.add_person)
        row.addWidget(self.people_label, 1)
        row.addWidget(self.clear_people)

    @Slot()
    def _range_clicked(self) -> None:
        button = self.sender()
        name = button.property("quick") if button is not None else None
        if name:
            self.range_chosen.emit(QuickRange[str(name)])

    @Slot()
    def add_current(self) -> None:
        """Add the person the field names (nothing when it names nobody or several:
        Apply says why)."""
        try:
            record = self.field.resolve()
        except PersonNotFound:
            return
        if record is None:
            return
        if all(p.person.id != record.person.id for p in self.people):
            self.people.append(record)
        self.field.clear()
        self.field.person = None
        self._show()
        self.people_changed.emit()

    @Slot()
    def _clear_clicked(self) -> None:
        self.clear()

    def clear(self, *, emit: bool = True) -> None:
        self.people = []
        self._show()
        if emit:
            self.people_changed.emit()

    def ids(self) -> tuple[int, ...]:
        return tuple(p.person.id for p in self.people)

    def _show(self) -> None:
        names = ", ".join(person_label(p) for p in self.people)
        self.people_label.setText(f"People: {names}" if names else "")
        self.clear_people.setVisible(bool(self.people))
