"""People: the list (search, status, group, thumbnail, templates), the edit dialog, the
erase confirmation, and the photos (templates) of one person. Enrollment is
:mod:`kiosk.ui.admin.enroll`; the form and pictures are in :mod:`kiosk.ui.admin.widgets`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSize,
    Qt,
    Slot,
)
from PySide6.QtGui import QColor, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from kiosk.errors import KioskError
from kiosk.services.accounts import Actor
from kiosk.services.admin import AdminServices
from kiosk.services.enrollment import RECOMMENDED_PHOTOS
from kiosk.services.people import PeopleService, PersonStatus, person_status
from kiosk.storage.records import PersonRecord
from kiosk.ui.admin.enroll import EnrollDialog, saved_words
from kiosk.ui.admin.person_dialogs import EditPersonDialog, TemplatesDialog
from kiosk.ui.admin.widgets import (
    AMBER,
    GREEN,
    RED,
    THUMB,
    last_day,
    pixmap_from_jpeg,
    placeholder,
    show_error,
)
from kiosk.vision.networks import network

STATUS_COLOURS = {
    PersonStatus.ACTIVE: GREEN,
    PersonStatus.INACTIVE: RED,
    PersonStatus.EXPIRED: AMBER,
    PersonStatus.NOT_YET: AMBER,
    PersonStatus.ERASED: "#777777",
}
PEOPLE_COLUMNS = ("Name", "Badge", "Group", "Status", "Photos", "Valid until (last day)")


class PeopleModel(QAbstractTableModel):
    """The people list; thumbnails are decrypted when a row is first shown."""

    def __init__(self, people: PeopleService, actor: Actor, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.people = people
        self.actor = actor
        self.records: list[PersonRecord] = []
        self.total = 0
        #: at most this many rows are listed; the search narrows them down
        self.limit = 1000
        self._thumbs: dict[int, QPixmap | None] = {}
        self._now = datetime.now(UTC)
        #: the network in use: people with none of its templates and no crop need photos
        self.network_checksum = ""
        self.need_photos: set[int] = set()

    def load(self, **query: Any) -> None:
        self.beginResetModel()
        self.records, self.total = self.people.page(self.actor, limit=self.limit, **query)
        self._now = datetime.now(UTC)
        try:
            self.need_photos = self.people.need_new_photos(self.actor, self.network_checksum)
        except KioskError:  # an auditor: no template details
            self.need_photos = set()
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
                return f"{p.name} (visitor)" if r.visitor else p.name
            if col == 1:
                return p.badge
            if col == 2:
                return p.group or ""
            if col == 3:
                return status
            if col == 4:
                return (
                    f"{r.templates} (needs new photos)"
                    if p.id in self.need_photos and r.templates
                    else str(r.templates)
                )
            if col == 5:
                return "" if p.valid_until is None else f"{last_day(p.valid_until):%Y-%m-%d}"
        if role == Qt.ItemDataRole.DecorationRole and col == 0:
            if p.id not in self._thumbs:
                try:
                    data = self.people.thumbnail(self.actor, p.id)
                except KioskError:
                    data = None
                self._thumbs[p.id] = pixmap_from_jpeg(data, THUMB)
            thumb = self._thumbs[p.id]
            return thumb if thumb is not None else placeholder()
        if role == Qt.ItemDataRole.ForegroundRole and col == 3:
            return QColor(STATUS_COLOURS.get(status, "#000"))
        if role == Qt.ItemDataRole.ToolTipRole and col == 4 and r.templates == 0:
            return "No photos yet: this person cannot be recognised. Use 'Add photos'."
        if role == Qt.ItemDataRole.ToolTipRole and col == 4 and p.id in self.need_photos:
            return (
                "Their photos were taken with another recognition network and no crop was "
                "kept to convert them: this person cannot be recognised. Use 'Add photos'."
            )
        if role == Qt.ItemDataRole.ForegroundRole and col == 4 and p.id in self.need_photos:
            return QColor("#a4161a")
        return None


class PeoplePage(QWidget):
    """The list of people and what can be done to them."""

    def __init__(
        self, services: AdminServices, actor: Actor, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.services = services
        self.people = services.people
        self.actor = actor
        self.model = PeopleModel(services.people, actor, self)
        self.model.network_checksum = network(services.settings.vision.network).sha256

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
        self.kind = QComboBox()
        self.kind.setObjectName("peopleKind")
        self.kind.addItem("Staff and visitors", None)
        self.kind.addItem("Staff", False)
        self.kind.addItem("Visitors", True)
        self.kind.currentIndexChanged.connect(self.reload)
        top = QHBoxLayout()
        top.addWidget(self.search, 2)
        top.addWidget(self.kind)
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

        self.visitor_button = QPushButton("New visitor…")
        self.visitor_button.setToolTip(
            "A pass for today: the visitor's name and a few camera photos; erased when it ends"
        )
        self.visitor_button.clicked.connect(self.new_visitor)
        self.enroll_button = QPushButton("Enroll new person…")
        self.enroll_button.setToolTip("Add a person with photos from files or the camera")
        self.enroll_button.clicked.connect(self.enroll_new)
        self.import_button = QPushButton("Import…")
        self.import_button.setToolTip("Add many people at once from a CSV and a photo folder")
        self.import_button.clicked.connect(self.import_staff)
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
            "Nobody is enrolled yet. Press <b>Enroll new person…</b> and add about "
            f"{RECOMMENDED_PHOTOS} photos of the person, from files or with the camera."
        )
        self.empty_hint.setWordWrap(True)
        self.empty_hint.setStyleSheet("color: #555; padding: 8px;")
        self.notice = QLabel("")
        self.notice.setObjectName("savedNotice")
        self.notice.setWordWrap(True)
        self.notice.setStyleSheet(
            f"color: {GREEN}; background: #e6f4ea; padding: 6px; border-radius: 3px;"
        )
        self.notice.setVisible(False)
        buttons = QHBoxLayout()
        for b in (
            self.enroll_button,
            self.visitor_button,
            self.import_button,
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
        layout.addWidget(self.notice)
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
        for g in self.people.groups_in_use(self.actor):
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
            visitors=self.kind.currentData(),
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
        self.notice.setVisible(False)
        dialog = EnrollDialog(self.services, self.actor, None, self)
        dialog.exec()
        if dialog.saved is not None:
            self.refresh()
            self.confirm(dialog.saved.person.id, saved_words(dialog.saved))

    @Slot()
    def new_visitor(self) -> None:
        from kiosk.ui.admin.visitor import VisitorDialog

        self.notice.setVisible(False)
        dialog = VisitorDialog(self.services, self.actor, self)
        dialog.exec()
        if dialog.saved is not None:
            self.refresh()
            self.confirm(dialog.saved.person.id, dialog.saved_words())

    @Slot()
    def import_staff(self) -> None:
        from kiosk.ui.admin.import_dialog import ImportDialog

        self.notice.setVisible(False)
        ImportDialog(self.services, self.actor, self).exec()
        self.refresh()

    @Slot()
    def photos_selected(self) -> None:
        self.notice.setVisible(False)
        record = self._require()
        if record is None:
            return
        dialog = TemplatesDialog(self.people, self.actor, record, self)
        wants_more = []
        dialog.add_photos.connect(lambda: wants_more.append(True))
        dialog.exec()
        self.model.forget_thumbnail(record.person.id)
        if wants_more:
            self.add_photos(record)
        self.reload()

    def add_photos(self, record: PersonRecord) -> None:
        dialog = EnrollDialog(self.services, self.actor, record, self)
        dialog.exec()
        self.model.forget_thumbnail(record.person.id)
        self.reload()
        if dialog.saved is not None:
            self.confirm(record.person.id, saved_words(dialog.saved))

    def confirm(self, person_id: int, words: str) -> None:
        """Say what was saved (until the next change) and select the person."""
        self.notice.setText(words)
        self.notice.setVisible(True)
        self.select_person(person_id)

    @Slot()
    def edit_selected(self) -> None:
        self.notice.setVisible(False)
        record = self._require()
        if record is None or record.erased:
            return
        if EditPersonDialog(self.people, self.actor, record, self).exec():
            self.refresh()

    @Slot()
    def toggle_active(self) -> None:
        self.notice.setVisible(False)
        record = self._require()
        if record is None:
            return
        try:
            self.people.set_active(self.actor, record.person.id, not record.person.active)
        except KioskError as exc:
            show_error(self, "People", str(exc))
        self.reload()

    @Slot()
    def erase_selected(self) -> None:
        self.notice.setVisible(False)
        record = self._require()
        if record is None:
            return
        try:
            preview = self.people.erasure_preview(self.actor, record.person.id)
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
            self.people.erase(self.actor, person_id)
        except KioskError as exc:
            show_error(self, "Erase", str(exc))
        self.model.forget_thumbnail(person_id)
        self.reload()
