"""The operators' actions: who signed in (or failed to), enrolled, edited, erased, changed
the threshold, exported the log, changed an account; newest first, from the chained log
that ``log verify`` checks. Admins and auditors see it (auditors audit the operators too).

It reads pages of :data:`PAGE` actions (quick: a handful of rows per operator and day),
filtered by kind and operator, with "Older…" for the page before.
"""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import QTimer, Slot
from PySide6.QtGui import QColor, QHideEvent, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from kiosk.errors import KioskError
from kiosk.services.accounts import AccountService, Actor
from kiosk.services.action_words import details_in_words
from kiosk.storage.records import AdminAction

PAGE = 200
#: how often a shown page checks for new actions
LIVE_MS = 3000
COLUMNS = ("Time", "Operator", "Action", "Concerning", "Details")

#: the kinds an operator looks for, in words (the stored name in brackets in the list)
KINDS: tuple[tuple[str, str | None], ...] = (
    ("all actions", None),
    ("sign-ins", "login"),
    ("failed sign-ins", "login-failed"),
    ("refused sign-ins", "login-refused"),
    ("enrollments", "enroll"),
    ("photos added", "enroll-more"),
    ("people edited", "edit"),
    ("deactivations", "deactivate"),
    ("erasures", "erase"),
    ("templates removed", "template-remove"),
    ("threshold changes", "threshold"),
    ("access rules", "schedule"),
    ("log exports", "export-log"),
    ("accounts added", "admin-add"),
    ("passwords set", "admin-passwd"),
    ("roles changed", "admin-role"),
    ("accounts disabled", "admin-disable"),
    ("accounts deleted", "admin-delete"),
    ("retention runs", "purge"),
)

#: actions shown in red or orange: refused access to the console, deletions
ALERT = {
    "login-failed": "#a4161a",
    "login-refused": "#a4161a",
    "admin-delete": "#b35c00",
    "erase": "#b35c00",
}

#: the stored action names in words (``kiosk log admin-actions`` prints the names)
ACTION_WORDS = {
    "login": "signed in",
    "login-failed": "sign-in failed",
    "login-refused": "sign-in refused",
    "enroll": "enrolled a person",
    "enroll-more": "added photos",
    "person-add": "added a person",
    "edit": "edited a person",
    "activate": "activated a person",
    "deactivate": "deactivated a person",
    "erase": "erased a person",
    "template-remove": "removed a template",
    "threshold": "changed the threshold",
    "schedule": "set access rules",
    "export-log": "exported the log",
    "purge": "deleted expired snapshots",
    "admin-add": "added an account",
    "admin-passwd": "set a password",
    "admin-role": "changed a role",
    "admin-disable": "disabled an account",
    "admin-enable": "enabled an account",
    "admin-delete": "deleted an account",
    "admin-seal": "sealed an account",
    "integrity-upgrade": "sealed the database",
    "reembed": "re-made templates for a new model",
    "adapt": "trained the site head",
    "adapt-remove": "removed the site head",
    "kiosk-settings": "a kiosk started with its settings",
    "settings-changed-outside": "settings changed outside the console",
}

#: actions the kiosk does by itself (no operator)
AUTOMATIC = {
    "purge",
    "admin-seal",
    "integrity-upgrade",
    "reembed",
    "kiosk-settings",
    "settings-changed-outside",
}


def operator_words(action: AdminAction) -> str:
    if action.admin:
        return action.admin
    if action.action in AUTOMATIC:
        return "kiosk (automatic)"
    if action.action == "admin-add":
        return "first setup"
    return "-"  # a sign-in attempt under a name that is no account


