"""The dialogs of one person: edit the person form; see, remove or add their photos."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal, Slot
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from kiosk.errors import KioskError
from kiosk.services.accounts import Actor
from kiosk.services.enrollment import RECOMMENDED_PHOTOS
from kiosk.services.people import PeopleService
from kiosk.storage.records import PersonRecord
from kiosk.ui.admin.widgets import PersonForm, pixmap_from_jpeg, placeholder, sentence, show_error


class EditPersonDialog(QDialog):
    def __init__(
        self, people: PeopleService, actor: Actor, record: PersonRecord, parent: QWidget | None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Edit {record.person.name}")
        self.people, self.actor, self.record = people, actor, record
        self.form = PersonForm(people.groups_in_use(actor), badge_editable=False)
        self.form.fill(record)
        self.error = QLabel("")
        self.error.setStyleSheet("color: #a4161a;")
        self.error.setWordWrap(True)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.form)
        layout.addWidget(self.error)
        layout.addWidget(buttons)

    @Slot()
    def save(self) -> None:
        try:
            self.people.edit(self.actor, self.record.person.id, self.form.edit())
        except KioskError as exc:
            self.error.setText(sentence(str(exc)))
            return
        self.accept()


class TemplatesDialog(QDialog):
    """The stored photos (templates) of one person: remove single ones, add more."""

    add_photos = Signal()

    def __init__(
        self, people: PeopleService, actor: Actor, record: PersonRecord, parent: QWidget | None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Photos of {record.person.name}")
        self.people, self.actor, self.record = people, actor, record
        self.list = QListWidget()
        self.list.setViewMode(QListWidget.ViewMode.IconMode)
        self.list.setIconSize(QSize(96, 96))
        self.list.setGridSize(QSize(160, 160))
        self.list.setWordWrap(True)
        self.list.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.list.setMinimumSize(560, 330)
        self.info = QLabel("")
        remove = QPushButton("Remove selected photo")
        remove.clicked.connect(self.remove_selected)
        more = QPushButton("Add photos…")
        more.clicked.connect(self._more)
        close = QPushButton("Close")
        close.clicked.connect(self.accept)
        buttons = QHBoxLayout()
        buttons.addWidget(remove)
        buttons.addWidget(more)
        buttons.addStretch(1)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.info)
        layout.addWidget(self.list)
        layout.addLayout(buttons)
        self.reload()

    def reload(self) -> None:
        self.list.clear()
        views = self.people.templates(self.actor, self.record.person.id)
        for v in views:
            pix = pixmap_from_jpeg(v.crop_jpeg, 96) or placeholder()
            when = v.info.created_at.astimezone()
            source = v.info.source.removeprefix("file:")
            item = QListWidgetItem(
                QIcon(pix), f"{source}\n{when:%Y-%m-%d}, quality {v.info.quality:.0%}"
            )
            item.setData(Qt.ItemDataRole.UserRole, v.info.id)
            item.setToolTip(
                f"{v.info.source}, template #{v.info.id}\n"
                f"model {v.info.model_name} {v.info.model_version}"
            )
            self.list.addItem(item)
        self.info.setText(
            f"{len(views)} photo(s) stored. Remove photos that show someone else or are poor; "
            f"about {RECOMMENDED_PHOTOS} good ones, in a few poses, work best."
        )

    @Slot()
    def remove_selected(self) -> None:
        item = self.list.currentItem()
        if item is None:
            show_error(self, "Remove photo", "Select a photo first.")
            return
        template_id = int(item.data(Qt.ItemDataRole.UserRole))
        answer = QMessageBox.question(
            self,
            "Remove photo",
            f"Remove this photo (template #{template_id}) of {self.record.person.name}? "
            "The kiosk will no longer use it.",
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        self.remove_template(template_id)

    def remove_template(self, template_id: int) -> None:
        try:
            self.people.remove_template(self.actor, template_id)
        except KioskError as exc:
            show_error(self, "Remove photo", str(exc))
        self.reload()

    @Slot()
    def _more(self) -> None:
        self.add_photos.emit()
        self.accept()
