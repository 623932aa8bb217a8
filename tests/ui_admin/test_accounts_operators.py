"""The accounts page (disable, enable, role change, delete; a weak password keeps the
dialog open with what was typed) and the operators' actions tab, on a real database."""

from __future__ import annotations

import contextlib
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox
from pytestqt.qtbot import QtBot

from kiosk.services.accounts import Actor, AuthError
from kiosk.services.admin import AdminServices
from kiosk.storage.records import EventFilter, Role
from kiosk.storage.store import Store
from kiosk.ui.admin.accounts import AccountsPage, PasswordDialog
from kiosk.ui.admin.operators import KINDS, OperatorsPage

GOOD = "Orchard-lantern-27"


def page(qtbot: QtBot, services: AdminServices, admin: Actor) -> AccountsPage:
    p = AccountsPage(services.accounts, admin)
    qtbot.addWidget(p)
    return p


def test_a_weak_password_keeps_the_dialog_and_what_was_typed(
    qtbot: QtBot, services: AdminServices, admin: Actor
) -> None:
    accounts = page(qtbot, services, admin)
    dialog = PasswordDialog(accounts, accounts.create_account)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.username.setText("reader")
    dialog.password.setText("Password123!")
    dialog.repeat.setText("Password123!")
    dialog.try_accept()
    assert dialog.isVisible() and dialog.result() == 0
    assert "too weak" in dialog.error.text()
    assert (dialog.username.text(), dialog.password.text()) == ("reader", "Password123!")
    assert [a.username for a in services.accounts.list_admins(admin)] == ["chief"]
    dialog.password.setText(GOOD)
    dialog.repeat.setText(GOOD)
    dialog.try_accept()
    assert not dialog.isVisible()
    assert [a.username for a in services.accounts.list_admins(admin)] == ["chief", "reader"]


def test_disable_role_and_delete_from_the_page(
    qtbot: QtBot, services: AdminServices, admin: Actor
) -> None:
    services.accounts.add_admin(admin, "deputy", GOOD, Role.ADMIN)
    accounts = page(qtbot, services, admin)
    accounts.select("chief")
    assert not accounts.disable_button.isEnabled()  # not yourself
    assert not accounts.delete_button.isEnabled()
    accounts.select("deputy")
    assert accounts.disable_button.text() == "Disable" and accounts.disable_button.isEnabled()
    accounts.disable_button.click()
    assert "The account deputy is disabled" in accounts.message.text()
    assert accounts.table.item(accounts.table.currentRow(), 2).text() == "disabled"
    try:
        services.accounts.authenticate("deputy", GOOD)
        raise AssertionError("a disabled account signed in")
    except AuthError as exc:
        assert "disabled" in str(exc)
    accounts.select("deputy")
    assert accounts.disable_button.text() == "Enable"
    accounts.disable_button.click()
    accounts.select("deputy")
    assert accounts.role_button.text() == "Make auditor"
    accounts.role_button.click()
    assert services.accounts.authenticate("deputy", GOOD).role is Role.AUDITOR

    # issue 26: "Make admin" gives every power: it is asked first (Cancel keeps auditor)
    def answer(button: QMessageBox.StandardButton, seen: list[str]) -> None:
        box = QApplication.activeModalWidget()
        assert isinstance(box, QMessageBox)
        seen.append(box.text())
        box.button(button).click()

    accounts.select("deputy")
    assert accounts.role_button.text() == "Make admin"
    seen: list[str] = []
    QTimer.singleShot(100, lambda: answer(QMessageBox.StandardButton.Cancel, seen))
    accounts.role_button.click()
    assert seen and seen[0].startswith("Make deputy an admin?")
    assert services.accounts.authenticate("deputy", GOOD).role is Role.AUDITOR
    accounts.select("deputy")
    QTimer.singleShot(100, lambda: answer(QMessageBox.StandardButton.Yes, seen))
    accounts.role_button.click()
    assert services.accounts.authenticate("deputy", GOOD).role is Role.ADMIN

    accounts.select("deputy")

    def confirm() -> None:
        box = QApplication.activeModalWidget()
        assert isinstance(box, QMessageBox)
        box.button(QMessageBox.StandardButton.Yes).click()

    QTimer.singleShot(100, confirm)
    accounts.delete_button.click()
    assert [a.username for a in services.accounts.list_admins(admin)] == ["chief"]
    assert "deleted" in accounts.message.text()


def test_operators_actions_are_listed_and_filtered(
    qtbot: QtBot, services: AdminServices, admin: Actor
) -> None:
    services.accounts.add_admin(admin, "deputy", GOOD, Role.AUDITOR)
    for _ in range(2):
        with contextlib.suppress(AuthError):
            services.accounts.authenticate("deputy", "not-the-password", via="console")
    deputy = services.accounts.authenticate("deputy", GOOD, via="console")
    ops = OperatorsPage(services.accounts, deputy)  # auditors see it too
    qtbot.addWidget(ops)
    actions = [ops.table.item(r, 2).toolTip() for r in range(ops.table.rowCount())]
    assert actions[:4] == ["login", "login-failed", "login-failed", "admin-add"]
    assert ops.table.item(1, 2).text() == "sign-in failed"
    assert ops.table.item(0, 1).text() == "deputy" and "via: console" in ops.table.item(0, 4).text()
    ops.kind.setCurrentIndex([kind for _, kind in KINDS].index("login-failed"))
    assert {ops.table.item(r, 2).toolTip() for r in range(ops.table.rowCount())} == {"login-failed"}
    assert ops.table.rowCount() == 2
    ops.kind.setCurrentIndex(0)
    ops.operator.setText("chief")
    ops.reload()
    assert {ops.table.item(r, 1).text() for r in range(ops.table.rowCount())} == {"chief"}


def test_operators_actions_read_in_words_and_new_ones_appear_while_shown(
    qtbot: QtBot, services: AdminServices, admin: Actor, store: Store
) -> None:
    """Issue 26: the Details column showed program text (``filter=EventFilter(since=None,
    ...)``, dict dumps), and new actions only after Refresh."""
    old_filter = (
        "EventFilter(since=datetime.datetime(2026, 12, 5, 0, 0, tzinfo=datetime.timezone.utc),"
        " until=None, person_id=3, decision='denied-spoof', kiosk_id=None)"
    )
    with store.unit_of_work(write=True) as uow:
        uow.audit.record("chief", "export-log", "/tmp/x.csv", rows=40, filter=old_filter)
        uow.commit()
    ops = OperatorsPage(services.accounts, admin)
    qtbot.addWidget(ops)
    ops.show()
    details = ops.table.item(0, 4).text()
    assert details.startswith("filter: from 2026-12-05 ")  # keys sorted, as stored
    assert details.endswith("person #3, decision denied-spoof; rows: 40")
    assert "EventFilter" not in details and "=" not in details and "{" not in details
    # an export from the console now records its filter in words
    flt = EventFilter(since=datetime(2026, 12, 5, tzinfo=UTC), denials=True, person_ids=(1, 2))
    services.security.export_csv(admin, Path(tempfile.mkdtemp()) / "out.csv", flt)
    qtbot.waitUntil(
        lambda: (
            ops.table.item(0, 2).toolTip() == "export-log"
            and ops.rows[0].id > 1
            and ops.table.rowCount() >= 3
        ),
        timeout=10_000,
    )
    words = ops.table.item(0, 4).text()
    assert "filter: from 2026-12-05" in words and "people #1, #2, all denials" in words, words