class OperatorsPage(QWidget):
    def __init__(self, accounts: AccountService, actor: Actor, parent: QWidget | None = None):
        super().__init__(parent)
        self.accounts = accounts
        self.actor = actor
        self.rows: list[AdminAction] = []
        self.kind = QComboBox()
        for words, action in KINDS:
            self.kind.addItem(words, action)
        self.kind.currentIndexChanged.connect(self.reload)
        self.operator = QLineEdit()
        self.operator.setPlaceholderText("any operator")
        self.operator.setClearButtonEnabled(True)
        self.operator.returnPressed.connect(self.reload)
        refresh = QPushButton("Refresh")
        refresh.clicked.connect(self.reload)
        self.older = QPushButton(f"Older {PAGE}…")
        self.older.clicked.connect(self.load_older)
        filters = QHBoxLayout()
        filters.addWidget(QLabel("Show"))
        filters.addWidget(self.kind)
        filters.addWidget(QLabel("by"))
        filters.addWidget(self.operator)
        filters.addWidget(refresh)
        filters.addStretch(1)

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        header = self.table.horizontalHeader()
        for col in range(len(COLUMNS) - 1):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setWordWrap(False)

        self.status = QLabel("")
        self.status.setWordWrap(True)
        bottom = QHBoxLayout()
        bottom.addWidget(self.status, 1)
        bottom.addWidget(self.older)
        note = QLabel(
            "Every action here is part of a hash chain: “Check the chain” on the access log "
            "page (or `kiosk log verify`) names any row that was changed or deleted."
        )
        note.setWordWrap(True)
        note.setStyleSheet("color: #555;")
        layout = QVBoxLayout(self)
        layout.addLayout(filters)
        layout.addWidget(self.table, 1)
        layout.addLayout(bottom)
        layout.addWidget(note)
        # while shown, new actions (from this console, another one or a kiosk) appear
        # without pressing Refresh: the newest action's id is checked every few seconds
        self.live = QTimer(self)
        self.live.setInterval(LIVE_MS)
        self.live.timeout.connect(self.poll)
        self.reload()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802
        self.reload()
        self.live.start()
        super().showEvent(event)

    def hideEvent(self, event: QHideEvent) -> None:  # noqa: N802
        self.live.stop()
        super().hideEvent(event)

    @Slot()
    def poll(self) -> None:
        """Reload when an action newer than the newest shown was recorded."""
        try:
            newest = self.accounts.actions(
                self.actor,
                limit=1,
                action=self.kind.currentData(),
                admin=self.operator.text().strip() or None,
            )
        except KioskError:
            return
        shown = self.rows[0].id if self.rows else 0
        if newest and newest[0].id > shown:
            self.reload()

    def _query(self, before_id: int | None) -> list[AdminAction]:
        return self.accounts.actions(
            self.actor,
            limit=PAGE,
            action=self.kind.currentData(),
            admin=self.operator.text().strip() or None,
            before_id=before_id,
        )

    @Slot()
    def reload(self) -> None:
        self._show(None)

    @Slot()
    def load_older(self) -> None:
        if self.rows:
            self._show(self.rows[-1].id)

    def _show(self, before_id: int | None) -> None:
        try:
            rows = self._query(before_id)
        except KioskError as exc:
            self.status.setStyleSheet("color: #a4161a;")
            self.status.setText(str(exc)[:1].upper() + str(exc)[1:])
            return
        self.rows = rows if before_id is None else self.rows + rows
        start = 0 if before_id is None else self.table.rowCount()
        self.table.setRowCount(len(self.rows))
        for i, a in enumerate(rows, start):
            values = (
                _when(a.time),
                operator_words(a),
                ACTION_WORDS.get(a.action, a.action),
                a.target or "-",
                details_in_words(a.details),
            )
            for col, text in enumerate(values):
                item = QTableWidgetItem(text)
                if col == 2 and a.action in ALERT:
                    item.setForeground(QColor(ALERT[a.action]))
                if col == 2:
                    item.setToolTip(a.action)  # the name `log admin-actions --action` takes
                if col == 4:
                    item.setToolTip(text)
                self.table.setItem(i, col, item)
        self.older.setEnabled(len(rows) == PAGE)
        self.status.setStyleSheet("")
        shown = len(self.rows)
        self.status.setText(
            "No actions match." if not shown else f"{shown:,} action(s) shown, newest first."
        )


def _when(value: datetime) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S")
