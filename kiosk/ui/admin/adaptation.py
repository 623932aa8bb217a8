"""The security page's site-adaptation box: train the head on the enrolled people (in the
background, with a progress bar and a stop button), see what it measured on this site's
people, and switch it on or off. The work is done by
:class:`kiosk.services.adaptation.AdaptationService`, as for ``kiosk adapt``."""

from __future__ import annotations

import html
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from kiosk.errors import KioskError
from kiosk.services.accounts import Actor
from kiosk.services.adaptation import AdaptationService
from kiosk.services.adaptation_report import AdaptProgress, AdaptResult, HeadState
from kiosk.services.security_level import SecurityLevelService
from kiosk.ui.admin.tasks import BackgroundTask, run_task


class AdaptationPanel(QWidget):
    """``changed`` is called after a head was trained or switched (the page measures
    again: with a head in force, its threshold and figures are the head's)."""

    def __init__(
        self,
        security: SecurityLevelService,
        adaptation: AdaptationService,
        actor: Actor,
        changed: Callable[[], None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.security = security
        self.adaptation = adaptation
        self.actor = actor
        self.changed = changed
        self.state: HeadState | None = None
        #: what was written to the config file from here (the kiosks read it at start)
        self.written: bool | None = None
        self._task: BackgroundTask | None = None
        self._state_task: BackgroundTask | None = None
        self.status = QLabel("Site head: reading…")
        self.status.setObjectName("adaptation_status")
        self.status.setWordWrap(True)
        self.figures = QLabel("")
        self.figures.setObjectName("adaptation_figures")
        self.figures.setWordWrap(True)
        self.figures.setTextFormat(Qt.TextFormat.RichText)
        self.train_button = QPushButton("Train on the enrolled people")
        self.train_button.setToolTip(
            "A small head on top of the network, trained on the enrolled photos. It is "
            "stored, not switched on."
        )
        self.train_button.clicked.connect(self.train)
        self.stop_button = QPushButton("Stop")
        self.stop_button.clicked.connect(self.stop)
        self.stop_button.hide()
        self.switch_button = QPushButton("Switch on")
        self.switch_button.setObjectName("adaptation_switch")
        self.switch_button.clicked.connect(self.toggle)
        self.switch_button.setEnabled(False)
        self.bar = QProgressBar()
        self.bar.setRange(0, 100)
        self.bar.setTextVisible(True)
        self.bar.hide()
        self.message = QLabel("")
        self.message.setWordWrap(True)
        buttons = QHBoxLayout()
        buttons.addWidget(self.train_button)
        buttons.addWidget(self.stop_button)
        buttons.addWidget(self.switch_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(
            QLabel("<b>Site adaptation</b> (off by default: see docs/measurements/adaptation.md)")
        )
        layout.addWidget(self.status)
        layout.addWidget(self.figures)
        layout.addLayout(buttons)
        layout.addWidget(self.bar)
        layout.addWidget(self.message)
        self.refresh()

    # -- state ---------------------------------------------------------------------------

    @Slot()
    def refresh(self) -> None:
        if self._state_task is not None and self._state_task.running:
            return
        adaptation = self.adaptation

        def work(progress: Any, stop: threading.Event) -> HeadState:
            return adaptation.state()

        self._state_task = run_task(
            self, work, on_success=self._show_state, on_failure=self._failed, name="head-state"
        )

    @Slot(object)
    def _show_state(self, value: object) -> None:
        state: HeadState = value  # type: ignore[assignment]
        self.state = state
        text = state.describe()
        if self.written is not None and self.written != state.enabled:
            text += (
                f" Switched {'on' if self.written else 'off'} in the configuration: restart the "
                "kiosks to use it."
            )
        self.status.setText(text)
        self.status.setStyleSheet("color: #a4161a;" if state.problem else "")
        enabled = state.enabled if self.written is None else self.written
        self.switch_button.setText("Switch off" if enabled else "Switch on")
        self.switch_button.setEnabled(enabled or (state.head is not None and not state.problem))

    # -- training ------------------------------------------------------------------------

    @Slot()
    def train(self) -> None:
        if self._task is not None and self._task.running:
            return
        adaptation, actor = self.adaptation, self.actor

        def work(progress: Any, stop: threading.Event) -> AdaptResult | None:
            return adaptation.train(actor, progress=progress, stop=stop)

        self.train_button.setEnabled(False)
        self.stop_button.show()
        self.bar.setValue(0)
        self.bar.setFormat("starting…")
        self.bar.show()
        self.message.setText("")
        self._task = run_task(
            self,
            work,
            on_success=self._trained,
            on_failure=self._train_failed,
            on_progress=self._progress,
            name="adapt",
        )

    @Slot(object)
    def _progress(self, value: object) -> None:
        p: AdaptProgress = value  # type: ignore[assignment]
        self.bar.setValue(p.percent)
        self.bar.setFormat(f"{p.stage}: %p %")

    @Slot()
    def stop(self) -> None:
        if self._task is not None:
            self._task.stop()
        self._done()
        self.message.setStyleSheet("color: #555;")
        self.message.setText("Training stopped; nothing was stored.")

    def _done(self) -> None:
        self.bar.hide()
        self.stop_button.hide()
        self.train_button.setEnabled(True)

    @Slot(object)
    def _trained(self, value: object) -> None:
        self._done()
        result: AdaptResult | None = value  # type: ignore[assignment]
        if result is None:
            return
        c = result.comparison
        self.message.setStyleSheet("color: #1b7f3b;")
        self.message.setText(
            f"Trained on this site's people in {result.seconds:.0f} s and stored (not switched "
            f"on by training). Details: head {result.head.version}."
            + ("" if result.matches_now else " The enrolled people changed meanwhile: train again.")
        )
        self.figures.setText(
            "<u>This site's people, each searched by a head trained without them</u>:<br>"
            + "<br>".join("• " + html.escape(line) for line in c.lines())
            + f"<br><b>{html.escape(c.verdict())}</b>"
        )
        self.refresh()
        self.changed()

    @Slot(str)
    def _train_failed(self, message: str) -> None:
        self._done()
        self._failed(message)

    @Slot(str)
    def _failed(self, message: str) -> None:
        self.message.setStyleSheet("color: #a4161a;")
        self.message.setText(message)

    # -- the switch ----------------------------------------------------------------------

    @Slot()
    def toggle(self) -> None:
        if self.state is None:
            return
        on = not (self.state.enabled if self.written is None else self.written)
        try:
            path = self.security.set_adaptation(self.actor, on)
        except KioskError as exc:
            self._failed(str(exc))
            return
        self.written = on
        self.message.setStyleSheet("color: #1b7f3b;")
        self.message.setText(
            f"Site adaptation {'on' if on else 'off'} saved to {path}. Restart the kiosks to "
            "use it."
        )
        self.refresh()
        self.changed()

    def close_threads(self) -> None:
        for task in (self._task, self._state_task):
            if task is not None:
                task.stop()
