"""Security level: how far apart the same person's photos are, how close different people
come, where the threshold sits, and what that means for a stranger at the door."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Slot
from PySide6.QtGui import QColor, QFont, QPainter, QPainterPath, QPaintEvent, QPen
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from kiosk.config import DEFAULT_THRESHOLD
from kiosk.errors import KioskError
from kiosk.services.accounts import Actor
from kiosk.services.admin_console import (
    SECURITY_LEVELS,
    AdminConsole,
    DistanceStats,
    level_name,
    stranger_acceptance_text,
)
from kiosk.ui.admin.tasks import BackgroundTask, run_task

GENUINE = QColor("#2e86de")
IMPOSTOR = QColor("#e67e22")
X_MAX = 1.3
BINS = 52


class DistancePlot(QWidget):
    """Two histograms (share of pairs per distance bin) and the threshold line."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.stats: DistanceStats | None = None
        self.threshold = DEFAULT_THRESHOLD
        self.setMinimumSize(520, 260)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def set_stats(self, stats: DistanceStats | None) -> None:
        self.stats = stats
        self.update()

    def set_threshold(self, value: float) -> None:
        self.threshold = value
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.fillRect(self.rect(), QColor("white"))
        left, right, top, bottom = 50, 16, 28, 40
        plot = QRectF(left, top, self.width() - left - right, self.height() - top - bottom)
        p.setPen(QPen(QColor("#888"), 1))
        p.drawLine(plot.bottomLeft(), plot.bottomRight())
        p.drawLine(plot.bottomLeft(), plot.topLeft())
        small = QFont(self.font())
        small.setPointSizeF(max(7.0, small.pointSizeF() - 1))
        p.setFont(small)
        for i in range(0, 14, 2):
            x = i / 10
            px = plot.left() + plot.width() * x / X_MAX
            p.drawLine(QPointF(px, plot.bottom()), QPointF(px, plot.bottom() + 4))
            p.drawText(
                QRectF(px - 20, plot.bottom() + 5, 40, 14), Qt.AlignmentFlag.AlignCenter, f"{x:.1f}"
            )
        p.drawText(
            QRectF(plot.left(), plot.bottom() + 20, plot.width(), 16),
            Qt.AlignmentFlag.AlignCenter,
            "distance between two photos (smaller = more alike)",
        )
        p.save()
        p.translate(14, plot.center().y())
        p.rotate(-90)
        p.drawText(QRectF(-60, -8, 120, 16), Qt.AlignmentFlag.AlignCenter, "share of pairs")
        p.restore()
        s = self.stats
        if s is None or (s.genuine.size == 0 and s.impostor.size == 0):
            p.drawText(
                plot,
                Qt.AlignmentFlag.AlignCenter,
                "Not enough enrolled photos yet: the plot needs people with 2 or more photos.",
            )
        else:
            edges = np.linspace(0, X_MAX, BINS + 1)
            hists = []
            for values in (s.genuine, s.impostor):
                h, _ = np.histogram(np.clip(values, 0, X_MAX - 1e-6), edges)
                hists.append(h / max(1, values.size))
            top_value = max(float(max(h.max() for h in hists)), 1e-6)
            for h, colour in zip(hists, (GENUINE, IMPOSTOR), strict=True):
                path = QPainterPath(QPointF(plot.left(), plot.bottom()))
                for i, v in enumerate(h):
                    x0 = plot.left() + plot.width() * edges[i] / X_MAX
                    x1 = plot.left() + plot.width() * edges[i + 1] / X_MAX
                    y = plot.bottom() - plot.height() * float(v) / top_value
                    path.lineTo(x0, y)
                    path.lineTo(x1, y)
                path.lineTo(plot.right(), plot.bottom())
                fill = QColor(colour)
                fill.setAlpha(90)
                p.setPen(QPen(colour, 1.5))
                p.setBrush(fill)
                p.drawPath(path)
            p.setBrush(Qt.BrushStyle.NoBrush)
        tx = plot.left() + plot.width() * min(self.threshold, X_MAX) / X_MAX
        p.setPen(QPen(QColor("#c0392b"), 2, Qt.PenStyle.DashLine))
        p.drawLine(QPointF(tx, plot.top()), QPointF(tx, plot.bottom()))
        p.setPen(QColor("#c0392b"))
        p.drawText(
            QRectF(tx - 60, 4, 120, 16),
            Qt.AlignmentFlag.AlignCenter,
            f"threshold {self.threshold:.2f}",
        )
        # legend
        p.setPen(GENUINE)
        p.drawText(
            QRectF(plot.right() - 230, plot.top() + 4, 230, 16),
            Qt.AlignmentFlag.AlignRight,
            "■ same person (should be left of the line)",
        )
        p.setPen(IMPOSTOR)
        p.drawText(
            QRectF(plot.right() - 230, plot.top() + 20, 230, 16),
            Qt.AlignmentFlag.AlignRight,
            "■ different people (should be right of it)",
        )
        p.end()


