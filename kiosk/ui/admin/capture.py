"""Guided camera enrollment: about ten photos in varied poses, live feedback per frame.

The admin chooses the camera (the configured one, a webcam by number, a video file or a
stream). The camera runs in its own thread (``kiosk.camera``); a capture thread takes the
newest frame, checks it with the same quality rules as photo files, and keeps it when it
is good and shows the pose asked for. The dialog shows the live picture (or, when the
camera cannot be opened, only that and what to do), what to do next, the progress, and
the kept crops, any of which the admin can drop before using them.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, QSize, Qt, QThread, Signal, Slot
from PySide6.QtGui import QColor, QIcon, QImage, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from kiosk.camera.frames import FrameSlot
from kiosk.camera.reader import CameraReader
from kiosk.camera.sources import describe
from kiosk.services.admin import AdminServices
from kiosk.services.enrollment import EnrollmentService
from kiosk.services.photo_check import CheckedFace
from kiosk.ui.admin.tasks import track
from kiosk.ui.admin.widgets import GREEN, RED, pixmap_from_rgb

#: webcams offered besides the configured camera (a typed path or URL also works)
WEBCAMS = ("0", "1", "2")


@dataclass(frozen=True)
class PoseTarget:
    words: str
    yaw: tuple[float, float]
    pitch: tuple[float, float] = (0.0, 2.0)

    def fits(self, yaw: float, pitch: float) -> bool:
        return self.yaw[0] <= yaw <= self.yaw[1] and self.pitch[0] <= pitch <= self.pitch[1]


STRAIGHT = PoseTarget("Look straight at the camera", (-0.08, 0.08))
#: yaw > 0: the nose is right of the eye midpoint in the image: the person turned to their left
LEFT = PoseTarget("Turn your head slightly to your left", (0.05, 0.22))
RIGHT = PoseTarget("Turn your head slightly to your right", (-0.22, -0.05))
UP = PoseTarget("Raise your chin slightly", (-0.12, 0.12), (0.30, 0.50))
DOWN = PoseTarget("Lower your chin slightly", (-0.12, 0.12), (0.58, 0.80))
PLAN: tuple[PoseTarget, ...] = (
    STRAIGHT,
    STRAIGHT,
    LEFT,
    LEFT,
    RIGHT,
    RIGHT,
    UP,
    DOWN,
    STRAIGHT,
    STRAIGHT,
)


@dataclass(frozen=True)
class CaptureUpdate:
    """One checked frame, from the capture thread to the dialog."""

    rgb: np.ndarray  # read-only
    boxes: tuple[tuple[float, float, float, float], ...]
    ok: bool
    feedback: str
    target: str
    shot: CheckedFace | None
    taken: int
    wanted: int
    camera: str = ""
    #: why there is no picture (the camera cannot be opened or stopped); empty with frames
    offline: str = ""


class CaptureWorker(QObject):
    update = Signal(object)
    finished = Signal()

    def __init__(
        self,
        enrollment: EnrollmentService,
        slot: FrameSlot,
        stop: threading.Event,
        *,
        plan: tuple[PoseTarget, ...] = PLAN,
        patience_s: float = 6.0,
        min_gap_s: float = 0.4,
        taken: int = 0,
        kept: tuple[CheckedFace, ...] = (),
    ) -> None:
        super().__init__()
        self.enrollment = enrollment
        self.slot = slot
        self.stop_event = stop
        self.plan = plan
        self.patience_s = patience_s
        self.min_gap_s = min_gap_s
        self.taken = taken
        #: the frames kept so far: a new one unlike them is asked for again, not kept
        self.kept: list[CheckedFace] = list(kept)

    @Slot()
    def run(self) -> None:
        last_seq = 0
        last_shot = 0.0
        target_since = time.monotonic()
        while not self.stop_event.is_set() and self.taken < len(self.plan):
            frame = self.slot.wait_newer(last_seq, 0.5)
            if frame is None:
                status = self.slot.status
                # before the first attempt ends the status only says it is starting
                if not status.online and status.attempts > 0 and status.message:
                    self.update.emit(
                        CaptureUpdate(
                            np.zeros((1, 1, 3), np.uint8),
                            (),
                            False,
                            "",
                            "",
                            None,
                            self.taken,
                            len(self.plan),
                            status.label,
                            offline=status.message,
                        )
                    )
                continue
            last_seq = frame.seq
            checked = self.enrollment.check_frame(f"camera #{self.taken + 1}", frame.rgb)
            target = self.plan[self.taken]
            now = time.monotonic()
            # A pose the person cannot manage is not asked for forever.
            relaxed = now - target_since > self.patience_s
            fits = target.fits(checked.yaw, checked.pitch) or relaxed
            shot = None
            unlike = (
                checked.accepted and fits and self.enrollment.unlike_the_others(checked, self.kept)
            )
            if unlike:
                feedback = UNLIKE
            elif checked.accepted and fits and now - last_shot >= self.min_gap_s:
                shot = checked
                self.kept.append(checked)
                self.taken += 1
                last_shot = now
                target_since = now
                feedback = "Got it."
            elif not checked.accepted:
                feedback = _short(checked.reasons[0]) if checked.reasons else "Hold still"
            elif not fits:
                feedback = "Face is good; now follow the instruction above"
            else:
                feedback = "Good, hold still"
            next_target = self.plan[self.taken].words if self.taken < len(self.plan) else "Done"
            self.update.emit(
                CaptureUpdate(
                    frame.rgb,
                    checked.boxes,
                    checked.accepted,
                    feedback,
                    next_target,
                    shot,
                    self.taken,
                    len(self.plan),
                    self.slot.status.label,
                )
            )
        self.finished.emit()


#: a frame that passed the checks but would be marked "not like the others: someone
#: else?" by enrollment (an extreme pose, or another person stepped in): asked again
UNLIKE = "That one did not look like the others: look at the camera, then follow the instruction"


def _short(reason: str) -> str:
    """The first part of a quality reason, as an instruction ("move closer")."""
    if "no face" in reason:
        return "No face: look at the camera"
    if "faces in the photo" in reason:
        return "More than one face: only the person enrolling, please"
    if "too small" in reason:
        return "Move closer"
    if ":" in reason:
        head, tail = reason.split(":", 1)
        return f"{head.capitalize()}: {tail.strip()}"
    return reason.capitalize()


class CaptureDialog(QDialog):
    """The camera choice, the live picture, the instruction, the progress and the kept
    crops. ``camera``: the source to start with (default: the configured camera)."""

    def __init__(
        self,
        services: AdminServices,
        parent: QWidget | None = None,
        *,
        camera: str | None = None,
        plan: tuple[PoseTarget, ...] = PLAN,
        patience_s: float = 6.0,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Take photos with the camera")
        self.services = services
        self.plan = plan
        self.patience_s = patience_s
        self.kept: list[CheckedFace] = []
        self.updates = 0
        self.camera: CameraReader | None = None
        self.worker: CaptureWorker | None = None
        self._thread: QThread | None = None
        self.stop_event = threading.Event()

        configured = services.settings.camera
        self.source = QComboBox()
        self.source.setObjectName("cameraChoice")
        self.source.setEditable(True)
        self.source.setMinimumWidth(260)
        self.source.setToolTip(
            "A webcam number (0, 1, ...), a video file, an rtsp:// address or a folder of images"
        )
        for spec in dict.fromkeys([configured, *WEBCAMS]):
            label = describe(spec) + (" (configured)" if spec == configured else "")
            self.source.addItem(label, spec)
        start = configured if camera is None else camera
        index = self.source.findData(start)
        if index < 0:
            self.source.addItem(describe(start), start)
            index = self.source.count() - 1
        self.source.setCurrentIndex(index)
        self.source.activated.connect(self._source_chosen)
        self.source.lineEdit().returnPressed.connect(self._source_typed)  # type: ignore[union-attr]
        choose = QHBoxLayout()
        choose.addWidget(QLabel("Camera:"))
        choose.addWidget(self.source, 1)

        self.video = QLabel("")
        self.video.setObjectName("video")
        self.video.setFixedSize(480, 360)
        self.video.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.video.setWordWrap(True)
        self.video.setStyleSheet("background: #222; color: #eee; font-size: 15px; padding: 12px;")
        self.instruction = QLabel(plan[0].words if plan else "")
        self.instruction.setObjectName("instruction")
        self.instruction.setStyleSheet("font-size: 18px; font-weight: bold;")
        self.feedback = QLabel("")
        self.feedback.setObjectName("feedback")
        self.feedback.setStyleSheet("font-size: 15px;")
        self.progress = QProgressBar()
        self.progress.setRange(0, len(plan))
        self.progress.setFormat("%v of %m photos")
        self.shots = QListWidget()
        self.shots.setViewMode(QListWidget.ViewMode.IconMode)
        self.shots.setIconSize(QSize(72, 72))
        self.shots.setFixedHeight(110)
        self.shots.setFlow(QListWidget.Flow.LeftToRight)
        self.shots.setSelectionMode(QListWidget.SelectionMode.ExtendedSelection)
        drop = QPushButton("Drop selected")
        drop.clicked.connect(self.drop_selected)
        self.use_button = QPushButton("Use these photos")
        self.use_button.setDefault(True)
        self.use_button.setEnabled(False)
        self.use_button.clicked.connect(self.accept)
        cancel = QPushButton("Cancel")
        cancel.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addWidget(drop)
        buttons.addStretch(1)
        buttons.addWidget(self.use_button)
        buttons.addWidget(cancel)
        layout = QVBoxLayout(self)
        layout.addLayout(choose)
        layout.addWidget(self.video, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addWidget(self.instruction)
        layout.addWidget(self.feedback)
        layout.addWidget(self.progress)
        layout.addWidget(QLabel("Kept photos (select and drop any that look wrong):"))
        layout.addWidget(self.shots)
        layout.addLayout(buttons)
        self.start_camera(start)

    # -- the camera ----------------------------------------------------------------------

    def start_camera(self, spec: str) -> None:
        """Stop the camera in use (if any) and start ``spec``; the kept photos stay."""
        self._stop_threads()
        self.stop_event = threading.Event()
        self.video.clear()
        self.video.setText(f"Starting {describe(spec)}…")
        self.feedback.setText("")
        self.camera = self.services.open_camera(spec)
        self.worker = CaptureWorker(
            self.services.enrollment,
            self.camera.slot,
            self.stop_event,
            plan=self.plan,
            patience_s=self.patience_s,
            taken=len(self.kept),
            kept=tuple(self.kept),
        )
        self._thread = track(QThread())
        self._thread.setObjectName("capture")
        self.worker.moveToThread(self._thread)
        self._thread.started.connect(self.worker.run)
        self.worker.update.connect(self._on_update)
        self.worker.finished.connect(self._on_finished)
        self.camera.start()
        self._thread.start()

    @Slot(int)
    def _source_chosen(self, index: int) -> None:
        spec = self.source.itemData(index)
        self.start_camera(str(spec) if spec is not None else self.source.currentText())

    @Slot()
    def _source_typed(self) -> None:
        text = self.source.currentText().strip()
        if text:
            self.start_camera(text)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.isRunning()

    # -- updates -------------------------------------------------------------------------

    @Slot(object)
    def _on_update(self, value: object) -> None:
        u: CaptureUpdate = value  # type: ignore[assignment]
        if self.worker is None or self.sender() is not self.worker:
            return  # from a camera the admin has since switched away from
        self.updates += 1
        if u.offline:
            # one message, where the picture would be: what is wrong and what to do
            self.video.setPixmap(QPixmap())
            self.video.setText(
                f"No picture: {u.offline}.\n\nChoose another camera above, or check that "
                "this one is connected and not used by another program."
            )
            self.feedback.setText("")
            self.instruction.setText("Waiting for a picture")
            return
        self.video.setPixmap(_frame_pixmap(u, self.video.size()))
        self.feedback.setText(u.feedback)
        self.feedback.setStyleSheet(f"font-size: 15px; color: {GREEN if u.ok else RED};")
        self.instruction.setText(u.target)
        self.progress.setValue(u.taken)
        if u.shot is not None:
            self.kept.append(u.shot)
            item = QListWidgetItem(QIcon(pixmap_from_rgb(u.shot.chip, 72)), "")
            item.setData(Qt.ItemDataRole.UserRole, u.shot)
            self.shots.addItem(item)
            self.use_button.setEnabled(True)

    @Slot()
    def _on_finished(self) -> None:
        if self.worker is None or self.sender() is not self.worker:
            return
        self.instruction.setText("Done: check the photos, drop any that look wrong.")
        self.feedback.setText("")
        self._stop_threads()

    @Slot()
    def drop_selected(self) -> None:
        for item in self.shots.selectedItems():
            shot = item.data(Qt.ItemDataRole.UserRole)
            self.kept = [k for k in self.kept if k is not shot]
            self.shots.takeItem(self.shots.row(item))
        self.use_button.setEnabled(bool(self.kept))

    def _stop_threads(self) -> None:
        self.stop_event.set()
        if self.camera is not None:
            self.camera.stop()
        if self._thread is not None:
            self._thread.quit()
            self._thread.wait()
        if self.camera is not None:
            self.camera.join(10)

    def done(self, result: int) -> None:
        self._stop_threads()
        super().done(result)


def _frame_pixmap(u: CaptureUpdate, size: QSize) -> QPixmap:
    rgb = np.ascontiguousarray(u.rgb)
    h, w = rgb.shape[:2]
    image = QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
    painter = QPainter(image)
    painter.setPen(QPen(QColor("#2ecc71" if u.ok else "#e74c3c"), max(2, w // 160)))
    for x1, y1, x2, y2 in u.boxes:
        painter.drawRect(int(x1), int(y1), int(x2 - x1), int(y2 - y1))
    painter.end()
    return QPixmap.fromImage(image).scaled(
        size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
    )
