"""Enrollment of a new person, or more photos for one already enrolled: photos from files
(picked or dropped) or from the guided camera capture, each marked accepted, rejected
with the reason, or in doubt (amber: it looks like someone else, or like another enrolled
person), and the admin's review and the person's consent before anything is saved."""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSize, Qt, Slot
from PySide6.QtGui import QColor, QDragEnterEvent, QDropEvent, QIcon
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
from kiosk.services.admin import AdminServices
from kiosk.services.enrollment import (
    MIN_GOOD_PHOTOS,
    RECOMMENDED_PHOTOS,
    DuplicateWarning,
    SavedEnrollment,
)
from kiosk.services.photo_check import IMAGE_SUFFIXES, CheckedFace
from kiosk.storage.records import PersonRecord
from kiosk.ui.admin.capture import CaptureDialog
from kiosk.ui.admin.discard import may_discard
from kiosk.ui.admin.enroll_icons import ICON, file_icon, framed, rejected_icon
from kiosk.ui.admin.tasks import BackgroundTask, run_task
from kiosk.ui.admin.widgets import (
    AMBER,
    GREEN,
    RED,
    PersonForm,
    consent_words,
    pixmap_from_rgb,
    sentence,
)


class EnrollDialog(QDialog):
    """``existing`` None: a new person (form + photos); else more photos for them."""

    def __init__(
        self,
        services: AdminServices,
        actor: Actor,
        existing: PersonRecord | None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.services = services
        self.enrollment = services.enrollment
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
            self.form = PersonForm(services.people.groups_in_use(actor))
            layout.addWidget(self.form)
        else:
            p = existing.person
            layout.addWidget(
                QLabel(
                    f"<b>{p.name}</b> (badge {p.badge}) has {existing.templates} photo(s). "
                    f"New photos are added to them. {consent_words(existing)}"
                )
            )
        hint = QLabel(
            f"Add about {RECOMMENDED_PHOTOS} photos: from files (or drag them here) or with "
            "the camera, looking straight and a little to each side. Each photo is checked: "
            "green ones are saved, red ones say why not, amber ones need your look. Select a "
            "photo and press Delete to drop it."
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
        cancel.clicked.connect(self.cancel)
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
        enrollment = self.enrollment
        exclude = None if self.existing is None else self.existing.person.id

        def work(progress: Any, stop: threading.Event) -> tuple[DuplicateWarning, ...]:
            checked = []
            for path in paths:
                if stop.is_set():
                    return ()
                face = enrollment.check_photo(path)
                checked.append(face)
                progress(face)
            # the whole gallery is searched: off the GUI thread on a large site
            return tuple(enrollment.find_duplicates(checked, exclude))

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
        enrollment = self.enrollment
        exclude = None if self.existing is None else self.existing.person.id

        def work(progress: Any, stop: threading.Event) -> tuple[DuplicateWarning, ...]:
            return tuple(enrollment.find_duplicates(named, exclude))

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
        item = QListWidgetItem()
        item.setData(Qt.ItemDataRole.UserRole, face)
        self.list.addItem(item)
        self._mark(item)

    def _doubt(self, face: CheckedFace) -> str | None:
        """Why an accepted face needs the admin's look (``None``: it does not)."""
        if face.source in self.odd:
            return "not like the others: someone else?"
        matches = [d for d in self.duplicates if d.photo == face.source]
        if matches:
            return f"looks like {matches[0].name} (badge {matches[0].badge})"
        return None

    def _mark(self, item: QListWidgetItem) -> None:
        """Tick, cross or question mark, colour and words of one photo's tile."""
        face: CheckedFace = item.data(Qt.ItemDataRole.UserRole)
        if face.accepted and face.chip is not None:
            doubt = self._doubt(face)
            icon = pixmap_from_rgb(face.chip, ICON)
            if doubt is None and face.warnings:
                # kept and stored with its warning: it may match less well
                text, colour = f"✔ {face.name}\naccepted; {face.warnings[0]}", AMBER
                icon = framed(icon, AMBER)
            elif doubt is None:
                text, colour = f"✔ {face.name}\naccepted", GREEN
            else:
                text, colour = f"? {face.name}\n{doubt}", AMBER
                icon = framed(icon, AMBER)
            reason = doubt or face.reason_text
        else:
            icon = file_icon(face.source) or rejected_icon()
            text, colour, reason = f"✘ {face.name}\n{face.reason_text}", RED, face.reason_text
        item.setIcon(QIcon(icon))
        item.setText(text)
        item.setForeground(QColor(colour))
        item.setToolTip(f"{face.source}\n{reason}\nquality {face.quality:.2f}")

    def _remark(self) -> None:
        for i in range(self.list.count()):
            self._mark(self.list.item(i))

    @Slot(object)
    def _checks_done(self, found: object) -> None:
        self.progress.setVisible(False)
        self.duplicates += list(found)  # type: ignore[call-overload]
        self._show_warnings()
        self._update_status()

    @Slot(str)
    def _failed(self, message: str) -> None:
        self.progress.setVisible(False)
        self.error.setText(sentence(message))
        self._update_status()

    def keyPressEvent(self, event: Any) -> None:
        if event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
            self.drop_selected()
            return
        if event.key() == Qt.Key.Key_Escape:
            self.cancel()
            return
        super().keyPressEvent(event)

    @Slot()
    def cancel(self) -> None:
        """Esc or Cancel: a typed name or checked photos are not thrown away unasked
        (closing for an idle sign-out does not ask: it goes through ``reject``)."""
        name = self.form.name.text().strip() if self.form is not None else ""
        if may_discard(self, name, len(self.faces)):
            self.reject()

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

    @property
    def in_doubt(self) -> list[CheckedFace]:
        """Accepted faces the admin should look at before saving (amber tiles)."""
        return [f for f in self.accepted_faces if self._doubt(f) is not None]

    def _show_warnings(self) -> None:
        self.odd = self.enrollment.odd_ones_out(self.faces)
        self._remark()
        if not self.duplicates and not self.odd:
            self.duplicate_label.setVisible(False)
            return
        lines = []
        if self.odd:
            names = ", ".join(Path(s).name for s in self.odd)
            lines.append(
                f"? These photos do not look like the same person as the others: <b>{names}</b>. "
                "Drop them unless you are sure."
            )
        whom: dict[str, list[DuplicateWarning]] = {}
        for d in self.duplicates:
            whom.setdefault(f"{d.name} (badge {d.badge})", []).append(d)
        lines += [
            f"? {len(ds)} photo(s) look like <b>{who}</b>, already enrolled. "
            f"<span style='color:#555'>Details: closest distance {min(d.distance for d in ds):.2f}"
            "</span>"
            for who, ds in whom.items()
        ]
        if self.duplicates:
            lines.append("Is this the same person enrolled twice? Check before saving.")
        self.duplicate_label.setText("<br>".join(lines))
        self.duplicate_label.setVisible(True)

    def _update_status(self) -> None:
        accepted = len(self.accepted_faces)
        rejected = len(self.faces) - accepted
        doubt = len(self.in_doubt)
        if not self.faces:
            self.status.setText(f"No photos yet: add about {RECOMMENDED_PHOTOS}.")
        else:
            marks = f"{accepted} accepted" + (f" ({doubt} in doubt)" if doubt else "")
            if accepted < MIN_GOOD_PHOTOS:
                advice = f" Add more: about {RECOMMENDED_PHOTOS} good photos work best."
            elif accepted < RECOMMENDED_PHOTOS:
                advice = f" More photos (up to about {RECOMMENDED_PHOTOS}) help recognition."
            else:
                advice = ""
            self.status.setText(f"{marks}, {rejected} rejected.{advice}")
        busy = self._task is not None and self._task.running
        self.save_button.setEnabled(accepted > 0 and not busy)
        # the face pipeline serves one check at a time
        self.camera_button.setEnabled(not busy)

    # -- camera --------------------------------------------------------------------------

    @Slot()
    def capture_from_camera(self) -> None:
        dialog = CaptureDialog(self.services, self)
        if dialog.exec() and dialog.kept:
            self.add_faces(dialog.kept)

    # -- saving --------------------------------------------------------------------------

    def doubt_question(self) -> str | None:
        """The question before saving photos in doubt (``None``: nothing to ask)."""
        doubtful = self.in_doubt
        if not doubtful:
            return None
        lines = [f"• {f.name}: {self._doubt(f)}" for f in doubtful]
        return (
            f"{len(doubtful)} photo(s) may not show this person:\n"
            + "\n".join(lines)
            + "\n\nA photo of someone else lets that person in as this one. Save them anyway?"
        )

    @Slot()
    def _save_clicked(self) -> None:
        question = self.doubt_question()
        if question is not None:
            box = QMessageBox(self)
            box.setIcon(QMessageBox.Icon.Warning)
            box.setWindowTitle("Photos in doubt")
            box.setText(question)
            save = box.addButton("Save anyway", QMessageBox.ButtonRole.AcceptRole)
            back = box.addButton("Go back and check", QMessageBox.ButtonRole.RejectRole)
            box.setDefaultButton(back)
            self.doubt_box = box  # tests read the text
            box.exec()
            if box.clickedButton() is not save:
                return
        self.save()

    def save(self) -> bool:
        """Store the accepted photos; true when saved (the dialog closes and the caller
        confirms it)."""
        sources = {
            "camera" if f.source.startswith("camera") else "file" for f in self.accepted_faces
        }
        source = "camera" if sources == {"camera"} else "file"
        enrollment, duplicates = self.enrollment, self.duplicates
        try:
            if self.existing is None:
                assert self.form is not None
                self.saved = enrollment.save(
                    self.actor,
                    self.faces,
                    new=self.form.new_person(),
                    source=source,
                    duplicates=duplicates,
                )
            else:
                self.saved = enrollment.save(
                    self.actor,
                    self.faces,
                    person_id=self.existing.person.id,
                    source=source,
                    duplicates=duplicates,
                )
        except KioskError as exc:
            self.error.setText(sentence(str(exc)))
            return False
        self.accept()
        return True

    def done(self, result: int) -> None:
        if self._task is not None:
            self._task.stop()
        super().done(result)


def saved_words(saved: SavedEnrollment) -> str:
    """The confirmation after a save."""
    p = saved.person
    what = "Enrolled" if saved.new_person else "Added photos of"
    return (
        f"✔ {what} {p.name} (badge {p.badge}): {saved.templates_added} photo(s) saved. "
        "The kiosks recognise them within a minute."
    )
