"""One access event in words, with its camera snapshot while retention keeps it."""

from __future__ import annotations

from html import escape

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QDialog, QLabel, QPushButton, QVBoxLayout, QWidget

from kiosk.errors import KioskError
from kiosk.services.accounts import Actor
from kiosk.services.log_browser import LogBrowser
from kiosk.storage.records import LoggedEvent
from kiosk.ui.admin.log_model import who

EMPTY = "Select an event to see its details."
#: the larger snapshot's side, in pixels
LARGE_PX = 480


def event_lines(logged: LoggedEvent) -> list[str]:
    """The event's fields as lines of rich text: what happened in words first, the
    figures behind it (distance, threshold, model, latency) on a "details" line, rounded
    as an operator reads them (distances to 3 decimals, latency to the millisecond)."""
    e = logged.event
    local = e.time.astimezone()
    figures = [
        f"code {e.decision}",
        "distance " + ("-" if e.score is None else f"{e.score:.3f}"),
    ]
    if e.threshold is not None:
        figures.append(f"threshold {e.threshold:.2f}")
    figures += [
        f"model {e.model_version or '-'}",
        "latency " + ("-" if e.latency_ms is None else f"{e.latency_ms:.0f} ms"),
    ]
    return [
        f"<b>#{logged.id}</b> {local:%Y-%m-%d %H:%M:%S} (UTC {e.time:%H:%M:%S})",
        f"What happened: <b>{escape(e.decision.words)}</b>",
        f"Person: {escape(who(logged))}"
        + (f" (badge {escape(logged.person_badge)})" if logged.person_badge else ""),
        f"Kiosk: {escape(e.kiosk_id)}",
        f"Reason: {escape(e.reason) or '-'}",
        f"<span style='color:#555'>Details: {escape(', '.join(figures))}</span>",
    ]


class EventDetail(QWidget):
    def __init__(self, log: LogBrowser, actor: Actor, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.log = log
        self.actor = actor
        self.shown_id: int | None = None
        self.text = QLabel(EMPTY)
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.text.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.snapshot = QLabel()
        self.snapshot.setFixedSize(200, 200)
        self.snapshot.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.snapshot.setStyleSheet("background: #eee; color: #666; border: 1px solid #ccc;")
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("<b>Event</b>"))
        layout.addWidget(self.text)
        layout.addWidget(self.snapshot)
        self.larger = QPushButton("Larger snapshot…")
        self.larger.setEnabled(False)
        self.larger.clicked.connect(self.show_larger)
        layout.addWidget(self.larger)
        layout.addStretch(1)
        self.image: QImage | None = None  # the snapshot shown, full size
        self.large: QDialog | None = None

    def loading(self) -> None:
        self.text.setText("loading…")

    def show_event(self, logged: LoggedEvent) -> None:
        """The event's fields and snapshot (decrypted on demand; once per event)."""
        if self.shown_id == logged.id:
            return
        self.shown_id = logged.id
        self.text.setText("<br>".join(event_lines(logged)))
        self.snapshot.clear()
        self.image = None
        self.larger.setEnabled(False)
        if not logged.has_snapshot:
            self.snapshot.setText("no snapshot kept")
            return
        try:
            data = self.log.snapshot(self.actor, logged.id)
        except KioskError as exc:
            self.snapshot.setText(str(exc))
            return
        image = QImage.fromData(data or b"")
        if image.isNull():
            self.snapshot.setText("snapshot expired")
            return
        self.image = image
        self.larger.setEnabled(True)
        self.snapshot.setPixmap(
            QPixmap.fromImage(image).scaled(
                self.snapshot.size(),
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
        )

    @Slot()
    def show_larger(self) -> None:
        """The snapshot at up to LARGE_PX a side (its own size when larger), in a window
        of its own that stays open beside the log."""
        if self.image is None:
            return
        dialog = QDialog(self)
        dialog.setWindowTitle(f"Snapshot of event #{self.shown_id}")
        picture = QLabel()
        picture.setObjectName("largeSnapshot")
        pixmap = QPixmap.fromImage(self.image)
        side = max(LARGE_PX, pixmap.width(), pixmap.height())
        picture.setPixmap(
            pixmap.scaled(
                side,
                side,
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
        )
        close = QPushButton("Close")
        close.clicked.connect(dialog.accept)
        box = QVBoxLayout(dialog)
        box.addWidget(picture)
        box.addWidget(close)
        self.large = dialog
        dialog.show()

    def clear(self) -> None:
        self.shown_id = None
        self.text.setText(EMPTY)
        self.snapshot.clear()
        self.image = None
        self.larger.setEnabled(False)
