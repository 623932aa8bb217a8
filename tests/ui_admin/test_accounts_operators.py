"""The accounts page (disable, enable, role change, delete; a weak password keeps the
dialog open with what was typed) and the operators' actions tab, on a real database."""

from __future__ import annotations

import contextlib

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox
from pytestqt.qtbot import QtBot

from kiosk.services.accounts import Actor, AuthError
from kiosk.services.admin import AdminServices
from kiosk.storage.records import Role
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
    assert ops.table.item(0, 1).text() == "deputy" and "via=console" in ops.table.item(0, 4).text()
    ops.kind.setCurrentIndex([kind for _, kind in KINDS].index("login-failed"))
    assert {ops.table.item(r, 2).toolTip() for r in range(ops.table.rowCount())} == {"login-failed"}
    assert ops.table.rowCount() == 2
    ops.kind.setCurrentIndex(0)
    ops.operator.setText("chief")
    ops.reload()
    assert {ops.table.item(r, 1).text() for r in range(ops.table.rowCount())} == {"chief"}
