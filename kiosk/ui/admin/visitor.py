"""A visitor's pass at the desk: the name, three camera photos (the guided capture,
looking straight), Save. The pass is valid until 23:59 today and the visitor's face
is erased by the retention job when it ends (:mod:`kiosk.services.visitors`)."""

from __future__ import annotations

from datetime import UTC, datetime

from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from kiosk.errors import KioskError
from kiosk.services.accounts import Actor
from kiosk.services.admin import AdminServices
from kiosk.services.enrollment import SavedEnrollment
from kiosk.services.photo_check import CheckedFace
from kiosk.services.visitors import end_of_day, visitor_pass
from kiosk.ui.admin.capture import STRAIGHT, CaptureDialog
from kiosk.ui.admin.widgets import GREEN, RED

#: a visitor looks at the camera three times: enough to be recognised today, quick
VISITOR_PLAN = (STRAIGHT, STRAIGHT, STRAIGHT)


class VisitorDialog(QDialog):
    def __init__(self, services: AdminServices, actor: Actor, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("New visitor")
        self.services = services
        self.actor = actor
        self.faces: list[CheckedFace] = []
        self.saved: SavedEnrollment | None = None
        until = end_of_day(datetime.now(UTC)).astimezone()
        self.name = QLineEdit()
        self.name.setPlaceholderText("The visitor's name")
        self.name.textChanged.connect(self._update)
        self.photos_label = QLabel("No photos yet.")
        self.camera_button = QPushButton("Take photos with the camera…")
        self.camera_button.clicked.connect(self.take_photos)
        self.consent = QCheckBox(
            "The visitor agreed that their face is stored for today and used to open this door"
        )
        self.consent.toggled.connect(self._update)
        self.status = QLabel(
            f"The pass lets them in until {until:%H:%M} today ({until:%Y-%m-%d}); their "
            "photos are deleted when it ends."
        )
        self.status.setWordWrap(True)
        self.save_button = QPushButton("Save the pass")
        self.save_button.setDefault(True)
        self.save_button.setEnabled(False)
        self.save_button.clicked.connect(self.save)
        cancel = QPushButton("Cancel")
        cancel.clicked.connect(self.reject)
        form = QFormLayout()
        form.addRow("Name:", self.name)
        form.addRow("Photos:", self.photos_label)
        form.addRow("Consent:", self.consent)
        buttons = QHBoxLayout()
        buttons.addWidget(self.camera_button)
        buttons.addStretch(1)
        buttons.addWidget(self.save_button)
        buttons.addWidget(cancel)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.status)
        layout.addLayout(buttons)

    @Slot()
    def take_photos(self) -> None:
        dialog = CaptureDialog(self.services, self, plan=VISITOR_PLAN)
        if dialog.exec() and dialog.kept:
            self.add_faces(dialog.kept)

    def add_faces(self, faces: list[CheckedFace]) -> None:
        self.faces = [f for f in faces if f.accepted]
        self.photos_label.setText(f"{len(self.faces)} photo(s) taken.")
        self._update()

    @Slot()
    def _update(self) -> None:
        self.save_button.setEnabled(
            bool(self.name.text().strip()) and bool(self.faces) and self.consent.isChecked()
        )

    @Slot()
    def save(self) -> None:
        if not self.consent.isChecked():
            self.status.setText(
                "Ask the visitor's consent first: their face is stored only with it."
            )
            self.status.setStyleSheet(f"color: {RED};")
            return
        try:
            self.saved = self.services.enrollment.save(
                self.actor,
                self.faces,
                new=visitor_pass(self.name.text().strip()),
                source="camera",
            )
        except KioskError as exc:
            self.status.setText(str(exc))
            self.status.setStyleSheet(f"color: {RED};")
            return
        self.status.setStyleSheet(f"color: {GREEN};")
        self.accept()

    def saved_words(self) -> str:
        if self.saved is None:
            return ""
        p = self.saved.person
        until = p.valid_until.astimezone() if p.valid_until else None
        when = f" until {until:%H:%M} today" if until else ""
        return f"Visitor pass saved: {p.name} (badge {p.badge}), valid{when}."
