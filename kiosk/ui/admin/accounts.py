"""Accounts: who may sign in to the console (admins and auditors), locked accounts, and
password resets (which also unlock)."""

from __future__ import annotations

from datetime import UTC, datetime

from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
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
from kiosk.services.accounts import MIN_PASSWORD_LENGTH, AccountService, Actor
from kiosk.storage.records import Role


class PasswordDialog(QDialog):
    """A new account (``username`` None) or a new password for one."""

    def __init__(self, parent: QWidget | None, username: str | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("New account" if username is None else f"New password for {username}")
        self.username = QLineEdit(username or "")
        self.username.setReadOnly(username is not None)
        self.role = QComboBox()
        self.role.addItem("admin: everything", str(Role.ADMIN))
        self.role.addItem("auditor: reads and exports the access log only", str(Role.AUDITOR))
        self.role.setCurrentIndex(1)
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.repeat = QLineEdit()
        self.repeat.setEchoMode(QLineEdit.EchoMode.Password)
        form = QFormLayout()
        form.addRow("User name", self.username)
        if username is None:
            form.addRow("Role", self.role)
        form.addRow("Password", self.password)
        form.addRow("Repeat", self.repeat)
        hint = QLabel(
            f"At least {MIN_PASSWORD_LENGTH} characters, letters mixed with digits or symbols."
        )
        hint.setStyleSheet("color: #555;")
        self.error = QLabel("")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #a4161a;")
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self._check)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(hint)
        layout.addWidget(self.error)
        layout.addWidget(buttons)

    @Slot()
    def _check(self) -> None:
        if self.password.text() != self.repeat.text():
            self.error.setText("The two passwords differ; type the same password twice.")
            return
        self.accept()


class AccountsPage(QWidget):
    def __init__(self, accounts: AccountService, actor: Actor, parent: QWidget | None = None):
        super().__init__(parent)
        self.accounts = accounts
        self.actor = actor
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["User", "Role", "State", "Last sign-in"])
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        add = QPushButton("New account…")
        add.clicked.connect(self._add)
        reset = QPushButton("Set a new password…")
        reset.setToolTip("Also unlocks an account locked after wrong passwords")
        reset.clicked.connect(self._reset)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        buttons = QHBoxLayout()
        buttons.addWidget(add)
        buttons.addWidget(reset)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.message)
        self.refresh()

    def refresh(self) -> None:
        now = datetime.now(UTC)
        rows = self.accounts.list_admins(self.actor)
        self.table.setRowCount(len(rows))
        for i, a in enumerate(rows):
            locked = a.locked_until is not None and a.locked_until > now
            state = (
                f"locked until {a.locked_until.astimezone():%H:%M}"  # type: ignore[union-attr]
                if locked
                else (f"{a.failed_logins} failed sign-in(s)" if a.failed_logins else "ok")
            )
            last = (
                "-" if a.last_login_at is None else f"{a.last_login_at.astimezone():%Y-%m-%d %H:%M}"
            )
            for col, text in enumerate((a.username, str(a.role), state, last)):
                self.table.setItem(i, col, QTableWidgetItem(text))

    def add_account(self, username: str, role: Role, password: str) -> bool:
        try:
            self.accounts.add_admin(self.actor, username.strip(), password, role)
        except KioskError as exc:
            self._say(str(exc), False)
            return False
        self._say(f"Account {username.strip()} ({role}) created.", True)
        self.refresh()
        return True

    def set_password(self, username: str, password: str) -> bool:
        try:
            self.accounts.change_password(self.actor, username, password)
        except KioskError as exc:
            self._say(str(exc), False)
            return False
        self._say(f"New password set for {username}; the account is unlocked.", True)
        self.refresh()
        return True

    @Slot()
    def _add(self) -> None:
        dialog = PasswordDialog(self)
        if dialog.exec():
            self.add_account(
                dialog.username.text(), Role(dialog.role.currentData()), dialog.password.text()
            )

    @Slot()
    def _reset(self) -> None:
        row = self.table.currentRow()
        if row < 0:
            self._say("Select an account first.", False)
            return
        item = self.table.item(row, 0)
        if item is None:
            return
        username = item.text()
        dialog = PasswordDialog(self, username)
        if dialog.exec():
            self.set_password(username, dialog.password.text())

    def _say(self, text: str, ok: bool) -> None:
        self.message.setStyleSheet(f"color: {'#1b7f3b' if ok else '#a4161a'};")
        self.message.setText(text[:1].upper() + text[1:])
