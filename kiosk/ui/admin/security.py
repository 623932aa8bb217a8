"""Security level: the threshold in force, where it came from, what was measured about it
(on the development photos and on this site's own people, each with its count and a 95 %
bound), and a guarded way to change it."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Slot
from PySide6.QtGui import QColor, QFont, QPainter, QPainterPath, QPaintEvent, QPen, QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from kiosk.config import THRESHOLD_RANGES
from kiosk.domain.operating import LEVELS, OperatingPoint
from kiosk.errors import KioskError
from kiosk.liveness.check import liveness_level, one_clear_turn, tries_in_force
from kiosk.services.accounts import Actor
from kiosk.services.security_level import SecurityLevelService, SecurityState
from kiosk.services.site_figures import SiteFigures
from kiosk.ui.admin.adaptation import AdaptationPanel
from kiosk.ui.admin.tasks import BackgroundTask, run_task

GENUINE = QColor("#2e86de")
IMPOSTOR = QColor("#e67e22")
BINS = 50
EXPLICIT = "explicit"


def _warned(text: str, expected: float, bound: float) -> str:
    """A stranger's chance, in red when it or its bound reaches 1 in 100."""
    if expected >= 0.01:
        return f"• <span style='color:#a4161a'><b>{text} This lets strangers in.</b></span>"
    if bound >= 0.01:
        return (
            f"• <span style='color:#a4161a'>{text} <b>The measurements cannot show that fewer "
            "than 1 stranger in 100 gets in.</b></span>"
        )
    return f"• {text}"


