"""Enrollment of a new person, or more photos for one already enrolled: photos from files
(picked or dropped) or from the guided camera capture, each marked accepted or rejected
with the reason, a duplicate check, and the admin's review before anything is saved."""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSize, Qt, Slot
from PySide6.QtGui import QColor, QDragEnterEvent, QDropEvent, QIcon, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from kiosk.errors import KioskError
from kiosk.services.accounts import Actor
from kiosk.services.admin_console import (
    AdminConsole,
    CheckedFace,
    NewPerson,
    SavedEnrollment,
)
from kiosk.services.enrollment import IMAGE_SUFFIXES, DuplicateWarning
from kiosk.storage.records import PersonRecord
from kiosk.ui.admin.people import PersonForm, pixmap_from_rgb
from kiosk.ui.admin.tasks import BackgroundTask, run_task

ICON = 96


def _rejected_icon() -> QPixmap:
    pix = QPixmap(ICON, ICON)
    pix.fill(QColor("#f3d6d6"))
    return pix


def _file_icon(path: str) -> QPixmap | None:
    """A small, greyed copy of a rejected photo file, so the admin sees which it was."""
    from PySide6.QtGui import QImageReader

    reader = QImageReader(path)
    reader.setAutoTransform(True)
    size = reader.size()
    if size.isValid() and max(size.width(), size.height()) > 4 * ICON:
        reader.setScaledSize(size.scaled(2 * ICON, 2 * ICON, Qt.AspectRatioMode.KeepAspectRatio))
    image = reader.read()
    if image.isNull():
        return None
    pix = QPixmap.fromImage(image).scaled(
        ICON, ICON, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
    )
    painter = QPainter(pix)
    painter.fillRect(pix.rect(), QColor(255, 255, 255, 120))
    painter.setPen(QPen(QColor("#a4161a"), 3))
    painter.drawRect(pix.rect().adjusted(1, 1, -2, -2))
    painter.end()
    return pix


