"""People: the list (search, status, group, thumbnail, templates), the person form, the
erase confirmation, and the photos (templates) of one person."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QDate,
    QDateTime,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSize,
    Qt,
    QTime,
    Signal,
    Slot,
)
from PySide6.QtGui import QColor, QIcon, QImage, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from kiosk.errors import KioskError
from kiosk.services.accounts import Actor
from kiosk.services.admin_console import (
    AdminConsole,
    PersonEdit,
    PersonStatus,
    person_status,
)
from kiosk.storage.records import PersonRecord

THUMB = 48
STATUS_COLOURS = {
    PersonStatus.ACTIVE: "#1b7f3b",
    PersonStatus.INACTIVE: "#a4161a",
    PersonStatus.EXPIRED: "#b35c00",
    PersonStatus.NOT_YET: "#b35c00",
    PersonStatus.ERASED: "#777777",
}
PEOPLE_COLUMNS = ("Name", "Badge", "Group", "Status", "Photos", "Valid until")


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
    import numpy as np

    array = np.ascontiguousarray(rgb)
    h, w = array.shape[:2]
    image = QImage(array.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
    return QPixmap.fromImage(image).scaled(
        size,
        size,
        Qt.AspectRatioMode.KeepAspectRatio,
        Qt.TransformationMode.SmoothTransformation,
    )


def show_error(parent: QWidget, title: str, message: str) -> None:
    QMessageBox.warning(parent, title, message[:1].upper() + message[1:])


class PeopleModel(QAbstractTableModel):
    """The people list; thumbnails are decrypted when a row is first shown."""

    def __init__(self, console: AdminConsole, actor: Actor, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.console = console
        self.actor = actor
        self.records: list[PersonRecord] = []
        self.total = 0
        #: at most this many rows are listed; the search narrows them down
        self.limit = 1000
        self._thumbs: dict[int, QPixmap | None] = {}
        self._now = datetime.now(UTC)

    def load(self, **query: Any) -> None:
        self.beginResetModel()
        self.records, self.total = self.console.people_page(self.actor, limit=self.limit, **query)
        self._now = datetime.now(UTC)
        self.endResetModel()

    def forget_thumbnail(self, person_id: int) -> None:
        self._thumbs.pop(person_id, None)

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.records)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(PEOPLE_COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return PEOPLE_COLUMNS[section]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = 0) -> Any:
        if not index.isValid():
            return None
        r = self.records[index.row()]
        p = r.person
        col = index.column()
        status = person_status(r, self._now)
        if role == Qt.ItemDataRole.DisplayRole:
            if col == 0:
                return p.name
            if col == 1:
                return p.badge
            if col == 2:
                return p.group or ""
            if col == 3:
                return status
            if col == 4:
                return str(r.templates)
            if col == 5:
                return "" if p.valid_until is None else f"{p.valid_until.astimezone():%Y-%m-%d}"
        if role == Qt.ItemDataRole.DecorationRole and col == 0:
            if p.id not in self._thumbs:
                try:
                    data = self.console.thumbnail(self.actor, p.id)
                except KioskError:
                    data = None
                self._thumbs[p.id] = pixmap_from_jpeg(data, THUMB)
            thumb = self._thumbs[p.id]
            return thumb if thumb is not None else _placeholder()
        if role == Qt.ItemDataRole.ForegroundRole and col == 3:
            return QColor(STATUS_COLOURS.get(status, "#000"))
        if role == Qt.ItemDataRole.ToolTipRole and col == 4 and r.templates == 0:
            return "No photos yet: this person cannot be recognised. Use 'Add photos'."
        return None


_PLACEHOLDER: QPixmap | None = None


def _placeholder() -> QPixmap:
    global _PLACEHOLDER
    if _PLACEHOLDER is None:
        _PLACEHOLDER = QPixmap(THUMB, THUMB)
        _PLACEHOLDER.fill(QColor("#d9d9d9"))
    return _PLACEHOLDER


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
            local = value.astimezone()
            if end_of_day:
                local = local - _ONE_DAY
            self.date.setDate(QDate(local.year, local.month, local.day))


from datetime import timedelta  # noqa: E402

_ONE_DAY = timedelta(days=1)


class PersonForm(QWidget):
    """Name, badge, group, valid from / until, notes (shared by add and edit)."""

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
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Name", self.name)
        form.addRow("Badge", self.badge)
        form.addRow("Group", self.group)
        form.addRow("Valid", self.valid_from)
        form.addRow("", self.valid_until)
        form.addRow("Notes", self.notes)

    def fill(self, record: PersonRecord) -> None:
        p = record.person
        self.name.setText(p.name)
        self.badge.setText(p.badge)
        self.group.setCurrentText(p.group or "")
        self.valid_from.set_value(p.valid_from)
        self.valid_until.set_value(p.valid_until, end_of_day=True)
        self.notes.setPlainText(record.notes)

    def edit(self) -> PersonEdit:
        return PersonEdit(
            name=self.name.text(),
            group=self.group.currentText(),
            valid_from=self.valid_from.value(),
            valid_until=self.valid_until.value(end_of_day=True),
            notes=self.notes.toPlainText(),
        )


class EditPersonDialog(QDialog):
    def __init__(
        self, console: AdminConsole, actor: Actor, record: PersonRecord, parent: QWidget | None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Edit {record.person.name}")
        self.console, self.actor, self.record = console, actor, record
        self.form = PersonForm(console.groups_in_use(), badge_editable=False)
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
            self.console.edit_person(self.actor, self.record.person.id, self.form.edit())
        except KioskError as exc:
            self.error.setText(str(exc)[:1].upper() + str(exc)[1:])
            return
        self.accept()


class TemplatesDialog(QDialog):
    """The stored photos (templates) of one person: remove single ones, add more."""

    add_photos = Signal()

    def __init__(
        self, console: AdminConsole, actor: Actor, record: PersonRecord, parent: QWidget | None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Photos of {record.person.name}")
        self.console, self.actor, self.record = console, actor, record
        self.list = QListWidget()
        self.list.setViewMode(QListWidget.ViewMode.IconMode)
        self.list.setIconSize(QSize(96, 96))
        self.list.setGridSize(QSize(130, 150))
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
        views = self.console.templates(self.actor, self.record.person.id)
        for v in views:
            pix = pixmap_from_jpeg(v.crop_jpeg, 96) or _placeholder()
            when = v.info.created_at.astimezone()
            item = QListWidgetItem(
                QIcon(pix), f"{v.info.source}\n{when:%Y-%m-%d}  q {v.info.quality:.2f}"
            )
            item.setData(Qt.ItemDataRole.UserRole, v.info.id)
            item.setToolTip(f"model {v.info.model_name} {v.info.model_version}")
            self.list.addItem(item)
        self.info.setText(
            f"{len(views)} photo(s) stored. Remove photos that show someone else or are poor; "
            "at least 3 good ones are recommended."
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
            self.console.remove_template(self.actor, template_id)
        except KioskError as exc:
            show_error(self, "Remove photo", str(exc))
        self.reload()

    @Slot()
    def _more(self) -> None:
        self.add_photos.emit()
        self.accept()


class PeoplePage(QWidget):
    """The list of people and what can be done to them."""

    def __init__(self, console: AdminConsole, actor: Actor, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.console = console
        self.actor = actor
        self.model = PeopleModel(console, actor, self)

        self.search = QLineEdit()
        self.search.setPlaceholderText("Search name or badge")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self.reload)
        self.status = QComboBox()
        self.status.addItem("any status", None)
        for s in (
            PersonStatus.ACTIVE,
            PersonStatus.INACTIVE,
            PersonStatus.EXPIRED,
            PersonStatus.NOT_YET,
            PersonStatus.ERASED,
        ):
            self.status.addItem(s, s)
        self.status.currentIndexChanged.connect(self.reload)
        self.group = QComboBox()
        self.group.currentIndexChanged.connect(self.reload)
        top = QHBoxLayout()
        top.addWidget(self.search, 2)
        top.addWidget(QLabel("Status"))
        top.addWidget(self.status)
        top.addWidget(QLabel("Group"))
        top.addWidget(self.group)

        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setIconSize(QSize(THUMB, THUMB))
        self.table.verticalHeader().setDefaultSectionSize(THUMB + 6)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setColumnWidth(0, 240)
        self.table.doubleClicked.connect(self.edit_selected)
        self.table.selectionModel().selectionChanged.connect(self._update_buttons)

        self.enroll_button = QPushButton("Enroll new person…")
        self.enroll_button.setToolTip("Add a person with photos from files or the camera")
        self.enroll_button.clicked.connect(self.enroll_new)
        self.more_button = QPushButton("Photos…")
        self.more_button.setToolTip("See, remove or add photos of the selected person")
        self.more_button.clicked.connect(self.photos_selected)
        self.edit_button = QPushButton("Edit…")
        self.edit_button.clicked.connect(self.edit_selected)
        self.active_button = QPushButton("Deactivate")
        self.active_button.clicked.connect(self.toggle_active)
        self.erase_button = QPushButton("Erase…")
        self.erase_button.setToolTip("Delete every photo and snapshot of the selected person")
        self.erase_button.setStyleSheet("QPushButton:enabled { color: #a4161a; }")
        self.erase_button.clicked.connect(self.erase_selected)
        self.summary = QLabel("")
        self.empty_hint = QLabel(
            "Nobody is enrolled yet. Press <b>Enroll new person…</b> and add three or more "
            "photos of the person, from files or with the camera."
        )
        self.empty_hint.setWordWrap(True)
        self.empty_hint.setStyleSheet("color: #555; padding: 8px;")
        buttons = QHBoxLayout()
        for b in (
            self.enroll_button,
            self.more_button,
            self.edit_button,
            self.active_button,
            self.erase_button,
        ):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(self.summary)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.empty_hint)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        self._fill_groups()
        self.reload()

    def _fill_groups(self) -> None:
        current = self.group.currentData()
        self.group.blockSignals(True)
        self.group.clear()
        self.group.addItem("all groups", None)
        self.group.addItem("(no group)", "")
        for g in self.console.groups_in_use():
            self.group.addItem(g, g)
        index = self.group.findData(current)
        self.group.setCurrentIndex(max(0, index))
        self.group.blockSignals(False)

    @Slot()
    def reload(self) -> None:
        selected = self.selected()
        self.model.load(
            search=self.search.text(),
            status=self.status.currentData(),
            group=self.group.currentData(),
        )
        n = len(self.model.records)
        total = self.model.total
        self.summary.setText(
            f"{n} {'person' if n == 1 else 'people'}"
            if n == total
            else f"first {n:,} of {total:,} people: search to narrow down"
        )
        nobody = n == 0 and not self.search.text() and self.status.currentData() is None
        self.empty_hint.setVisible(nobody and self.group.currentData() is None)
        if selected is not None:
            self.select_person(selected.person.id)
        self._update_buttons()

    def refresh(self) -> None:
        self._fill_groups()
        self.reload()

    def select_person(self, person_id: int) -> bool:
        for row, r in enumerate(self.model.records):
            if r.person.id == person_id:
                self.table.selectRow(row)
                return True
        return False

    def selected(self) -> PersonRecord | None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if not rows:
            return None
        row = rows[0].row()
        return self.model.records[row] if row < len(self.model.records) else None

    @Slot()
    def _update_buttons(self) -> None:
        record = self.selected()
        usable = record is not None and not record.erased
        for b in (self.more_button, self.edit_button, self.active_button, self.erase_button):
            b.setEnabled(usable)
        if record is not None:
            self.active_button.setText("Activate" if not record.person.active else "Deactivate")

    def _require(self) -> PersonRecord | None:
        record = self.selected()
        if record is None:
            show_error(self, "People", "Select a person in the list first.")
        return record

    @Slot()
    def enroll_new(self) -> None:
        from kiosk.ui.admin.enroll import EnrollDialog

        dialog = EnrollDialog(self.console, self.actor, None, self)
        if dialog.exec():
            self.refresh()
            if dialog.saved is not None:
                self.select_person(dialog.saved.person.id)

    @Slot()
    def photos_selected(self) -> None:
        record = self._require()
        if record is None:
            return
        dialog = TemplatesDialog(self.console, self.actor, record, self)
        wants_more = []
        dialog.add_photos.connect(lambda: wants_more.append(True))
        dialog.exec()
        self.model.forget_thumbnail(record.person.id)
        if wants_more:
            self.add_photos(record)
        self.reload()

    def add_photos(self, record: PersonRecord) -> None:
        from kiosk.ui.admin.enroll import EnrollDialog

        dialog = EnrollDialog(self.console, self.actor, record, self)
        dialog.exec()
        self.model.forget_thumbnail(record.person.id)
        self.reload()

    @Slot()
    def edit_selected(self) -> None:
        record = self._require()
        if record is None or record.erased:
            return
        if EditPersonDialog(self.console, self.actor, record, self).exec():
            self.refresh()

    @Slot()
    def toggle_active(self) -> None:
        record = self._require()
        if record is None:
            return
        try:
            self.console.set_active(self.actor, record.person.id, not record.person.active)
        except KioskError as exc:
            show_error(self, "People", str(exc))
        self.reload()

    @Slot()
    def erase_selected(self) -> None:
        record = self._require()
        if record is None:
            return
        try:
            preview = self.console.erasure_preview(self.actor, record.person.id)
        except KioskError as exc:
            show_error(self, "Erase", str(exc))
            return
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("Erase a person")
        box.setText(preview.describe())
        erase = box.addButton("Erase for good", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        self.erase_box = box  # tests read the text
        box.exec()
        if box.clickedButton() is not erase:
            return
        self.erase(record.person.id)

    def erase(self, person_id: int) -> None:
        try:
            self.console.erase(self.actor, person_id)
        except KioskError as exc:
            show_error(self, "Erase", str(exc))
        self.model.forget_thumbnail(person_id)
        self.reload()
