"""Small pieces the console's pages share: face pictures, error boxes, an optional date
and the person form. Imports no page, so every page may import it (no cycles)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
from PySide6.QtCore import QDate, QDateTime, Qt, QTime
from PySide6.QtGui import QColor, QImage, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateEdit,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from kiosk.services.people import NewPerson, PersonEdit
from kiosk.storage.records import PersonRecord

THUMB = 48
_ONE_DAY = timedelta(days=1)
_TICK = timedelta(microseconds=1)

#: the console's colours, one meaning each
GREEN = "#1b7f3b"
RED = "#a4161a"
AMBER = "#b35c00"
GREY = "#555555"


def sentence(message: str) -> str:
    """A service's one-line message as the start of a sentence."""
    return message[:1].upper() + message[1:]


def pixmap_from_jpeg(data: bytes | None, size: int) -> QPixmap | None:
    if not data:
        return None
    image = QImage.fromData(data)
    if image.isNull():
        return None
    return QPixmap.fromImage(image).scaled(
        size,
        size,
        Qt.AspectRatioMode.KeepAspectRatio,
        Qt.TransformationMode.SmoothTransformation,
    )


def pixmap_from_rgb(rgb: Any, size: int) -> QPixmap:
    array = np.ascontiguousarray(rgb)
    h, w = array.shape[:2]
    image = QImage(array.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
    return QPixmap.fromImage(image).scaled(
        size,
        size,
        Qt.AspectRatioMode.KeepAspectRatio,
        Qt.TransformationMode.SmoothTransformation,
    )


_PLACEHOLDER: QPixmap | None = None


def placeholder() -> QPixmap:
    """The grey square of a person without a stored face crop."""
    global _PLACEHOLDER
    if _PLACEHOLDER is None:
        _PLACEHOLDER = QPixmap(THUMB, THUMB)
        _PLACEHOLDER.fill(QColor("#d9d9d9"))
    return _PLACEHOLDER


def show_error(parent: QWidget, title: str, message: str) -> None:
    QMessageBox.warning(parent, title, sentence(message))


class DateField(QWidget):
    """A date that may be left empty (a check box turns it on)."""

    def __init__(self, label: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.enabled = QCheckBox(label)
        self.date = QDateEdit(QDate.currentDate())
        self.date.setCalendarPopup(True)
        self.date.setDisplayFormat("yyyy-MM-dd")
        self.date.setEnabled(False)
        self.enabled.toggled.connect(self.date.setEnabled)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.enabled)
        layout.addWidget(self.date)
        layout.addStretch(1)

    def value(self, end_of_day: bool = False) -> datetime | None:
        if not self.enabled.isChecked():
            return None
        when = QDateTime(self.date.date(), QTime(0, 0))
        local = datetime.fromtimestamp(when.toSecsSinceEpoch()).astimezone()
        if end_of_day:
            # "valid until 31 May" includes the 31st
            local = local.replace(hour=0) + _ONE_DAY
        return local.astimezone(UTC)

    def set_value(self, value: datetime | None, end_of_day: bool = False) -> None:
        self.enabled.setChecked(value is not None)
        if value is not None:
            day = last_day(value) if end_of_day else value.astimezone().date()
            self.date.setDate(QDate(day.year, day.month, day.day))


def last_day(valid_until: datetime) -> date:
    """The last local day a validity ending at ``valid_until`` (exclusive) includes: the
    one convention of the people list and the person editor ("until 2026-12-04" is
    valid through the 4th, stored as the start of the 5th)."""
    return (valid_until - _TICK).astimezone().date()


CONSENT_TEXT = (
    "The person agreed that their face is stored and used to open this door "
    "(recorded with today's date and your name)"
)


class PersonForm(QWidget):
    """Name, badge, group, valid from / until, notes, and consent (shared by enrollment
    and the edit dialog: a new person's consent is a box to tick, a stored one is shown)."""

    def __init__(self, groups: list[str], *, badge_editable: bool = True) -> None:
        super().__init__()
        self.name = QLineEdit()
        self.name.setPlaceholderText("e.g. Ada Lovelace")
        self.badge = QLineEdit()
        self.badge.setPlaceholderText("badge or employee number, unique")
        self.badge.setReadOnly(not badge_editable)
        self.group = QComboBox()
        self.group.setEditable(True)
        self.group.addItem("")
        self.group.addItems(groups)
        self.group.lineEdit().setPlaceholderText("no group: any time")  # type: ignore[union-attr]
        self.valid_from = DateField("from")
        self.valid_until = DateField("until (last day)")
        self.notes = QPlainTextEdit()
        self.notes.setFixedHeight(50)
        self.consent = QCheckBox(CONSENT_TEXT)
        self.consent.setObjectName("consent")
        self.consent_shown = QLabel("")
        self.consent_shown.setWordWrap(True)
        self.consent_shown.setVisible(False)
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Name", self.name)
        form.addRow("Badge", self.badge)
        form.addRow("Group", self.group)
        form.addRow("Valid", self.valid_from)
        form.addRow("", self.valid_until)
        form.addRow("Notes", self.notes)
        consent = QWidget()
        consent_layout = QVBoxLayout(consent)
        consent_layout.setContentsMargins(0, 0, 0, 0)
        consent_layout.addWidget(self.consent)
        consent_layout.addWidget(self.consent_shown)
        form.addRow("Consent", consent)

    def fill(self, record: PersonRecord) -> None:
        """Show a stored person (the consent as recorded, not as a box to tick)."""
        p = record.person
        self.name.setText(p.name)
        self.badge.setText(p.badge)
        self.group.setCurrentText(p.group or "")
        self.valid_from.set_value(p.valid_from)
        self.valid_until.set_value(p.valid_until, end_of_day=True)
        self.notes.setPlainText(record.notes)
        self.consent.setVisible(False)
        self.consent_shown.setVisible(True)
        self.consent_shown.setText(consent_words(record))

    def edit(self) -> PersonEdit:
        return PersonEdit(
            name=self.name.text(),
            group=self.group.currentText(),
            valid_from=self.valid_from.value(),
            valid_until=self.valid_until.value(end_of_day=True),
            notes=self.notes.toPlainText(),
        )

    def new_person(self) -> NewPerson:
        edit = self.edit()
        return NewPerson(
            name=edit.name,
            badge=self.badge.text(),
            group=edit.group,
            valid_from=edit.valid_from,
            valid_until=edit.valid_until,
            notes=edit.notes,
            consent=self.consent.isChecked(),
        )


def consent_words(record: PersonRecord) -> str:
    if record.consent_at is None:
        return "No consent recorded."
    when = record.consent_at.astimezone()
    return f"Consent recorded on {when:%Y-%m-%d} by {record.consent_by or 'an admin'}."
