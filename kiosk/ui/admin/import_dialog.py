"""Import staff from a CSV and a folder of photos: choose both, see the per-row plan
(what will happen, why a row cannot be imported), then import on a worker thread with a
progress bar and Cancel. The use case is :mod:`kiosk.services.staff_import`, the same as
``main.py import CSV PHOTOS``."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Slot
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from kiosk.errors import KioskError
from kiosk.services.accounts import Actor
from kiosk.services.admin import AdminServices
from kiosk.services.staff_import import (
    Action,
    ImportPlan,
    ImportReport,
    RowOutcome,
    plan_import,
    run_import,
)
from kiosk.ui.admin.tasks import BackgroundTask, run_task
from kiosk.ui.admin.widgets import AMBER, GREEN, RED

COLUMNS = ("Line", "Name", "Badge", "Will", "Why / result")


class ImportDialog(QDialog):
    """The CSV and photo folder, the plan table, Import with progress, Cancel."""

    def __init__(self, services: AdminServices, actor: Actor, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Import staff from a CSV")
        self.resize(900, 600)
        self.services = services
        self.actor = actor
        self.plan: ImportPlan | None = None
        self.report: ImportReport | None = None
        self._task: BackgroundTask | None = None
        self._cancel = threading.Event()

        self.csv_edit = QLineEdit()
        self.csv_edit.setPlaceholderText("staff.csv: name, badge, group, valid_from, ...")
        self.photos_edit = QLineEdit()
        self.photos_edit.setPlaceholderText("the folder with one subfolder of photos per badge")
        pick_csv = QPushButton("Choose…")
        pick_csv.clicked.connect(self._choose_csv)
        pick_photos = QPushButton("Choose…")
        pick_photos.clicked.connect(self._choose_photos)
        self.check_button = QPushButton("Check")
        self.check_button.setToolTip("Read the CSV and show what will happen to each row")
        self.check_button.clicked.connect(self.check)
        rows = QVBoxLayout()
        for label, edit, button in (
            ("CSV file:", self.csv_edit, pick_csv),
            ("Photos folder:", self.photos_edit, pick_photos),
        ):
            line = QHBoxLayout()
            line.addWidget(QLabel(label))
            line.addWidget(edit, 1)
            line.addWidget(button)
            rows.addLayout(line)

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.summary = QLabel("Choose the CSV and the photos folder, then press Check.")
        self.summary.setObjectName("importSummary")
        self.summary.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setFormat("%v of %m rows")
        self.progress.setVisible(False)
        self.import_button = QPushButton("Import")
        self.import_button.setEnabled(False)
        self.import_button.clicked.connect(self.start_import)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        buttons = QHBoxLayout()
        buttons.addWidget(self.check_button)
        buttons.addStretch(1)
        buttons.addWidget(self.import_button)
        buttons.addWidget(self.cancel_button)

        layout = QVBoxLayout(self)
        layout.addLayout(rows)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.summary)
        layout.addWidget(self.progress)
        layout.addLayout(buttons)

    # -- choosing ------------------------------------------------------------------------

    @Slot()
    def _choose_csv(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "CSV file", "", "CSV (*.csv);;All files (*)")
        if path:
            self.csv_edit.setText(path)

    @Slot()
    def _choose_photos(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Photos folder")
        if path:
            self.photos_edit.setText(path)

    # -- the plan ------------------------------------------------------------------------

    @Slot()
    def check(self) -> None:
        """Read the CSV and fill the table with the plan (quick: no face analysis)."""
        self.plan = None
        self.import_button.setEnabled(False)
        csv_text, photos_text = self.csv_edit.text().strip(), self.photos_edit.text().strip()
        if not csv_text or not photos_text:
            self._say("Choose the CSV file and the photos folder first.", RED)
            return
        try:
            plan = plan_import(self.services.enrollment, Path(csv_text), Path(photos_text))
        except KioskError as exc:
            self.table.setRowCount(0)
            self._say(str(exc), RED)
            return
        self.plan = plan
        self.table.setRowCount(len(plan.rows))
        for i, row in enumerate(plan.rows):
            colour = RED if row.refused else (GREEN if row.action != Action.NOTHING else "#555")
            self._set_row(i, (str(row.line), row.name, row.badge, row.action, row.reason), colour)
        todo, refused = len(plan.to_do), len(plan.refused)
        nothing = len(plan.rows) - todo - refused
        self._say(
            f"{len(plan.rows)} rows: {todo} to import, {refused} cannot be imported (red, "
            f"with the reason), {nothing} already imported.",
            RED if refused else GREEN,
        )
        self.import_button.setEnabled(todo > 0)

    def _set_row(self, i: int, values: tuple[str, ...], colour: str) -> None:
        for c, value in enumerate(values):
            item = QTableWidgetItem(value)
            item.setForeground(QColor(colour))
            if c == len(values) - 1:
                item.setToolTip(value)
            self.table.setItem(i, c, item)

    def _say(self, text: str, colour: str) -> None:
        self.summary.setText(text)
        self.summary.setStyleSheet(f"color: {colour};")

    # -- the import ----------------------------------------------------------------------

    @Slot()
    def start_import(self) -> None:
        if self.plan is None or self._task is not None:
            return
        plan, enrollment, actor = self.plan, self.services.enrollment, self.actor
        # its own event, not the task's stop: a cancelled import still reports what it did
        cancel = self._cancel = threading.Event()

        def work(progress: Callable[[object], None], stop: threading.Event) -> object:
            def row_done(i: int, outcome: RowOutcome) -> None:
                if stop.is_set():  # the dialog is closing
                    cancel.set()
                progress((i, outcome))

            return run_import(enrollment, actor, plan, cancel=cancel, on_row=row_done)

        self.progress.setRange(0, len(plan.rows))
        self.progress.setValue(0)
        self.progress.setVisible(True)
        self.import_button.setEnabled(False)
        self.check_button.setEnabled(False)
        self._say("Importing…", "#555")
        self._task = run_task(
            self,
            work,
            on_success=self._imported,
            on_failure=self._failed,
            on_progress=self._row_done,
            name="import",
        )

    @property
    def running(self) -> bool:
        return self._task is not None and self._task.running

    @Slot(object)
    def _row_done(self, value: object) -> None:
        assert isinstance(value, tuple)
        index, outcome = value
        assert isinstance(index, int) and isinstance(outcome, RowOutcome)
        self.progress.setValue(index + 1)
        if outcome.refused is not None:
            colour = RED
        elif outcome.warnings:
            colour = AMBER
        else:
            colour = GREEN if outcome.stored else "#555"
        row = outcome.row
        self._set_row(index, (str(row.line), row.name, row.badge, row.action, outcome.text), colour)

    @Slot(object)
    def _imported(self, value: object) -> None:
        assert isinstance(value, ImportReport)
        self.report = value
        self._task = None
        self.check_button.setEnabled(True)
        done = len(value.outcomes)
        total = len(self.plan.rows) if self.plan else done
        head = f"Stopped after {done} of {total} rows. " if value.cancelled else ""
        self._say(
            f"{head}{len(value.stored)} imported, {len(value.refused)} refused (red, with the "
            f"reason), {done - len(value.stored) - len(value.refused)} already there. "
            "Every row is in the operators' actions.",
            RED if value.refused or value.cancelled else GREEN,
        )
        self.cancel_button.setText("Close")

    @Slot(str)
    def _failed(self, message: str) -> None:
        self._task = None
        self.check_button.setEnabled(True)
        self._say(message, RED)

    @Slot()
    def cancel(self) -> None:
        """While importing: stop after the row in progress; otherwise close."""
        if self._task is not None and self._task.running:
            self._cancel.set()
            self._say("Stopping after the row in progress…", AMBER)
            return
        self.reject()

    def done(self, result: int) -> None:
        if self._task is not None:
            self._cancel.set()
            self._task.stop()
            self._task = None
        super().done(result)
