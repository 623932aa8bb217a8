"""The admin console window: first admin, sign-in (with lock-out), idle sign-out, and the
pages a role may see (an auditor sees only the access log). Its services arrive built
(:func:`kiosk.app.admin_services`); :func:`run_admin_window` runs it."""

from __future__ import annotations

import logging
import sys

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Slot
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QApplication,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QPushButton,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from kiosk.errors import InputError, KioskError
from kiosk.services.accounts import PASSWORD_RULE, Actor
from kiosk.services.admin import AdminServices
from kiosk.storage.records import Role
from kiosk.ui.admin.accounts import AccountsPage
from kiosk.ui.admin.log_viewer import LogViewer
from kiosk.ui.admin.operators import OperatorsPage
from kiosk.ui.admin.people import PeoplePage
from kiosk.ui.admin.rules import AccessRulesPage
from kiosk.ui.admin.security import SecurityPage
from kiosk.ui.admin.today import TodayPage
from kiosk.ui.admin.widgets import sentence

log = logging.getLogger(__name__)

IDLE_MINUTES = 5.0
_INPUT_EVENTS = {
    QEvent.Type.KeyPress,
    QEvent.Type.MouseButtonPress,
    QEvent.Type.MouseMove,
    QEvent.Type.Wheel,
}


def _card(title: str, subtitle: str) -> tuple[QWidget, QVBoxLayout]:
    """A centred box for the sign-in pages."""
    outer = QWidget()
    frame = QFrame()
    frame.setFrameShape(QFrame.Shape.StyledPanel)
    frame.setMaximumWidth(440)
    box = QVBoxLayout(frame)
    heading = QLabel(title)
    heading.setStyleSheet("font-size: 20px; font-weight: bold;")
    box.addWidget(heading)
    sub = QLabel(subtitle)
    sub.setWordWrap(True)
    sub.setStyleSheet("color: #555;")
    box.addWidget(sub)
    row = QHBoxLayout()
    row.addStretch(1)
    row.addWidget(frame, 2)
    row.addStretch(1)
    column = QVBoxLayout(outer)
    column.addStretch(1)
    column.addLayout(row)
    column.addStretch(2)
    return outer, box


class FirstAdminPage(QWidget):
    """Shown when the database has no admin account yet."""

    def __init__(self, window: AdminWindow) -> None:
        super().__init__()
        self.window_ = window
        card, box = _card(
            "Create the first admin",
            "No admin account exists yet. Create one now; you will use it to sign in. "
            f"The password: {PASSWORD_RULE[:1].lower()}{PASSWORD_RULE[1:]}",
        )
        self.username = QLineEdit("admin")
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.repeat = QLineEdit()
        self.repeat.setEchoMode(QLineEdit.EchoMode.Password)
        self.error = QLabel("")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #a4161a; font-weight: bold;")
        form = QFormLayout()
        form.addRow("User name", self.username)
        form.addRow("Password", self.password)
        form.addRow("Repeat password", self.repeat)
        box.addLayout(form)
        box.addWidget(self.error)
        self.create_button = QPushButton("Create admin and sign in")
        self.create_button.setDefault(True)
        self.create_button.clicked.connect(self.submit)
        self.repeat.returnPressed.connect(self.submit)
        box.addWidget(self.create_button)
        QVBoxLayout(self).addWidget(card)

    @Slot()
    def submit(self) -> None:
        accounts = self.window_.services.accounts
        try:
            if self.password.text() != self.repeat.text():
                raise InputError("the two passwords differ; type the same password twice")
            account = accounts.add_admin(
                None, self.username.text().strip(), self.password.text(), Role.ADMIN
            )
        except KioskError as exc:
            self.error.setText(sentence(str(exc)))
            return
        actor = Actor(account.username, account.role)
        self.password.clear()
        self.repeat.clear()
        self.window_.signed_in(actor)


class SignInPage(QWidget):
    def __init__(self, window: AdminWindow) -> None:
        super().__init__()
        self.window_ = window
        card, box = _card(
            "Kiosk admin console",
            "Sign in with your admin or auditor account. After several wrong passwords the "
            "account is locked for a while.",
        )
        self.username = QLineEdit()
        self.username.setPlaceholderText("user name")
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setPlaceholderText("password")
        self.notice = QLabel("")
        self.notice.setWordWrap(True)
        self.notice.setStyleSheet("color: #555;")
        self.error = QLabel("")
        self.error.setObjectName("signInError")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #a4161a; font-weight: bold;")
        form = QFormLayout()
        form.addRow("User name", self.username)
        form.addRow("Password", self.password)
        box.addLayout(form)
        box.addWidget(self.notice)
        box.addWidget(self.error)
        self.sign_in = QPushButton("Sign in")
        self.sign_in.setDefault(True)
        self.sign_in.clicked.connect(self.submit)
        self.password.returnPressed.connect(self.submit)
        self.username.returnPressed.connect(self.password.setFocus)
        box.addWidget(self.sign_in)
        QVBoxLayout(self).addWidget(card)

    @Slot()
    def submit(self) -> None:
        self.error.clear()
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            username = self.username.text().strip()
            if not username:
                raise InputError("type your user name")
            actor = self.window_.services.accounts.authenticate(
                username, self.password.text(), via="console"
            )
        except KioskError as exc:
            self.error.setText(sentence(str(exc)))
            self.password.clear()
            self.password.setFocus()
            return
        finally:
            QApplication.restoreOverrideCursor()
        self.password.clear()
        self.notice.clear()
        self.window_.signed_in(actor)


