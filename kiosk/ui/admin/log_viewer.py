"""The audit-log viewer: filters, the paged table (:mod:`kiosk.ui.admin.log_model`), an
event's detail with its snapshot, the hash chain's state and the CSV export."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import QDateTime, QModelIndex, QStandardPaths, Qt, QTimer, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDateTimeEdit,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from kiosk.domain.access import Decision
from kiosk.errors import KioskError
from kiosk.services.accounts import Actor
from kiosk.services.admin import AdminServices
from kiosk.storage.chain import ChainReport
from kiosk.storage.records import EventFilter
from kiosk.ui.admin.event_detail import EventDetail
from kiosk.ui.admin.log_filters import ALL_DENIALS, QuickFilters, QuickRange, range_start
from kiosk.ui.admin.log_model import EventTableModel
from kiosk.ui.admin.person_filter import PersonField, PersonNotFound
from kiosk.ui.admin.tasks import BackgroundTask, run_task
from kiosk.ui.admin.widgets import GREY, RED, sentence


class LogViewer(QWidget):
    """Filters, the table, the detail pane, export and the hash chain state."""

    def __init__(
        self,
        services: AdminServices,
        actor: Actor,
        parent: QWidget | None = None,
        *,
        live_ms: int = 2000,
        verify_on_open: bool = True,
    ) -> None:
        super().__init__(parent)
        self.services = services
        self.log = services.log
        self.actor = actor
        self.model = EventTableModel(services.log, actor, self)
        self._export_dir = _documents_folder()
        self._export: BackgroundTask | None = None
        self._verify: BackgroundTask | None = None
        self._kiosks_task: BackgroundTask | None = None
        self.chain_report: ChainReport | None = None
        self.export_rows: int | None = None

        # filters
        self.since_on = QCheckBox("From")
        self.since = QDateTimeEdit(QDateTime.currentDateTime().addDays(-7))
        self.until_on = QCheckBox("until")
        self.until = QDateTimeEdit(QDateTime.currentDateTime())
        for box, edit in ((self.since_on, self.since), (self.until_on, self.until)):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd HH:mm")
            edit.setEnabled(False)  # a date that does not filter must not look as if it did
            box.toggled.connect(edit.setEnabled)
        # the person: type part of a name or badge and pick from the list (or Apply)
        self.badge = PersonField(services.people, actor)
        self.badge.picked.connect(self.apply_filters)
        self.decision = QComboBox()
        self.decision.addItem("any decision", None)
        self.decision.addItem("all denials", ALL_DENIALS)
        for d in Decision:
            self.decision.addItem(d.words, str(d))
        # the box as wide as its usual choices, the list as wide as the longest
        self.decision.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.decision.setMinimumContentsLength(16)
        self.kiosk = QComboBox()
        self.kiosk.setEditable(True)
        self.kiosk.addItem("")
        self.kiosk.setMinimumWidth(140)
        self.kiosk.lineEdit().setPlaceholderText("any kiosk")  # type: ignore[union-attr]
        self.apply = QPushButton("Apply filters")
        self.apply.setDefault(True)
        self.apply.clicked.connect(self.apply_filters)
        self.clear = QPushButton("Clear")
        self.clear.clicked.connect(self.clear_filters)
        self.badge.returnPressed.connect(self.apply_filters)

        filters = QHBoxLayout()
        for w in (
            self.since_on,
            self.since,
            self.until_on,
            self.until,
            self.badge,
            self.decision,
            self.kiosk,
            self.apply,
            self.clear,
        ):
            filters.addWidget(w)
        filters.addStretch(1)
        self.quick = QuickFilters(self.badge)
        self.quick.range_chosen.connect(self.quick_range)
        self.quick.denials_chosen.connect(self.all_denials)
        self.quick.people_changed.connect(self.apply_filters)
        # what the person filter found, or why it could not: next to the filters
        self.filter_note = QLabel("")
        self.filter_note.setObjectName("filterNote")
        self.filter_note.setWordWrap(True)
        self.filter_note.setVisible(False)

        # table
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setSortingEnabled(True)
        self.table.horizontalHeader().setSortIndicatorShown(False)
        self.table.sortByColumn(0, Qt.SortOrder.DescendingOrder)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.table.setAlternatingRowColors(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        for col, width in enumerate((150, 200, 160, 90, 90, 70)):
            self.table.setColumnWidth(col, width)
        self.table.selectionModel().currentRowChanged.connect(self._show_detail)
        self.model.dataChanged.connect(self._refresh_detail)

        # detail pane
        self.pane = EventDetail(services.log, actor)
        self.detail, self.snapshot = self.pane.text, self.pane.snapshot
        splitter = QSplitter()
        splitter.addWidget(self.table)
        splitter.addWidget(self.pane)
        splitter.setStretchFactor(0, 4)
        splitter.setStretchFactor(1, 1)

        # status: count, chain, export
        self.count_label = QLabel("counting…")
        self.chain_label = QLabel("hash chain: not checked yet")
        self.chain_label.setObjectName("chainState")
        self.verify_button = QPushButton("Check the chain")
        self.verify_button.clicked.connect(self.verify_chain)
        self.export_button = QPushButton("Export CSV…")
        self.export_button.setToolTip("Export the rows that match the filters, oldest first")
        self.export_button.clicked.connect(self._choose_export)
        self.export_progress = QProgressBar()
        self.export_progress.setVisible(False)
        self.export_cancel = QPushButton("Cancel export")
        self.export_cancel.setVisible(False)
        self.export_cancel.clicked.connect(self.cancel_export)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        status = QHBoxLayout()
        status.addWidget(self.count_label)
        status.addStretch(1)
        status.addWidget(self.chain_label)
        status.addWidget(self.verify_button)
        status.addWidget(self.export_progress)
        status.addWidget(self.export_cancel)
        status.addWidget(self.export_button)

        layout = QVBoxLayout(self)
        layout.addLayout(filters)
        layout.addWidget(self.quick)
        layout.addWidget(self.filter_note)
        layout.addWidget(splitter, 1)
        layout.addLayout(status)
        layout.addWidget(self.message)

        self.model.countChanged.connect(self._counted)
        self.model.pageError.connect(self._error)
        self.model.set_filter(None)
        self.live = QTimer(self)
        self.live.setInterval(live_ms)
        self.live.timeout.connect(self.poll)
        if live_ms > 0:
            self.live.start()
        self._load_kiosks()
        if verify_on_open:
            self.verify_chain()

    # -- filters -------------------------------------------------------------------------

    def current_filter(self) -> EventFilter | None:
        person = self.badge.resolve()
        person_id = None if person is None else person.person.id
        since = _to_utc(self.since.dateTime()) if self.since_on.isChecked() else None
        until = _to_utc(self.until.dateTime()) if self.until_on.isChecked() else None
        decision = self.decision.currentData()
        flt = EventFilter(
            since=since,
            until=until,
            person_id=person_id,
            decision=None if decision == ALL_DENIALS else decision,
            kiosk_id=self.kiosk.currentText().strip() or None,
            person_ids=self.quick.ids(),
            denials=decision == ALL_DENIALS,
        )
        return None if flt == EventFilter() else flt

    @Slot()
    def apply_filters(self) -> None:
        try:
            flt = self.current_filter()
        except PersonNotFound as exc:
            # say it by the field, and show no rows rather than rows the filter does not
            # describe
            self._note(str(exc), RED)
            self.count_label.setText("no person chosen: no events shown")
            self.model.show_nothing()
            self._clear_detail()
            return
        except KioskError as exc:
            self._error(str(exc))
            return
        person = self.badge.person if flt is not None and flt.person_id is not None else None
        people = list(self.quick.people) + ([person] if person is not None else [])
        if people:
            names = ", ".join(
                f"{p.person.name}, badge {p.person.badge}" + (" (erased)" if p.erased else "")
                for p in people
            )
            self._note(f"Events of {names}.", GREY)
        else:
            self.filter_note.setVisible(False)
        self.message.clear()
        self.count_label.setText("counting…")
        self.model.set_filter(flt)
        self._clear_detail()

    @Slot(object)
    def quick_range(self, quick: QuickRange) -> None:
        """Today, the last hour or the last 7 days, up to now (the other filters kept)."""
        now = datetime.now().astimezone()
        start = range_start(quick, now)
        self.since.setDateTime(QDateTime.fromSecsSinceEpoch(int(start.timestamp())))
        self.since_on.setChecked(True)
        self.until_on.setChecked(False)
        self.apply_filters()

    @Slot()
    def all_denials(self) -> None:
        self.decision.setCurrentIndex(self.decision.findData(ALL_DENIALS))
        self.apply_filters()

    @Slot()
    def clear_filters(self) -> None:
        self.since_on.setChecked(False)
        self.until_on.setChecked(False)
        self.quick.clear(emit=False)
        self.badge.clear()
        self.decision.setCurrentIndex(0)
        self.kiosk.setCurrentText("")
        self.apply_filters()

    def _load_kiosks(self) -> None:
        log_, actor = self.log, self.actor

        def work(progress: Any, stop: threading.Event) -> tuple[str, ...]:
            return tuple(log_.kiosks(actor))

        self._kiosks_task = run_task(self, work, on_success=self._kiosks_loaded, name="kiosks")

    @Slot(object)
    def _kiosks_loaded(self, kiosks: object) -> None:
        current = self.kiosk.currentText()
        for k in kiosks:  # type: ignore[attr-defined]
            if self.kiosk.findText(k) < 0:
                self.kiosk.addItem(k)
        self.kiosk.setCurrentText(current)
        self.kiosk.lineEdit().setPlaceholderText("any kiosk")  # type: ignore[union-attr]

    @Slot(int)
    def _counted(self, total: int) -> None:
        flt = self.model.query.flt
        what = "events" if flt is None else "matching events"
        self.count_label.setText(f"{total:,} {what}")

    @Slot()
    def poll(self) -> None:
        try:
            self.model.poll_new_events()
        except KioskError as exc:
            self._error(str(exc))

    # -- detail --------------------------------------------------------------------------

    @Slot(QModelIndex, QModelIndex)
    def _show_detail(self, current: QModelIndex, previous: QModelIndex) -> None:
        self._refresh_detail()

    @Slot()
    def _refresh_detail(self) -> None:
        index = self.table.currentIndex()
        if not index.isValid():
            return
        logged = self.model.event_at(index.row())
        if logged is None:
            self.pane.loading()
        else:
            self.pane.show_event(logged)

    def _clear_detail(self) -> None:
        self.pane.clear()

    # -- hash chain ----------------------------------------------------------------------

    @Slot()
    def verify_chain(self) -> None:
        if self._verify is not None and self._verify.running:
            return
        security, actor = self.services.security, self.actor
        self.chain_label.setText("hash chain: checking…")
        self.chain_label.setStyleSheet("")
        self.verify_button.setEnabled(False)

        def work(progress: Any, stop: threading.Event) -> ChainReport | None:
            return security.verify_chain(actor, stop=stop, progress=progress)

        self._verify = run_task(
            self,
            work,
            on_success=self._verified,
            on_failure=self._verify_failed,
            on_progress=self._verify_progress,
            name="log-verify",
        )

    @Slot(object)
    def _verify_progress(self, checked: object) -> None:
        self.chain_label.setText(f"hash chain: checking… {int(checked):,} events")  # type: ignore[call-overload]

    @Slot(object)
    def _verified(self, report: object) -> None:
        self.verify_button.setEnabled(True)
        if not isinstance(report, ChainReport):
            return
        self.chain_report = report
        if report.ok:
            self.chain_label.setText(f"✔ log intact ({report.checked:,} events verified)")
            self.chain_label.setStyleSheet("color: #1b7f3b; font-weight: bold;")
        else:
            first = (
                "" if report.first_bad_id is None else f"first bad row #{report.first_bad_id} — "
            )
            self.chain_label.setText(f"✘ log altered: {first}{report.short_problem()}")
            self.chain_label.setToolTip(report.describe())  # every problem, one a line
            self.chain_label.setStyleSheet("color: #a4161a; font-weight: bold;")

    @Slot(str)
    def _verify_failed(self, message: str) -> None:
        self.verify_button.setEnabled(True)
        self.chain_label.setText("hash chain: could not be checked")
        self._error(message)

    # -- export --------------------------------------------------------------------------

    @Slot()
    def _choose_export(self) -> None:
        stamp = datetime.now().strftime("%Y%m%d-%H%M")
        # the user's documents folder (then wherever they saved last), never the
        # program's own folder
        suggested = self._export_dir / f"access-log-{stamp}.csv"
        path, _ = QFileDialog.getSaveFileName(
            self, "Export the access log", str(suggested), "CSV files (*.csv)"
        )
        if path:
            self._export_dir = Path(path).parent
            self.export_to(Path(path))

    def export_to(self, target: Path) -> None:
        """Export the rows matching the current filters, with a progress bar."""
        if self._export is not None and self._export.running:
            return
        flt = self.model.query.flt
        total = self.model.query.total
        security, actor = self.services.security, self.actor
        self.export_rows = None
        self.export_progress.setRange(0, max(1, total))
        self.export_progress.setValue(0)
        self.export_progress.setFormat(f"%v of {total:,} rows")
        self.export_progress.setVisible(True)
        self.export_cancel.setVisible(True)
        self.export_button.setEnabled(False)

        def work(progress: Any, stop: threading.Event) -> int:
            return security.export_csv(actor, target, flt, progress=progress, stop=stop)

        self._export_target = target
        self._export = run_task(
            self,
            work,
            on_success=self._exported,
            on_failure=self._export_failed,
            on_progress=self._export_progressed,
            name="log-export",
        )

    @Slot(object)
    def _export_progressed(self, rows: object) -> None:
        self.export_progress.setValue(int(rows))  # type: ignore[call-overload]

    @Slot(object)
    def _exported(self, rows: object) -> None:
        self.export_rows = int(rows)  # type: ignore[call-overload]
        self._export_done()
        self.message.setStyleSheet("color: #1b7f3b;")
        self.message.setText(f"Exported {self.export_rows:,} rows to {self._export_target}.")

    @Slot(str)
    def _export_failed(self, message: str) -> None:
        self._export_done()
        self._error(message)

    @Slot()
    def cancel_export(self) -> None:
        if self._export is not None:
            self._export.stop()
        self._export_done()
        self.message.setText("Export cancelled; no file was written.")

    def _export_done(self) -> None:
        self.export_progress.setVisible(False)
        self.export_cancel.setVisible(False)
        self.export_button.setEnabled(True)

    # -- misc ----------------------------------------------------------------------------

    @Slot(str)
    def _error(self, message: str) -> None:
        self.message.setStyleSheet(f"color: {RED};")
        self.message.setText(sentence(message))

    def _note(self, text: str, colour: str) -> None:
        self.filter_note.setStyleSheet(f"color: {colour};")
        self.filter_note.setText(text)
        self.filter_note.setVisible(True)

    def close_threads(self) -> None:
        self.live.stop()
        for task in (self._export, self._verify, self._kiosks_task):
            if task is not None:
                task.stop()
        self.model.close()


def _to_utc(value: QDateTime) -> datetime:
    return datetime.fromtimestamp(value.toSecsSinceEpoch(), UTC)


def _documents_folder() -> Path:
    """Where an export is offered first: the user's documents folder, else home."""
    folder = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
    return Path(folder) if folder and Path(folder).is_dir() else Path.home()