class DistancePlot(QWidget):
    """This site's distances: each enrolled photo to its own person (blue) and to every
    other person (orange), as a share of the comparisons of each kind per bin, with the
    threshold line."""

    def __init__(self, x_max: float, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.figures: SiteFigures | None = None
        self.threshold = 0.0
        self.x_max = x_max
        self.setMinimumSize(520, 280)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def set_figures(self, figures: SiteFigures | None) -> None:
        self.figures = figures
        self.update()

    def set_threshold(self, value: float) -> None:
        self.threshold = value
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.fillRect(self.rect(), QColor("white"))
        left, right, top, bottom = 64, 16, 30, 44
        plot = QRectF(left, top, self.width() - left - right, self.height() - top - bottom)
        small = QFont(self.font())
        small.setPointSizeF(max(7.5, small.pointSizeF() - 1))
        p.setFont(small)
        f = self.figures
        hists: list[np.ndarray] = []
        edges = np.linspace(0, self.x_max, BINS + 1)
        if f is not None:
            for values in (f.genuine, f.impostor):
                h, _ = np.histogram(np.clip(values, 0, self.x_max - 1e-6), edges)
                hists.append(h / max(1, values.size) * 100)
        top_value = max([float(h.max()) for h in hists if h.size] + [1.0])
        top_value = float(np.ceil(top_value / 5) * 5)
        # axes, ticks and labels
        p.setPen(QPen(QColor("#888"), 1))
        p.drawLine(plot.bottomLeft(), plot.bottomRight())
        p.drawLine(plot.bottomLeft(), plot.topLeft())
        step = 0.2 if self.x_max <= 1.4 else 0.4
        for x in np.arange(0, self.x_max + 1e-9, step):
            px = plot.left() + plot.width() * x / self.x_max
            p.drawLine(QPointF(px, plot.bottom()), QPointF(px, plot.bottom() + 4))
            p.drawText(
                QRectF(px - 20, plot.bottom() + 5, 40, 14), Qt.AlignmentFlag.AlignCenter, f"{x:.1f}"
            )
        for i in range(0, 6):
            value = top_value * i / 5
            py = plot.bottom() - plot.height() * i / 5
            p.drawLine(QPointF(plot.left() - 4, py), QPointF(plot.left(), py))
            p.drawText(
                QRectF(plot.left() - 44, py - 7, 38, 14),
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                f"{value:.0f} %",
            )
        p.drawText(
            QRectF(plot.left(), plot.bottom() + 22, plot.width(), 16),
            Qt.AlignmentFlag.AlignCenter,
            "distance between a photo and a person (smaller = more alike)",
        )
        p.save()
        p.translate(12, plot.center().y())
        p.rotate(-90)
        p.drawText(QRectF(-110, -8, 220, 16), Qt.AlignmentFlag.AlignCenter, "share of comparisons")
        p.restore()
        if f is None or not f.enough:
            p.drawText(
                plot,
                Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                "Not enough enrolled people yet: the plot needs two people, one of them\n"
                "with two or more photos.",
            )
        else:
            for h, colour in zip(hists, (GENUINE, IMPOSTOR), strict=True):
                path = QPainterPath(QPointF(plot.left(), plot.bottom()))
                for i, v in enumerate(h):
                    x0 = plot.left() + plot.width() * edges[i] / self.x_max
                    x1 = plot.left() + plot.width() * edges[i + 1] / self.x_max
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
        tx = plot.left() + plot.width() * min(self.threshold, self.x_max) / self.x_max
        p.setPen(QPen(QColor("#c0392b"), 2, Qt.PenStyle.DashLine))
        p.drawLine(QPointF(tx, plot.top()), QPointF(tx, plot.bottom()))
        p.setPen(QColor("#c0392b"))
        p.drawText(
            QRectF(tx - 70, 6, 140, 16),
            Qt.AlignmentFlag.AlignCenter,
            f"threshold {self.threshold:.3f}",
        )
        p.setPen(GENUINE)
        p.drawText(
            QRectF(plot.left() + 8, plot.top() + 4, 320, 16),
            Qt.AlignmentFlag.AlignLeft,
            "■ a photo to its own person (left of the line: let in)",
        )
        p.setPen(IMPOSTOR)
        p.drawText(
            QRectF(plot.left() + 8, plot.top() + 20, 320, 16),
            Qt.AlignmentFlag.AlignLeft,
            "■ a photo to another person (right of it: kept out)",
        )
        p.end()


class SecurityPage(QWidget):
    def __init__(
        self, service: SecurityLevelService, actor: Actor, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.service = service
        self.settings = service.settings
        self.actor = actor
        self.state: SecurityState | None = None
        self.site: SiteFigures | None = None
        self._task: BackgroundTask | None = None
        network = service.settings.vision.network
        lo, hi = THRESHOLD_RANGES[network]
        self.plot = DistancePlot(x_max=1.6 if network == "sface" else 1.2)
        self.in_force = QLabel("")
        self.in_force.setObjectName("in_force")
        self.in_force.setWordWrap(True)
        self.in_force.setTextFormat(Qt.TextFormat.RichText)
        self.warning = QLabel("")
        self.warning.setObjectName("outside_change")
        self.warning.setWordWrap(True)
        self.warning.setStyleSheet(
            "background: #fdecea; color: #a4161a; border: 1px solid #a4161a; padding: 6px;"
        )
        self.warning.hide()
        self.level = QComboBox()
        for key, level in LEVELS.items():
            self.level.addItem(level.title, key)
            self.level.setItemData(
                self.level.count() - 1, level.purpose, Qt.ItemDataRole.ToolTipRole
            )
        self.level.addItem("Explicit threshold (expert)", EXPLICIT)
        self.custom = QDoubleSpinBox()
        self.custom.setRange(lo, hi)
        self.custom.setSingleStep(0.01)
        self.custom.setDecimals(3)
        self.level_words = QLabel("")
        self.level_words.setWordWrap(True)
        self.level_words.setStyleSheet("color: #555;")
        self.figures = QLabel("Measuring this site's people…")
        self.figures.setObjectName("figures")
        self.figures.setWordWrap(True)
        self.figures.setTextFormat(Qt.TextFormat.RichText)
        self.apply_button = QPushButton("Apply")
        self.apply_button.clicked.connect(self.apply)
        self.recompute = QPushButton("Measure again")
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
        controls.addWidget(QLabel("<b>In force</b>"))
        controls.addWidget(self.in_force)
        controls.addWidget(self.warning)
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
        self.adaptation: AdaptationPanel | None = None
        if service.adaptation is not None:
            self.adaptation = AdaptationPanel(service, service.adaptation, actor, self.load)
            controls.addWidget(self.adaptation)
        controls.addStretch(1)
        # the words grow with the level (Most secure) and the site head's verdict: they
        # scroll, never cut off, at the console's 1200x760
        column = QWidget()
        column.setLayout(controls)
        self.words_area = QScrollArea()
        self.words_area.setWidget(column)
        self.words_area.setWidgetResizable(True)
        self.words_area.setFrameShape(QFrame.Shape.NoFrame)
        self.words_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        layout = QHBoxLayout(self)
        layout.addWidget(self.plot, 3)
        layout.addWidget(self.words_area, 2)
        v = service.settings.vision
        self._select(EXPLICIT if v.threshold is not None else v.level)
        self.level.currentIndexChanged.connect(self._choice_changed)
        self.custom.valueChanged.connect(self._value_changed)
        self._show_history()
        self.load()

    # -- data ----------------------------------------------------------------------------

    def showEvent(self, event: QShowEvent) -> None:
        """Measured again each time the page is shown (after an enrollment, say)."""
        super().showEvent(event)
        if self.state is not None:
            self.load()

    @Slot()
    def load(self) -> None:
        if self._task is not None and self._task.running:
            return
        service, actor = self.service, self.actor

        def work(progress: Any, stop: threading.Event) -> tuple[SecurityState, SiteFigures]:
            return service.state(), service.site(actor)

        self._task = run_task(
            self, work, on_success=self._loaded, on_failure=self._failed, name="security-stats"
        )

    @Slot(object)
    def _loaded(self, value: object) -> None:
        pair: tuple[SecurityState, SiteFigures] = value  # type: ignore[assignment]
        self.state, self.site = pair
        if self.state.head_version is not None:  # a head's distances reach 2
            self.plot.x_max = 2.0
        self.plot.set_figures(self.site)
        self._show_state()
        self._update()

    @Slot(str)
    def _failed(self, message: str) -> None:
        self.figures.setText(message)

    # -- the choice ----------------------------------------------------------------------

    def _select(self, key: str) -> None:
        index = self.level.findData(key)
        self.level.blockSignals(True)
        self.level.setCurrentIndex(max(index, 0))
        self.level.blockSignals(False)
        v = self.settings.vision
        self.custom.blockSignals(True)
        self.custom.setValue(v.threshold if v.threshold is not None else self.custom.value())
        self.custom.blockSignals(False)
        self.custom.setEnabled(key == EXPLICIT)

    @property
    def choice(self) -> str:
        return str(self.level.currentData())

    def _point(self) -> OperatingPoint:
        people = self.state.people if self.state is not None else 0
        if self.choice == EXPLICIT:
            return self.service.point_for(people, None, round(self.custom.value(), 3))
        return self.service.point_for(people, self.choice, None)

    @Slot(int)
    def _choice_changed(self, index: int) -> None:
        explicit = self.choice == EXPLICIT
        self.custom.setEnabled(explicit)
        if not explicit and self.state is not None:
            self.custom.blockSignals(True)
            self.custom.setValue(self._point().threshold)
            self.custom.blockSignals(False)
        self._update()

    @Slot(float)
    def _value_changed(self, value: float) -> None:
        self._update()

    def _turns(self, level: str) -> str:
        """What the active liveness check asks for at ``level``."""
        live = self.settings.liveness
        count = {1: "one", 2: "two", 3: "three", 4: "four"}.get(live.count, str(live.count))
        words = f"{count} head turn{'s' if live.count > 1 else ''}"
        if one_clear_turn(live, level):
            words = (
                "one clear head turn when the passive network scores the face as real "
                f"({live.passive_clear_above:g} or more), otherwise {words}"
            )
        if (tries := tries_in_force(live, live.passive_model)) > 1:
            words += f", asked again at once after a failed try ({tries} tries)"
        if live.passive_model:
            words += "; a passive anti-spoofing network denies a face it scores as a picture"
        return words

    def _show_state(self) -> None:
        s = self.state
        if s is None:
            return
        src = s.sources
        mode = self.settings.liveness.mode
        turns = self._turns(liveness_level(self.settings.vision))
        liveness = (
            f"Liveness check: <b>{mode}</b> ({src['liveness.mode']}), asking for {turns}."
            if mode == "active"
            else f"<span style='color:#a4161a'>Liveness check: <b>{mode}</b> "
            f"({src['liveness.mode']}): a photo or a screen showing an enrolled person "
            f"{'may open' if mode == 'passive' else 'opens'} the door.</span>"
        )
        self.in_force.setText(
            f"{s.describe()}.<br>"
            f"Network: {s.network_title} ({src['vision.network']}); people scored by the "
            f"{'centre of their photos' if s.scoring == 'centre' else 'nearest photo'}.<br>"
            + liveness
        )
        if s.outside_change:
            self.warning.setText(
                "<b>Changed outside the console or the command line</b> (seen at a kiosk "
                f"start): {s.outside_change}"
            )
            self.warning.show()
        else:
            self.warning.hide()
        if self.choice != EXPLICIT:
            self.custom.blockSignals(True)
            self.custom.setValue(self._point().threshold)
            self.custom.blockSignals(False)

    def _update(self) -> None:
        if self.state is None:
            return
        point = self._point()
        self.plot.set_threshold(point.threshold)
        if self.choice == EXPLICIT:
            words = "A distance of your own: it does not follow the number of people enrolled."
        else:
            words = LEVELS[self.choice].purpose + "."
        if self.settings.liveness.mode == "active":
            level = "custom" if self.choice == EXPLICIT else self.choice
            words += f" The liveness check asks for {self._turns(level)}."
        self.level_words.setText(words)
        head = self.state.head_version
        lines = [
            f"<b>At threshold {point.threshold:.3f}, with {point.people:,} enrolled "
            f"{'person' if point.people == 1 else 'people'}</b>",
            "<u>Development photos and camera frames</u> (faces of other people, measured "
            "before shipping):"
            if head is None
            else "<u>This site's own training</u>: its threshold comes from this site's photos, "
            f"each searched by a head trained without its person (details: head {head}):",
            _warned(
                point.fpir_text()
                if head is None
                else point.fpir_text().replace("development", "site's"),
                point.expected_fpir,
                point.fpir_bound,
            ),
            "• An enrolled person's single photo not recognised: "
            f"{point.genuine_missed.text()} (a kiosk decides on several frames).",
        ]
        for e in point.evidence:
            lines.append(
                f"• On {e.population} (real clips, and photos made into door-camera frames): "
                f"an enrolled person's attempt not recognised: {e.genuine_missed.text()}."
            )
        if point.source == "level" and point.sized_for > point.people:
            lines.append(
                f"• Fewer than {point.sized_for} people: the threshold is the one for "
                f"{point.sized_for}. Strangers match some people far more often than others, "
                "and a looser threshold would let a look-alike of one of them in."
            )
        if point.evidence and point.source == "level":
            lines.append(
                f"• The stricter of photos and camera frames sets it: here the {point.limited_by}."
            )
        if point.floored:
            measured = "development photos" if head is None else "site's photos"
            lines.append(
                f"• The {measured} cannot resolve this level's target with this many "
                "people: the threshold is held where they still can, and the chance above is "
                "what they support."
            )
        site = self.site
        if site is not None and site.enough:
            sample = f" (a sample of {site.templates:,} photos)" if site.sampled else ""
            lines += [
                f"<u>This site's {site.people:,} people</u>, each photo searched against "
                f"everyone else{sample}:",
                f"• taken for someone else (a stranger let in): "
                f"<b>{site.strangers_accepted(point.threshold).text()}</b>",
                "• not recognised as themselves: "
                f"<b>{site.enrolled_missed(point.threshold).text()}</b>",
            ]
        elif site is not None:
            lines.append(
                "<u>This site's people</u>: enroll two or more people (one with two photos or "
                "more) to measure the threshold on them."
            )
        self.figures.setText("<br>".join(lines))

    @Slot()
    def apply(self) -> bool:
        try:
            if self.choice == EXPLICIT:
                value = round(self.custom.value(), 3)
                path = self.service.set_threshold(self.actor, value)
                what = f"Threshold {value:.3f}"
            else:
                path = self.service.set_level(self.actor, self.choice)
                what = f"Level {LEVELS[self.choice].title}"
        except KioskError as exc:
            self.message.setStyleSheet("color: #a4161a;")
            self.message.setText(str(exc))
            return False
        overridden = self.service.overridden_by_environment()
        self.message.setStyleSheet("color: #1b7f3b;" if not overridden else "color: #a4161a;")
        self.message.setText(
            f"{what} saved to {path}. Restart the kiosks to use it."
            + (
                f" Warning: {', '.join(overridden)} in the environment overrides the file."
                if overridden
                else ""
            )
        )
        self._show_history()
        return True

    def _show_history(self) -> None:
        rows = self.service.history(self.actor, limit=5)
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
        if self.adaptation is not None:
            self.adaptation.close_threads()