class MainArea(QWidget):
    """The pages of one signed-in session (rebuilt at each sign-in)."""

    def __init__(self, window: AdminWindow, actor: Actor) -> None:
        super().__init__()
        services = window.services
        self.actor = actor
        self.tabs = QTabWidget()
        self.people = None
        self.rules = None
        self.security = None
        self.accounts = None
        self.today = TodayPage(services.today, actor)
        self.tabs.addTab(self.today, "Today")
        if actor.role is Role.ADMIN:
            self.people = PeoplePage(services, actor)
            self.rules = AccessRulesPage(services, actor)
            self.security = SecurityPage(services.security_level, actor)
            self.tabs.addTab(self.people, "People")
            self.tabs.addTab(self.rules, "Access rules")
            self.tabs.addTab(self.security, "Security level")
        self.log = LogViewer(services, actor, verify_on_open=window.verify_on_open)
        self.tabs.addTab(self.log, "Access log")
        self.tabs.addTab(OperatorsPage(services.accounts, actor), "Operators' actions")
        if actor.role is Role.ADMIN:
            self.accounts = AccountsPage(services.accounts, actor)
            self.tabs.addTab(self.accounts, "Accounts")
        self.tabs.currentChanged.connect(self._tab_changed)
        who = QLabel(f"Signed in as <b>{actor.username}</b> ({actor.role})")
        if actor.role is Role.AUDITOR:
            who.setText(who.text() + " — auditors see the access log and the operators' actions")
        sign_out = QPushButton("Sign out")
        sign_out.setObjectName("signOut")
        # clicked(bool) must not reach sign_out(reason): a slot without arguments
        sign_out.clicked.connect(window.sign_out_pressed)
        top = QHBoxLayout()
        top.addWidget(who)
        top.addStretch(1)
        top.addWidget(sign_out)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.tabs, 1)

    @Slot(int)
    def _tab_changed(self, index: int) -> None:
        page = self.tabs.widget(index)
        if page is self.rules and self.rules is not None:
            self.rules.refresh()
        if page is self.people and self.people is not None:
            self.people.refresh()

    def close_threads(self) -> None:
        self.today.close_threads()
        self.log.close_threads()
        if self.security is not None:
            self.security.close_threads()


class AdminWindow(QMainWindow):
    """The console: sign-in pages, then the signed-in session's tabs."""

    def __init__(
        self,
        services: AdminServices,
        *,
        idle_minutes: float = IDLE_MINUTES,
        verify_on_open: bool = True,
    ) -> None:
        super().__init__()
        self.services = services
        self.verify_on_open = verify_on_open
        self.setWindowTitle("Kiosk admin console")
        self.actor: Actor | None = None
        self.main: MainArea | None = None
        self.stack = QStackedWidget()
        self.first_admin = FirstAdminPage(self)
        self.sign_in_page = SignInPage(self)
        self.stack.addWidget(self.first_admin)
        self.stack.addWidget(self.sign_in_page)
        self.setCentralWidget(self.stack)
        self.idle = QTimer(self)
        self.idle.setSingleShot(True)
        self.idle.setInterval(int(idle_minutes * 60_000))
        self.idle.timeout.connect(self.idle_sign_out)
        self.idle_minutes = idle_minutes
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self)
        self.resize(1200, 760)
        self.show_start()

    def show_start(self) -> None:
        if not self.services.accounts.has_admins():
            self.stack.setCurrentWidget(self.first_admin)
        else:
            self.stack.setCurrentWidget(self.sign_in_page)
            self.sign_in_page.username.setFocus()

    def signed_in(self, actor: Actor) -> None:
        self.actor = actor
        self._drop_main()
        self.main = MainArea(self, actor)
        self.stack.addWidget(self.main)
        self.stack.setCurrentWidget(self.main)
        self.setWindowTitle(f"Kiosk admin console — {actor.username}")
        self.idle.start()

    @Slot()
    def sign_out_pressed(self) -> None:
        self.sign_out()

    def sign_out(self, reason: str = "") -> None:
        """End the session (its pages and threads) and show the sign-in page."""
        self.idle.stop()
        self.actor = None
        self._drop_main()
        self.setWindowTitle("Kiosk admin console")
        self.sign_in_page.notice.setText(reason)
        self.show_start()

    @Slot()
    def idle_sign_out(self) -> None:
        minutes = self.idle_minutes
        shown = f"{minutes:g} minute{'s' if minutes != 1 else ''}"
        # close any dialog of the session first
        for w in QApplication.topLevelWidgets():
            if w is not self and w.isVisible() and w.isModal():
                w.close()
        self.sign_out(f"You were signed out after {shown} without activity.")

    def _drop_main(self) -> None:
        if self.main is not None:
            self.main.close_threads()
            self.stack.removeWidget(self.main)
            self.main.deleteLater()
            self.main = None

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if self.actor is not None and event.type() in _INPUT_EVENTS:
            self.idle.start()
        return False

    def closeEvent(self, event: QCloseEvent) -> None:
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Stop every thread of the console (idempotent)."""
        self.idle.stop()
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)
        self._drop_main()


def run_admin_window(services: AdminServices, *, idle_minutes: float = IDLE_MINUTES) -> int:
    """Show the console and run Qt's event loop until it is closed; the exit code."""
    app = QApplication.instance() or QApplication(sys.argv[:1])
    window = AdminWindow(services, idle_minutes=idle_minutes)
    window.show()
    code = int(app.exec())
    window.shutdown()
    return code
