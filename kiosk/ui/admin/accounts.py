"""Accounts: who may sign in to the console (admins and auditors), locked, disabled and
unsealed accounts, password resets (which also unlock), role changes, disabling and
deleting.

A dialog that asks for a password does the change itself when OK is pressed and stays
open, with everything typed, when the service refuses (a weak password, a user name that
exists): only a change that was made closes it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from PySide6.QtCore import Slot
from PySide6.QtGui import QColor
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
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from kiosk.errors import KioskError
from kiosk.services.accounts import PASSWORD_RULE, AccountService, Actor
from kiosk.storage.records import AdminAccount, Role

#: what a password dialog does on OK: (user name, role, password); raises KioskError
Submit = Callable[[str, Role, str], None]

ROLE_WORDS = {
    Role.ADMIN: "admin: everything",
    Role.AUDITOR: "auditor: reads and exports the access log only",
}


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


class PasswordDialog(QDialog):
    """A new account (``username`` None) or a new password for one. OK calls ``submit``;
    the dialog closes only when it succeeds."""

    def __init__(self, parent: QWidget | None, submit: Submit, username: str | None = None) -> None:
        super().__init__(parent)
        self._submit = submit
        self.setWindowTitle("New account" if username is None else f"New password for {username}")
        self.username = QLineEdit(username or "")
        self.username.setReadOnly(username is not None)
        self.role = QComboBox()
        for role in (Role.ADMIN, Role.AUDITOR):
            self.role.addItem(ROLE_WORDS[role], str(role))
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
        hint = QLabel(PASSWORD_RULE)
        hint.setWordWrap(True)
        hint.setStyleSheet("color: #555;")
        self.error = QLabel("")
        self.error.setObjectName("dialogError")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #a4161a; font-weight: bold;")
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.try_accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(hint)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        self.setMinimumWidth(440)

    @Slot()
    def try_accept(self) -> None:
        if self.password.text() != self.repeat.text():
            self.error.setText("The two passwords differ; type the same password twice.")
            return
        try:
            self._submit(
                self.username.text().strip(), Role(self.role.currentData()), self.password.text()
            )
        except KioskError as exc:
            self.error.setText(_sentence(str(exc)))  # stays open, nothing typed is lost
            return
        self.accept()


class AccountsPage(QWidget):
    def __init__(self, accounts: AccountService, actor: Actor, parent: QWidget | None = None):
        super().__init__(parent)
        self.accounts = accounts
        self.actor = actor
        self.rows: list[AdminAccount] = []
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["User", "Role", "State", "Last sign-in"])
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.add_button = QPushButton("New account…")
        self.add_button.clicked.connect(self._add)
        self.reset_button = QPushButton("Set a new password…")
        self.reset_button.setToolTip("Also unlocks an account locked after wrong passwords")
        self.reset_button.clicked.connect(self._reset)
        self.role_button = QPushButton("Make auditor")
        self.role_button.clicked.connect(self._toggle_role)
        self.disable_button = QPushButton("Disable")
        self.disable_button.setToolTip("The account can no longer sign in; its actions stay")
        self.disable_button.clicked.connect(self._toggle_disabled)
        self.delete_button = QPushButton("Delete…")
        self.delete_button.clicked.connect(self._delete)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        buttons = QHBoxLayout()
        for b in (
            self.add_button,
            self.reset_button,
            self.role_button,
            self.disable_button,
            self.delete_button,
        ):
            buttons.addWidget(b)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.message)
        self.refresh()

    # -- the table -----------------------------------------------------------------------

    def refresh(self) -> None:
        now = datetime.now(UTC)
        try:
            self.rows = self.accounts.list_admins(self.actor)
        except KioskError as exc:
            self._say(str(exc), False)
            return
        self.table.setRowCount(len(self.rows))
        for i, a in enumerate(self.rows):
            state, colour = _state(a, now)
            last = (
                "-" if a.last_login_at is None else f"{a.last_login_at.astimezone():%Y-%m-%d %H:%M}"
            )
            you = " (you)" if a.username == self.actor.username else ""
            for col, text in enumerate((a.username + you, str(a.role), state, last)):
                item = QTableWidgetItem(text)
                if col == 2 and colour:
                    item.setForeground(QColor(colour))
                self.table.setItem(i, col, item)
        self._selection_changed()

    def selected(self) -> AdminAccount | None:
        row = self.table.currentRow()
        return self.rows[row] if 0 <= row < len(self.rows) else None

    def select(self, username: str) -> None:
        for i, a in enumerate(self.rows):
            if a.username == username:
                self.table.selectRow(i)
                return

    @Slot()
    def _selection_changed(self) -> None:
        a = self.selected()
        mine = a is not None and a.username == self.actor.username
        for b in (self.reset_button, self.role_button, self.disable_button, self.delete_button):
            b.setEnabled(a is not None)
        if a is None:
            return
        self.role_button.setText("Make auditor" if a.role is Role.ADMIN else "Make admin")
        self.disable_button.setText("Enable" if a.disabled else "Disable")
        sealed = a.sealed
        self.reset_button.setEnabled(sealed)
        self.role_button.setEnabled(sealed and not mine)
        self.disable_button.setEnabled(sealed and not mine)
        self.delete_button.setEnabled(not mine)

    # -- the changes (each also callable from tests) --------------------------------------

    def add_account(self, username: str, role: Role, password: str) -> bool:
        """Create an account; ``False`` (and the reason shown) when refused."""
        return self._do(lambda: self.create_account(username, role, password), "")

    def set_password(self, username: str, password: str) -> bool:
        return self._do(lambda: self.new_password(username, password), "")

    def create_account(self, username: str, role: Role, password: str) -> None:
        """Raises :class:`KioskError` when refused (the dialog shows it and stays)."""
        self.accounts.add_admin(self.actor, username.strip(), password, role)
        self._say(f"Account {username.strip()} ({role}) created.", True)
        self.refresh()

    def new_password(self, username: str, password: str) -> None:
        self.accounts.change_password(self.actor, username, password)
        self._say(f"New password set for {username}; the account is unlocked.", True)
        self.refresh()

    def set_role(self, username: str, role: Role) -> bool:
        return self._do(
            lambda: self.accounts.set_role(self.actor, username, role),
            f"The account {username} is now an {role}.",
        )

    def set_disabled(self, username: str, disabled: bool) -> bool:
        words = "disabled: it can no longer sign in" if disabled else "enabled again"
        return self._do(
            lambda: self.accounts.set_disabled(self.actor, username, disabled),
            f"The account {username} is {words}.",
        )

    def delete_account(self, username: str) -> bool:
        return self._do(
            lambda: self.accounts.delete_account(self.actor, username),
            f"Account {username} deleted; its past actions stay in the operators' log.",
        )

    def _do(self, change: Callable[[], object], done: str) -> bool:
        try:
            change()
        except KioskError as exc:
            self._say(str(exc), False)
            return False
        if done:
            self._say(done, True)
        self.refresh()
        return True

    # -- buttons -------------------------------------------------------------------------

    @Slot()
    def _add(self) -> None:
        dialog = PasswordDialog(self, self.create_account)
        dialog.exec()

    @Slot()
    def _reset(self) -> None:
        a = self.selected()
        if a is None:
            self._say("Select an account first.", False)
            return
        dialog = PasswordDialog(self, lambda user, _, pw: self.new_password(user, pw), a.username)
        dialog.exec()

    @Slot()
    def _toggle_role(self) -> None:
        a = self.selected()
        if a is None:
            return
        if a.role is Role.ADMIN:
            self.set_role(a.username, Role.AUDITOR)
            return
        # giving every power (people, faces, accounts, the threshold) is asked first
        answer = QMessageBox.question(
            self,
            "Make admin",
            f"Make {a.username} an admin? An admin can enroll and erase people, change the "
            "security level and the access rules, and add, change or delete accounts, "
            "yours included.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        if answer == QMessageBox.StandardButton.Yes:
            self.set_role(a.username, Role.ADMIN)

    @Slot()
    def _toggle_disabled(self) -> None:
        a = self.selected()
        if a is not None:
            self.set_disabled(a.username, not a.disabled)

    @Slot()
    def _delete(self) -> None:
        a = self.selected()
        if a is None:
            return
        answer = QMessageBox.question(
            self,
            "Delete the account",
            f"Delete the account {a.username}? It can no longer sign in, and the name can be "
            "used for a new account. Its past actions stay in the operators' log.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        if answer == QMessageBox.StandardButton.Yes:
            self.delete_account(a.username)

    def _say(self, text: str, ok: bool) -> None:
        self.message.setStyleSheet(f"color: {'#1b7f3b' if ok else '#a4161a'};")
        self.message.setText(_sentence(text))


def _state(a: AdminAccount, now: datetime) -> tuple[str, str]:
    """The state words and their colour."""
    if not a.sealed:
        return "altered outside the kiosk: cannot sign in; delete it", "#a4161a"
    if a.disabled:
        return "disabled", "#b35c00"
    if a.locked_until is not None and a.locked_until > now:
        return f"locked until {a.locked_until.astimezone():%H:%M}", "#b35c00"
    if a.failed_logins:
        return f"{a.failed_logins} failed sign-in(s)", ""
    return "ok", ""
