"""The audit-log table's model: rows paged from the database by a loader thread.

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
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    QThread,
    Signal,
    Slot,
)
from PySide6.QtGui import QColor

from kiosk.domain.access import Decision
from kiosk.errors import KioskError
from kiosk.services.accounts import Actor
from kiosk.services.log_browser import LogBrowser
from kiosk.storage.records import EventFilter, LoggedEvent
from kiosk.ui.admin.tasks import BackgroundTask, run_task, track

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
            return e.decision.words
        if col == 2:
            return who(logged)
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


def who(logged: LoggedEvent) -> str:
    """The person column: a kiosk problem involves nobody (not an "unknown" face)."""
    if logged.person_name:
        return logged.person_name
    if logged.event.decision is Decision.ERROR:
        return "nobody (kiosk problem)"
    if logged.event.person_id is not None:
        return f"#{logged.event.person_id}"
    return "not recognised"