class EnrollDialog(QDialog):
    """``existing`` None: a new person (form + photos); else more photos for them."""

    def __init__(
        self,
        console: AdminConsole,
        actor: Actor,
        existing: PersonRecord | None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.console = console
        self.actor = actor
        self.existing = existing
        self.faces: list[CheckedFace] = []
        self.duplicates: list[DuplicateWarning] = []
        self.odd: list[str] = []
        self.saved: SavedEnrollment | None = None
        self._task: BackgroundTask | None = None
        self._queued = 0
        self._camera_shots = 0
        self._done = 0
        self.setAcceptDrops(True)
        if existing is None:
            self.setWindowTitle("Enroll a new person")
        else:
            p = existing.person
            self.setWindowTitle(f"Add photos of {p.name}")

        layout = QVBoxLayout(self)
        self.form: PersonForm | None = None
        if existing is None:
            self.form = PersonForm(console.groups_in_use())
            layout.addWidget(self.form)
        else:
            p = existing.person
            layout.addWidget(
                QLabel(
                    f"<b>{p.name}</b> (badge {p.badge}) has {existing.templates} photo(s). "
                    "New photos are added to them."
                )
            )
        hint = QLabel(
            "Add 3 to 10 photos: from files (or drag them here) or with the camera. "
            "Each photo is checked; rejected ones say why and are not saved. Select a photo "
            "and press Delete to drop it."
        )
        hint.setWordWrap(True)
        layout.addWidget(hint)
        self.list = QListWidget()
        self.list.setViewMode(QListWidget.ViewMode.IconMode)
        self.list.setIconSize(QSize(ICON, ICON))
        self.list.setGridSize(QSize(170, 175))
        self.list.setWordWrap(True)
        self.list.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.list.setMinimumSize(640, 260)
        self.list.setSelectionMode(QListWidget.SelectionMode.ExtendedSelection)
        layout.addWidget(self.list, 1)

        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.status = QLabel("No photos yet.")
        self.status.setWordWrap(True)
        self.duplicate_label = QLabel("")
        self.duplicate_label.setObjectName("duplicateWarning")
        self.duplicate_label.setWordWrap(True)
        self.duplicate_label.setStyleSheet(
            "color: #7a4a00; background: #fff3cd; padding: 6px; border-radius: 3px;"
        )
        self.duplicate_label.setVisible(False)
        self.error = QLabel("")
        self.error.setStyleSheet("color: #a4161a;")
        self.error.setWordWrap(True)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.duplicate_label)
        layout.addWidget(self.error)

        files = QPushButton("Add photo files…")
        files.clicked.connect(self._pick_files)
        camera = QPushButton("Take photos with the camera…")
        camera.clicked.connect(self.capture_from_camera)
        self.camera_button = camera
        drop = QPushButton("Drop selected")
        drop.clicked.connect(self.drop_selected)
        self.save_button = QPushButton("Save")
        self.save_button.setDefault(True)
        self.save_button.setEnabled(False)
        self.save_button.clicked.connect(self._save_clicked)
        cancel = QPushButton("Cancel")
        cancel.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addWidget(files)
        buttons.addWidget(camera)
        buttons.addWidget(drop)
        buttons.addStretch(1)
        buttons.addWidget(self.save_button)
        buttons.addWidget(cancel)
        layout.addLayout(buttons)
        self.resize(780, 760)

    # -- adding photos -------------------------------------------------------------------

    @Slot()
    def _pick_files(self) -> None:
        suffixes = " ".join(f"*{s}" for s in sorted(IMAGE_SUFFIXES))
        paths, _ = QFileDialog.getOpenFileNames(
            self, "Photos of the person", "", f"Images ({suffixes})"
        )
        if paths:
            self.add_files([Path(p) for p in paths])

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        self.add_files([p for p in paths if p.is_file()])

    def add_files(self, paths: list[Path]) -> None:
        """Check the photos in the background; each appears with its mark as it is done."""
        if not paths:
            return
        if self._task is not None and self._task.running:
            self.error.setText("Wait until the photos being checked are done.")
            return
        self.error.clear()
        self._queued, self._done = len(paths), 0
        self.progress.setRange(0, len(paths))
        self.progress.setValue(0)
        self.progress.setVisible(True)
        self.status.setText(f"Checking {len(paths)} photo(s)… (the first takes longer)")
        self.save_button.setEnabled(False)
        self.camera_button.setEnabled(False)
        console = self.console
        exclude = None if self.existing is None else self.existing.person.id

        def work(progress: Any, stop: threading.Event) -> tuple[DuplicateWarning, ...]:
            checked = []
            for path in paths:
                if stop.is_set():
                    return ()
                face = console.check_file(path)
                checked.append(face)
                progress(face)
            # the whole gallery is searched: off the GUI thread on a large site
            return tuple(console.duplicates(checked, exclude))

        self._task = run_task(
            self,
            work,
            on_progress=self._checked,
            on_success=self._checks_done,
            on_failure=self._failed,
            name="enroll-check",
        )

    def add_faces(self, faces: list[CheckedFace]) -> None:
        """Faces from the camera capture (already checked); the duplicate check runs in
        the background."""
        if self._task is not None and self._task.running:
            self.error.setText("Wait until the photos being checked are done.")
            return
        named = []
        for face in faces:
            self._camera_shots += 1
            named.append(dataclasses.replace(face, source=f"camera {self._camera_shots}"))
        for face in named:
            self._append(face)
        console = self.console
        exclude = None if self.existing is None else self.existing.person.id

        def work(progress: Any, stop: threading.Event) -> tuple[DuplicateWarning, ...]:
            return tuple(console.duplicates(named, exclude))

        self.save_button.setEnabled(False)
        self._task = run_task(
            self, work, on_success=self._checks_done, on_failure=self._failed, name="enroll-dup"
        )
        self._update_status()

    @Slot(object)
    def _checked(self, face: object) -> None:
        assert isinstance(face, CheckedFace)
        self._done += 1
        self.progress.setValue(self._done)
        self._append(face)

    def _append(self, face: CheckedFace) -> None:
        self.faces.append(face)
        name = Path(face.source).name if "/" in face.source else face.source
        if face.accepted and face.chip is not None:
            icon = pixmap_from_rgb(face.chip, ICON)
            text = f"✔ {name}\naccepted"
        else:
            icon = _file_icon(face.source) or _rejected_icon()
            text = f"✘ {name}\n{face.reason_text}"
        item = QListWidgetItem(QIcon(icon), text)
        item.setData(Qt.ItemDataRole.UserRole, face)
        item.setForeground(QColor("#1b7f3b" if face.accepted else "#a4161a"))
        item.setToolTip(f"{face.source}\n{face.reason_text}\nquality {face.quality:.2f}")
        self.list.addItem(item)

    @Slot(object)
    def _checks_done(self, found: object) -> None:
        self.progress.setVisible(False)
        self.duplicates += list(found)  # type: ignore[call-overload]
        self._show_warnings()
        self._update_status()

    @Slot(str)
    def _failed(self, message: str) -> None:
        self.progress.setVisible(False)
        self.error.setText(message[:1].upper() + message[1:])
        self._update_status()

    def keyPressEvent(self, event: Any) -> None:
        if event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
            self.drop_selected()
            return
        super().keyPressEvent(event)

    @Slot()
    def drop_selected(self) -> None:
        for item in self.list.selectedItems():
            face = item.data(Qt.ItemDataRole.UserRole)
            self.faces = [f for f in self.faces if f is not face]
            self.list.takeItem(self.list.row(item))
        kept = {f.source for f in self.faces}
        self.duplicates = [d for d in self.duplicates if d.photo in kept]
        self._show_warnings()
        self._update_status()

    # -- checks --------------------------------------------------------------------------

    @property
    def accepted_faces(self) -> list[CheckedFace]:
        return [f for f in self.faces if f.accepted]

    def _show_warnings(self) -> None:
        self.odd = self.console.odd_ones_out(self.faces)
        if not self.duplicates and not self.odd:
            self.duplicate_label.setVisible(False)
            return
        lines = []
        if self.odd:
            names = ", ".join(Path(s).name for s in self.odd)
            lines.append(
                f"⚠ These photos do not look like the same person as the others: <b>{names}</b>. "
                "Drop them unless you are sure."
            )
        whom: dict[str, list[DuplicateWarning]] = {}
        for d in self.duplicates:
            whom.setdefault(f"{d.name} (badge {d.badge})", []).append(d)
        lines += [
            f"⚠ {len(ds)} photo(s) already match <b>{who}</b> "
            f"(closest distance {min(d.distance for d in ds):.2f})."
            for who, ds in whom.items()
        ]
        if self.duplicates:
            lines.append("Is this the same person enrolled twice? Check before saving.")
        self.duplicate_label.setText("<br>".join(lines))
        self.duplicate_label.setVisible(True)

    def _update_status(self) -> None:
        accepted = len(self.accepted_faces)
        rejected = len(self.faces) - accepted
        if not self.faces:
            self.status.setText("No photos yet.")
        else:
            advice = "" if accepted >= 3 else " At least 3 good photos are recommended."
            self.status.setText(f"{accepted} accepted, {rejected} rejected.{advice}")
        busy = self._task is not None and self._task.running
        self.save_button.setEnabled(accepted > 0 and not busy)
        # the face pipeline serves one check at a time
        self.camera_button.setEnabled(not busy)

    # -- camera --------------------------------------------------------------------------

    @Slot()
    def capture_from_camera(self) -> None:
        from kiosk.ui.admin.capture import CaptureDialog

        dialog = CaptureDialog(self.console, self)
        if dialog.exec() and dialog.kept:
            self.add_faces(dialog.kept)

    # -- saving --------------------------------------------------------------------------

    @Slot()
    def _save_clicked(self) -> None:
        if self.odd:
            answer = QMessageBox.question(
                self,
                "Photos of someone else?",
                "Some photos do not look like the same person as the others. Save anyway?",
                QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Cancel,
                QMessageBox.StandardButton.Cancel,
            )
            if answer != QMessageBox.StandardButton.Save:
                return
        if self.duplicates:
            names = ", ".join(sorted({d.name for d in self.duplicates}))
            answer = QMessageBox.question(
                self,
                "Possible duplicate",
                f"These photos already match {names}. Save them anyway?",
                QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Cancel,
                QMessageBox.StandardButton.Cancel,
            )
            if answer != QMessageBox.StandardButton.Save:
                return
        self.save()

    def save(self) -> bool:
        """Store the accepted photos; true when saved (the dialog closes)."""
        sources = {
            "camera" if f.source.startswith("camera") else "file" for f in self.accepted_faces
        }
        source = "camera" if sources == {"camera"} else "file"
        try:
            if self.existing is None:
                assert self.form is not None
                edit = self.form.edit()
                new = NewPerson(
                    name=edit.name,
                    badge=self.form.badge.text(),
                    group=edit.group,
                    valid_from=edit.valid_from,
                    valid_until=edit.valid_until,
                    notes=edit.notes,
                )
                self.saved = self.console.save_enrollment(
                    self.actor, self.faces, new=new, source=source
                )
            else:
                self.saved = self.console.save_enrollment(
                    self.actor, self.faces, person_id=self.existing.person.id, source=source
                )
        except KioskError as exc:
            self.error.setText(str(exc)[:1].upper() + str(exc)[1:])
            return False
        self.accept()
        return True

    def done(self, result: int) -> None:
        if self._task is not None:
            self._task.stop()
        super().done(result)