class SecurityPage(QWidget):
    def __init__(self, console: AdminConsole, actor: Actor, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.console = console
        self.actor = actor
        self.stats: DistanceStats | None = None
        self.enrolled = 0
        self._task: BackgroundTask | None = None
        self.plot = DistancePlot()
        self.level = QComboBox()
        for name, value, words in SECURITY_LEVELS:
            self.level.addItem(f"{name} ({value:.2f})", value)
            self.level.setItemData(self.level.count() - 1, words, Qt.ItemDataRole.ToolTipRole)
        self.level.addItem("Custom", None)
        self.custom = QDoubleSpinBox()
        self.custom.setRange(0.20, 1.00)
        self.custom.setSingleStep(0.01)
        self.custom.setDecimals(2)
        self.custom.setValue(console.threshold)
        self.level.currentIndexChanged.connect(self._level_chosen)
        self.custom.valueChanged.connect(self._value_changed)
        self.level_words = QLabel("")
        self.level_words.setWordWrap(True)
        self.level_words.setStyleSheet("color: #555;")
        self.figures = QLabel("Computing the distances of the enrolled photos…")
        self.figures.setObjectName("figures")
        self.figures.setWordWrap(True)
        self.figures.setTextFormat(Qt.TextFormat.RichText)
        self.apply_button = QPushButton("Apply this threshold")
        self.apply_button.clicked.connect(self.apply)
        self.recompute = QPushButton("Recompute")
        self.recompute.clicked.connect(self.load)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.history = QLabel("")
        self.history.setWordWrap(True)
        self.history.setStyleSheet("color: #555;")

        form = QFormLayout()
        form.addRow("Security level", self.level)
        form.addRow("Threshold", self.custom)
        form.addRow("", self.level_words)
        controls = QVBoxLayout()
        controls.addLayout(form)
        controls.addWidget(self.figures)
        buttons = QHBoxLayout()
        buttons.addWidget(self.apply_button)
        buttons.addWidget(self.recompute)
        buttons.addStretch(1)
        controls.addLayout(buttons)
        controls.addWidget(self.message)
        controls.addWidget(QLabel("<b>Recent changes</b>"))
        controls.addWidget(self.history)
        controls.addStretch(1)
        layout = QHBoxLayout(self)
        layout.addWidget(self.plot, 3)
        layout.addLayout(controls, 2)
        self._sync_level(console.threshold)
        self.plot.set_threshold(console.threshold)
        self._show_history()
        self.load()

    # -- data ----------------------------------------------------------------------------

    @Slot()
    def load(self) -> None:
        if self._task is not None and self._task.running:
            return
        console, actor = self.console, self.actor
        self.figures.setText("Computing the distances of the enrolled photos…")

        def work(progress: Any, stop: threading.Event) -> tuple[DistanceStats, int]:
            return console.distance_stats(actor), console.enrolled_count()

        self._task = run_task(
            self, work, on_success=self._loaded, on_failure=self._failed, name="security-stats"
        )

    @Slot(object)
    def _loaded(self, value: object) -> None:
        pair: tuple[DistanceStats, int] = value  # type: ignore[assignment]
        stats, enrolled = pair
        self.stats = stats
        self.enrolled = int(enrolled)
        self.plot.set_stats(stats)
        self._update_figures()

    @Slot(str)
    def _failed(self, message: str) -> None:
        self.figures.setText(message)

    # -- threshold -----------------------------------------------------------------------

    @property
    def chosen(self) -> float:
        return round(self.custom.value(), 3)

    def _sync_level(self, value: float) -> None:
        name = level_name(value)
        self.level.blockSignals(True)
        index = next(
            (i for i, (n, _, _) in enumerate(SECURITY_LEVELS) if n == name),
            self.level.count() - 1,
        )
        self.level.setCurrentIndex(index)
        self.level.blockSignals(False)
        words = next((w for n, _, w in SECURITY_LEVELS if n == name), "a value of your own")
        self.level_words.setText(f"{name}: {words}.")

    @Slot(int)
    def _level_chosen(self, index: int) -> None:
        value = self.level.itemData(index)
        if value is not None:
            self.custom.setValue(float(value))
        self._sync_level(self.chosen)

    @Slot(float)
    def _value_changed(self, value: float) -> None:
        self._sync_level(round(value, 3))
        self.plot.set_threshold(value)
        self._update_figures()

    def _update_figures(self) -> None:
        s = self.stats
        if s is None:
            return
        t = self.chosen
        enrolled = s.people  # people who have photos of this model: the ones a face can match
        if s.genuine.size == 0 and s.impostor.size == 0:
            self.figures.setText(
                "Enroll at least two people, with two or more photos each, to see how the "
                "threshold separates them."
            )
            return
        frr = s.false_reject_rate(t)
        far = s.false_accept_rate(t)
        _, measured = s.false_accept_estimate(t)
        stranger = s.stranger_acceptance(t, enrolled)
        how = "" if measured else " (estimated from the spread of the pairs)"
        current = self.console.threshold
        sample = " (a sample)" if s.sampled else ""
        if s.impostor.size < 500:
            sample += ", too few for precise figures: read them as rough"
        self.figures.setText(
            f"From {s.templates} photos of {s.people} people{sample}:<br>"
            f"• same-person photo pairs rejected at {t:.2f}: <b>{frr:.1%}</b> "
            f"({s.genuine.size} pairs)<br>"
            f"• different-people pairs accepted: <b>{far:.2%}</b> ({s.impostor.size} pairs)<br>"
            f"• chance that a <b>stranger</b> is accepted on one attempt, with {enrolled} "
            f"people with photos: <b>{stranger_acceptance_text(stranger)}</b>{how}<br>"
            f"Current kiosk threshold: {current:.2f} ({level_name(current)})."
        )

    @Slot()
    def apply(self) -> bool:
        value = self.chosen
        try:
            path = self.console.set_threshold(self.actor, value, level_name(value))
        except KioskError as exc:
            self.message.setStyleSheet("color: #a4161a;")
            self.message.setText(str(exc))
            return False
        self.message.setStyleSheet("color: #1b7f3b;")
        self.message.setText(
            f"Threshold {value:.2f} saved to {path}. Restart the kiosks to use it."
        )
        self._update_figures()
        self._show_history()
        return True

    def _show_history(self) -> None:
        rows = self.console.threshold_history(self.actor, limit=5)
        self.history.setText(
            "<br>".join(
                f"{when.astimezone():%Y-%m-%d %H:%M} {who}: {details}"
                for when, who, details in rows
            )
            or "none yet"
        )

    def close_threads(self) -> None:
        if self._task is not None:
            self._task.stop()
