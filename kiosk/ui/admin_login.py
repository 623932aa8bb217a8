"""The admin login of the kiosk screen: a password dialog, then a short menu (leave full
screen, close the kiosk). The full admin console is a later issue.

Both are sized for a touch screen: text, fields and buttons follow the screen's height
(a finger, not a mouse pointer), and the name starts empty (no guessable name offered)."""

from __future__ import annotations

import enum
import hmac
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from kiosk.errors import KioskError

if TYPE_CHECKING:
    from kiosk.storage.store import Store

log = logging.getLogger(__name__)

#: (username, password) -> is this an admin? May raise a KioskError whose message the
#: dialog shows (a locked account, say).
PasswordCheck = Callable[[str, str], bool]


def account_password_check(store: Store, fallback: PasswordCheck) -> PasswordCheck:
    """The admin accounts of the database (role admin), once there is one; before that,
    ``fallback`` (``KIOSK_ADMIN_PASSWORD``). Failed logins count towards the lockout."""
    from kiosk.services.accounts import AccountService
    from kiosk.storage.records import Role

    accounts = AccountService(store)

    def check(username: str, password: str) -> bool:
        if not accounts.has_admins():
            return fallback(username, password)
        actor = accounts.authenticate(username, password)
        actor.require(Role.ADMIN)
        return True

    return check


def env_password_check(expected: str | None) -> PasswordCheck:
    """The check when no admin account store is available: ``KIOSK_ADMIN_PASSWORD`` (any
    username). Without it nobody can log in, so the kiosk can only be stopped from the
    system (which is the safe default for a door)."""

    def check(username: str, password: str) -> bool:
        if not expected:
            return False
        return hmac.compare_digest(password.encode(), expected.encode())

    return check


def touch_sized(dialog: QDialog, parent: QWidget | None) -> None:
    """Text about 3 % of the screen's height, fields and buttons a finger tall, the
    dialog a good part of the screen: usable on a full-screen touch kiosk."""
    screen = parent.screen() if parent is not None else QGuiApplication.primaryScreen()
    height = screen.geometry().height() if screen is not None else 800
    width = screen.geometry().width() if screen is not None else 1280
    text = max(18, int(height * 0.028))
    dialog.setStyleSheet(
        f"QDialog {{ font-size: {text}px; }}"
        f" QLabel {{ font-size: {text}px; }}"
        f" QLineEdit {{ font-size: {text}px; min-height: {int(text * 2.0)}px;"
        "  padding: 0 10px; }"
        f" QPushButton {{ font-size: {text}px; min-height: {int(text * 2.6)}px;"
        f"  min-width: {int(text * 6)}px; padding: 0 16px; }}"
    )
    dialog.setMinimumWidth(min(width - 40, max(480, int(width * 0.4))))


class AdminLoginDialog(QDialog):
    """Asks for an admin's name and password; accepted only when ``check`` agrees."""

    def __init__(self, check: PasswordCheck, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Admin login")
        self.setModal(True)
        self._check = check
        self.username = QLineEdit()
        self.username.setPlaceholderText("your admin name")
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.error = QLabel("")
        self.error.setObjectName("loginError")
        self.error.setStyleSheet("color: #a4161a; font-weight: bold;")
        form = QFormLayout()
        form.addRow("Admin name", self.username)
        form.addRow("Password", self.password)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        ok = buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setText("Sign in")
        ok.setDefault(True)
        buttons.accepted.connect(self._try_login)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Staff only. Enter an admin password to continue."))
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        self.error.setWordWrap(True)
        touch_sized(self, parent)
        self.username.setFocus()

    def _try_login(self) -> None:
        message = "Wrong name or password. Try again."
        try:
            ok = self._check(self.username.text().strip(), self.password.text())
        except KioskError as exc:
            ok, message = False, str(exc)
        except Exception:  # an unavailable account store is a refusal, not a crash
            log.exception("admin login: the check failed")
            ok, message = False, "Cannot check the password now. Try again."
        if ok:
            self.accept()
        else:
            self.password.clear()
            self.error.setText(message[:1].upper() + message[1:])


class AdminChoice(enum.Enum):
    CANCEL = "cancel"
    LEAVE_FULL_SCREEN = "leave-full-screen"
    CLOSE = "close"


class AdminMenu(QDialog):
    """What a logged-in admin can do at the kiosk for now."""

    def __init__(self, full_screen: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Kiosk admin")
        self.choice = AdminChoice.CANCEL
        layout = QVBoxLayout(self)
        if full_screen:
            leave = QPushButton("Leave full screen")
            leave.clicked.connect(self._leave)
            layout.addWidget(leave)
        close = QPushButton("Close the kiosk")
        close.clicked.connect(self._close)
        layout.addWidget(close)
        cancel = QPushButton("Back to the kiosk")
        cancel.clicked.connect(self.reject)
        cancel.setDefault(True)
        layout.addWidget(cancel)
        self.setWindowFlag(Qt.WindowType.WindowStaysOnTopHint, True)
        touch_sized(self, parent)

    def _leave(self) -> None:
        self.choice = AdminChoice.LEAVE_FULL_SCREEN
        self.accept()

    def _close(self) -> None:
        self.choice = AdminChoice.CLOSE
        self.accept()
