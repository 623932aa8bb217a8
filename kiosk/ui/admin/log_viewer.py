"""The audit-log viewer: a table that pages the access log from the database.

The model never holds the whole log. Rows are numbered by their position from the
oldest matching event, and fetched in pages of :data:`PAGE` by a loader thread; the
model keeps the most recent :data:`MAX_PAGES` pages. Because positions count from the
oldest end, new events (checked every few seconds) only add positions, so the pages
already fetched stay valid, and the sort order (newest or oldest first) is only a
mapping of rows to positions.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict, deque
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QDateTime,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QStandardPaths,
    QStringListModel,
    Qt,
    QThread,
    QTimer,
    Signal,
    Slot,
)
from PySide6.QtGui import QColor, QImage, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QCompleter,
    QDateTimeEdit,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
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
from kiosk.services.log_browser import LogBrowser
from kiosk.storage.chain import ChainReport
from kiosk.storage.records import EventFilter, LoggedEvent, PersonRecord
from kiosk.ui.admin.tasks import BackgroundTask, run_task, track
from kiosk.ui.admin.widgets import GREY, RED, sentence

log = logging.getLogger(__name__)

PAGE = 200
MAX_PAGES = 60
COLUMNS = ("Time", "Decision", "Person", "Badge", "Kiosk", "Distance", "Reason")
DECISION_COLOURS = {
    Decision.ALLOWED: "#1b7f3b",
    Decision.DENIED_UNKNOWN: "#a4161a",
    Decision.DENIED_INACTIVE: "#b35c00",
    Decision.DENIED_SCHEDULE: "#b35c00",
    Decision.DENIED_SPOOF: "#7b1fa2",
    Decision.ERROR: "#555555",
}


@dataclass(frozen=True)
class Query:
    """What the table shows: the filter and the events up to ``upto_id`` (new events
    raise it), ``total`` of them."""

    generation: int
    flt: EventFilter | None
    upto_id: int
    total: int


@dataclass(frozen=True)
class PageRequest:
    query: Query
    page: int
    #: keyset hints: the largest id of the page below, the smallest of the page above
    after_id: int | None
    before_id: int | None


@dataclass(frozen=True)
class PageResult:
    generation: int
    page: int
    rows: tuple[LoggedEvent, ...]
    error: str = ""


class PageLoader(QObject):
    """Fetches requested pages in its own thread, the newest request first (while the
    admin drags the scroll bar, pages scrolled past are skipped)."""

    loaded = Signal(object)

    def __init__(self, log: LogBrowser, actor: Actor) -> None:
        super().__init__()
        self.log = log
        self.actor = actor
        self._requests: deque[PageRequest] = deque()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self.stop_event = threading.Event()
        self.current_generation = 0

    def request(self, req: PageRequest) -> None:
        with self._lock:
            self._requests.append(req)
            while len(self._requests) > 8:  # far-away pages the view has left
                dropped = self._requests.popleft()
                self.loaded.emit(PageResult(dropped.query.generation, dropped.page, (), "skipped"))
        self._wake.set()

    def wake(self) -> None:
        self._wake.set()

    @Slot()
    def run(self) -> None:
        while not self.stop_event.is_set():
            self._wake.wait(0.5)
            self._wake.clear()
            while not self.stop_event.is_set():
                with self._lock:
                    if not self._requests:
                        break
                    req = self._requests.pop()
                if req.query.generation != self.current_generation:
                    self.loaded.emit(PageResult(req.query.generation, req.page, (), "stale"))
                    continue
                self.loaded.emit(self._fetch(req))

    def _fetch(self, req: PageRequest) -> PageResult:
        q = req.query
        try:
            if req.after_id is not None:
                rows = self.log.after(
                    self.actor,
                    q.flt,
                    upto_id=q.upto_id,
                    boundary_id=req.after_id,
                    limit=PAGE,
                    newest_first=False,
                )
            elif req.before_id is not None:
                rows = self.log.after(
                    self.actor,
                    q.flt,
                    upto_id=q.upto_id,
                    boundary_id=req.before_id,
                    limit=PAGE,
                    newest_first=True,
                )
                rows.reverse()
            else:
                rows = self.log.window(
                    self.actor,
                    q.flt,
                    upto_id=q.upto_id,
                    offset=req.page * PAGE,
                    limit=PAGE,
                    newest_first=False,
                    total=q.total,
                )
        except KioskError as exc:
            return PageResult(q.generation, req.page, (), str(exc))
        except Exception as exc:
            log.exception("log viewer: a page failed")
            return PageResult(q.generation, req.page, (), f"unexpected error: {exc}")
        expected = max(0, min(PAGE, q.total - req.page * PAGE))
        return PageResult(q.generation, req.page, tuple(rows[:expected]))


class EventTableModel(QAbstractTableModel):
    """The filtered log as a table; rows are fetched a page at a time when shown."""

    countChanged = Signal(int)
    pageError = Signal(str)

    def __init__(self, log: LogBrowser, actor: Actor, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.log = log
        self.actor = actor
        self.query = Query(0, None, 0, 0)
        self.newest_first = True
        self._pages: OrderedDict[int, tuple[LoggedEvent, ...]] = OrderedDict()
        self._pending: set[int] = set()
        #: figures for the tests and the status line
        self.pages_loaded = 0
        self.rows_fetched = 0
        self._count_task: BackgroundTask | None = None
        self.loader = PageLoader(log, actor)
        self._thread = track(QThread())
        self._thread.setObjectName("log-pages")
        self.loader.moveToThread(self._thread)
        self._thread.started.connect(self.loader.run)
        self.loader.loaded.connect(self._on_loaded)
        self._thread.start()
        self.counting = False
        self.blank = False

    # -- the query ------------------------------------------------------------------------

    def show_nothing(self) -> None:
        """No rows (a filter that names nobody), and no live events until the next filter."""
        if self._count_task is not None:
            self._count_task.stop()
        self.counting = False
        self.blank = True
        self.beginResetModel()
        self.query = Query(self.query.generation + 1, None, 0, 0)
        self.loader.current_generation = self.query.generation
        self._pages.clear()
        self._pending.clear()
        self.endResetModel()

    def set_filter(self, flt: EventFilter | None) -> None:
        """Show the events matching ``flt``; counted in the background."""
        self.blank = False
        generation = self.query.generation + 1
        self.loader.current_generation = generation
        upto = self.log.head_id(self.actor)
        if self._count_task is not None:
            self._count_task.stop()
        self.counting = True
        self.beginResetModel()
        self.query = Query(generation, flt, upto, 0)
        self._pages.clear()
        self._pending.clear()
        self.endResetModel()
        log_, actor = self.log, self.actor

        def count(progress: Any, stop: threading.Event) -> tuple[int, int]:
            return generation, log_.count(actor, flt, upto_id=upto)

        self._count_task = run_task(
            self,
            count,
            on_success=self._on_counted,
            on_failure=self.pageError.emit,
            name="log-count",
        )

    @Slot(object)
    def _on_counted(self, value: object) -> None:
        pair: tuple[int, int] = value  # type: ignore[assignment]
        generation, total = pair
        if generation != self.query.generation:
            return
        self.counting = False
        self.beginResetModel()
        self.query = Query(generation, self.query.flt, self.query.upto_id, int(total))
        self.endResetModel()
        self.countChanged.emit(self.query.total)

    def poll_new_events(self) -> int:
        """Add events recorded since the query (live view); returns how many were added."""
        if self.counting or self.blank:
            return 0
        head = self.log.head_id(self.actor)
        q = self.query
        if head <= q.upto_id:
            return 0
        added = self.log.count(self.actor, q.flt, upto_id=head, after_id=q.upto_id)
        if added == 0:
            self.query = Query(q.generation, q.flt, head, q.total)
            return 0
        first = 0 if self.newest_first else q.total
        self.beginInsertRows(QModelIndex(), first, first + added - 1)
        self.query = Query(q.generation, q.flt, head, q.total + added)
        # the top page was partial and now has more rows (positions below it are unchanged)
        self._pages.pop(q.total // PAGE, None)
        self._pending.discard(q.total // PAGE)
        self.endInsertRows()
        self.countChanged.emit(self.query.total)
        return added

    # -- Qt model ---------------------------------------------------------------------------

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else self.query.total

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            if section == 0:
                return "Time ▼" if self.newest_first else "Time ▲"
            return COLUMNS[section]
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.ToolTipRole:
            return "Click to sort by time" if section == 0 else None
        return None

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        newest = order == Qt.SortOrder.DescendingOrder
        if column != 0 or newest == self.newest_first:
            return
        self.layoutAboutToBeChanged.emit()
        self.newest_first = newest
        self.layoutChanged.emit()
        self.headerDataChanged.emit(Qt.Orientation.Horizontal, 0, 0)

    def position(self, row: int) -> int:
        return self.query.total - 1 - row if self.newest_first else row

    def event_at(self, row: int) -> LoggedEvent | None:
        """The event shown in ``row`` if its page is loaded (else it is requested)."""
        if not 0 <= row < self.query.total:
            return None
        pos = self.position(row)
        page, i = divmod(pos, PAGE)
        rows = self._pages.get(page)
        if rows is None:
            self._request(page)
            return None
        self._pages.move_to_end(page)
        if i >= len(rows):
            # fetched before new events made this (top) page longer: fetch it again
            del self._pages[page]
            self._request(page)
            return None
        return rows[i]

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = 0) -> Any:
        if not index.isValid():
            return None
        if role not in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ForegroundRole):
            return None
        logged = self.event_at(index.row())
        if logged is None:
            return "…" if role == Qt.ItemDataRole.DisplayRole and index.column() == 0 else None
        e = logged.event
        col = index.column()
        if role == Qt.ItemDataRole.ForegroundRole:
            if col == 1:
                return QColor(DECISION_COLOURS.get(e.decision, "#000000"))
            return None
        if col == 0:
            return e.time.astimezone().strftime("%Y-%m-%d %H:%M:%S")
        if col == 1:
            return str(e.decision)
        if col == 2:
            return logged.person_name or ("unknown" if e.person_id is None else f"#{e.person_id}")
        if col == 3:
            return logged.person_badge or ""
        if col == 4:
            return e.kiosk_id
        if col == 5:
            return "" if e.score is None else f"{e.score:.3f}"
        return e.reason

    # -- pages ---------------------------------------------------------------------------

    def _request(self, page: int) -> None:
        if page in self._pending:
            return
        self._pending.add(page)
        below = self._pages.get(page - 1)
        above = self._pages.get(page + 1)
        after_id = below[-1].id if below and len(below) == PAGE else None
        before_id = above[0].id if above and after_id is None else None
        self.loader.request(PageRequest(self.query, page, after_id, before_id))

    @Slot(object)
    def _on_loaded(self, value: object) -> None:
        result: PageResult = value  # type: ignore[assignment]
        if result.generation != self.query.generation:
            return
        self._pending.discard(result.page)
        if result.error:
            if result.error not in ("stale", "skipped"):
                self.pageError.emit(result.error)
            return
        self._pages[result.page] = result.rows
        self.pages_loaded += 1
        self.rows_fetched += len(result.rows)
        while len(self._pages) > MAX_PAGES:
            self._pages.popitem(last=False)
        first_pos = result.page * PAGE
        last_pos = first_pos + max(0, len(result.rows) - 1)
        rows = sorted(
            (self.query.total - 1 - p if self.newest_first else p) for p in (first_pos, last_pos)
        )
        self.dataChanged.emit(self.index(rows[0], 0), self.index(rows[1], len(COLUMNS) - 1))

    @property
    def cached_pages(self) -> int:
        return len(self._pages)

    def close(self) -> None:
        """Stop the loader and count threads (stop event, quit(), wait())."""
        if self._count_task is not None:
            self._count_task.stop()
        self.loader.stop_event.set()
        self.loader.wake()
        self._thread.quit()
        self._thread.wait()


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
        #: the person the filter field names (chosen from the list or found on Apply)
        self.person: PersonRecord | None = None
        self._export_dir = _documents_folder()
        self._export: BackgroundTask | None = None
        self._verify: BackgroundTask | None = None
        self._kiosks_task: BackgroundTask | None = None
        self.chain_report: ChainReport | None = None
        self._detail_id: int | None = None
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
        self.badge = QLineEdit()
        self.badge.setObjectName("personFilter")
        self.badge.setPlaceholderText("person: name or badge (anyone)")
        self.badge.setClearButtonEnabled(True)
        self.badge.setMinimumWidth(220)
        self.person_list = QStringListModel(self)
        self._suggested: dict[str, PersonRecord] = {}
        self.completer = QCompleter(self.person_list, self)
        self.completer.setCompletionMode(QCompleter.CompletionMode.UnfilteredPopupCompletion)
        self.completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.badge.setCompleter(self.completer)
        self.badge.textEdited.connect(self._suggest_people)
        self.completer.activated[str].connect(self._person_picked)  # type: ignore[index]
        self.decision = QComboBox()
        self.decision.addItem("any decision", None)
        for d in Decision:
            self.decision.addItem(str(d), str(d))
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
        for col, width in enumerate((150, 120, 160, 90, 90, 70)):
            self.table.setColumnWidth(col, width)
        self.table.selectionModel().currentRowChanged.connect(self._show_detail)
        self.model.dataChanged.connect(self._refresh_detail)

        # detail pane
        self.detail = QLabel("Select an event to see its details.")
        self.detail.setWordWrap(True)
        self.detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.detail.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.snapshot = QLabel()
        self.snapshot.setFixedSize(200, 200)
        self.snapshot.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.snapshot.setStyleSheet("background: #eee; color: #666; border: 1px solid #ccc;")
        pane = QWidget()
        pane_layout = QVBoxLayout(pane)
        pane_layout.addWidget(QLabel("<b>Event</b>"))
        pane_layout.addWidget(self.detail)
        pane_layout.addWidget(self.snapshot)
        pane_layout.addStretch(1)
        splitter = QSplitter()
        splitter.addWidget(self.table)
        splitter.addWidget(pane)
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

    @Slot(str)
    def _suggest_people(self, text: str) -> None:
        """Fill the drop-down with the people whose name or badge contains ``text``."""
        self.person = None
        try:
            found = self.services.people.find(self.actor, text) if len(text.strip()) >= 2 else []
        except KioskError:
            found = []
        self._suggested = {_person_label(r): r for r in found}
        self.person_list.setStringList(list(self._suggested))

    @Slot(str)
    def _person_picked(self, label: str) -> None:
        self.person = self._suggested.get(label)
        self.badge.setText(label)
        self.apply_filters()

    def _person_filter(self) -> int | None:
        """The person id to filter on; raises ``KioskError`` (shown by the field) when the
        text names nobody or several people."""
        text = self.badge.text().strip()
        if not text:
            self.person = None
            return None
        if self.person is not None and _person_label(self.person) == text:
            return self.person.person.id
        found = self.services.people.find(self.actor, text)
        if len(found) == 1:
            self.person = found[0]
            return self.person.person.id
        self.person = None
        if not found:
            raise _PersonNotFound(f"No person's name or badge contains “{text}”.")
        self._suggested = {_person_label(r): r for r in found}
        self.person_list.setStringList(list(self._suggested))
        self.completer.complete()
        more = "+" if len(found) >= 20 else ""
        raise _PersonNotFound(
            f"{len(found)}{more} people match “{text}”: choose one from the list (or type "
            "more of the name, or the badge)."
        )

    def current_filter(self) -> EventFilter | None:
        person_id = self._person_filter()
        since = _to_utc(self.since.dateTime()) if self.since_on.isChecked() else None
        until = _to_utc(self.until.dateTime()) if self.until_on.isChecked() else None
        flt = EventFilter(
            since=since,
            until=until,
            person_id=person_id,
            decision=self.decision.currentData(),
            kiosk_id=self.kiosk.currentText().strip() or None,
        )
        return None if flt == EventFilter() else flt

    @Slot()
    def apply_filters(self) -> None:
        try:
            flt = self.current_filter()
        except _PersonNotFound as exc:
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
        if self.person is not None:
            p = self.person.person
            erased = " (erased)" if self.person.erased else ""
            self._note(f"Events of {p.name}, badge {p.badge}{erased}.", GREY)
            self.badge.setText(_person_label(self.person))
        else:
            self.filter_note.setVisible(False)
        self.message.clear()
        self.count_label.setText("counting…")
        self.model.set_filter(flt)
        self._clear_detail()

    @Slot()
    def clear_filters(self) -> None:
        self.since_on.setChecked(False)
        self.until_on.setChecked(False)
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
            self.detail.setText("loading…")
            return
        if self._detail_id == logged.id:
            return
        self._detail_id = logged.id
        e = logged.event
        local = e.time.astimezone()
        lines = [
            f"<b>#{logged.id}</b> {local:%Y-%m-%d %H:%M:%S} (UTC {e.time:%H:%M:%S})",
            f"Decision: <b>{e.decision}</b>",
            f"Person: {logged.person_name or 'unknown'}"
            + (f" (badge {logged.person_badge})" if logged.person_badge else ""),
            f"Kiosk: {e.kiosk_id}",
            "Distance: "
            + ("-" if e.score is None else f"{e.score:.3f}")
            + ("" if e.threshold is None else f" (threshold {e.threshold:.2f})"),
            f"Model: {e.model_version or '-'}",
            "Latency: " + ("-" if e.latency_ms is None else f"{e.latency_ms:.0f} ms"),
            f"Reason: {e.reason or '-'}",
        ]
        self.detail.setText("<br>".join(lines))
        self.snapshot.clear()
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
        self.snapshot.setPixmap(
            QPixmap.fromImage(image).scaled(
                self.snapshot.size(),
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
        )

    def _clear_detail(self) -> None:
        self._detail_id = None
        self.detail.setText("Select an event to see its details.")
        self.snapshot.clear()

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
            self.chain_label.setText(
                f"✘ log altered: first bad row #{report.first_bad_id} — {report.problem}"
            )
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


class _PersonNotFound(KioskError):
    """The person filter names nobody, or several people."""


def _person_label(record: PersonRecord) -> str:
    return f"{record.person.name} ({record.person.badge})"


def _documents_folder() -> Path:
    """Where an export is offered first: the user's documents folder, else home."""
    folder = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
    return Path(folder) if folder and Path(folder).is_dir() else Path.home()
