"""Sign-in: the first admin, wrong passwords and lock-out, the auditor's view, idle
sign-out. A real database in a temporary KIOSK_HOME."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytestqt.qtbot import QtBot

from kiosk.services.accounts import MAX_FAILED_LOGINS, Actor
from kiosk.services.admin import AdminServices
from kiosk.ui.admin.window import AdminWindow
from tests.support.accounts import ADMIN, PASSWORD


@pytest.fixture
def window(qtbot: QtBot, services: AdminServices) -> Iterator[AdminWindow]:
    w = AdminWindow(services, verify_on_open=False)
    qtbot.addWidget(w)
    yield w
    w.shutdown()


def sign_in(window: AdminWindow, user: str, password: str) -> None:
    page = window.sign_in_page
    page.username.setText(user)
    page.password.setText(password)
    page.submit()


def test_first_start_asks_for_an_admin_and_refuses_a_weak_password(
    qtbot: QtBot, services: AdminServices
) -> None:
    window = AdminWindow(services, verify_on_open=False)
    qtbot.addWidget(window)
    page = window.first_admin
    assert window.stack.currentWidget() is page
    page.username.setText("boss")
    page.password.setText("short")
    page.repeat.setText("short")
    page.submit()
    assert "too weak" in page.error.text()
    assert window.main is None
    page.password.setText(PASSWORD)
    page.repeat.setText(PASSWORD + "x")
    page.submit()
    assert "differ" in page.error.text()
    page.repeat.setText(PASSWORD)
    page.submit()
    assert window.main is not None and window.actor is not None
    assert window.actor.username == "boss"
    assert [window.main.tabs.tabText(i) for i in range(window.main.tabs.count())] == [
        "Today",  # issue 26: the first page
        "People",
        "Access rules",
        "Security level",
        "Access log",
        "Operators' actions",
        "Accounts",
    ]
    window.shutdown()
    assert services.accounts.has_admins()


def test_wrong_passwords_lock_the_account(window: AdminWindow, admin: Actor) -> None:
    window.show_start()
    assert window.stack.currentWidget() is window.sign_in_page
    for _ in range(MAX_FAILED_LOGINS - 1):
        sign_in(window, ADMIN, "Wrong-password-1")
        assert "wrong user name or password" in window.sign_in_page.error.text().lower()
        assert window.main is None
    sign_in(window, ADMIN, "Wrong-password-1")
    assert "locked" in window.sign_in_page.error.text()
    # even the right password is refused while locked
    sign_in(window, ADMIN, PASSWORD)
    assert "locked" in window.sign_in_page.error.text()
    assert window.main is None
    assert window.sign_in_page.password.text() == ""


def test_another_admin_unlocks_with_a_new_password(
    qtbot: QtBot, window: AdminWindow, services: AdminServices, admin: Actor
) -> None:
    from kiosk.storage.records import Role

    services.accounts.add_admin(admin, "deputy", "Dep-uty-2026!", Role.ADMIN)
    for _ in range(MAX_FAILED_LOGINS):
        sign_in(window, "deputy", "Wrong-password-1")
    assert "locked" in window.sign_in_page.error.text()
    sign_in(window, ADMIN, PASSWORD)
    assert window.main is not None and window.main.accounts is not None
    page = window.main.accounts
    states = {page.table.item(r, 0).text(): page.table.item(r, 2).text() for r in range(2)}
    assert states["deputy"].startswith("locked until")
    assert not page.set_password("deputy", "short")
    assert "too weak" in page.message.text()
    assert page.set_password("deputy", "Fresh-Pass-2026")
    assert page.add_account("auditor1", Role.AUDITOR, "Aud1tor-only!")
    window.sign_out()
    sign_in(window, "deputy", "Fresh-Pass-2026")
    assert window.actor is not None and window.actor.username == "deputy"


def test_an_admin_signs_in_and_out(window: AdminWindow, admin: Actor) -> None:
    window.show_start()
    sign_in(window, ADMIN, PASSWORD)
    assert window.main is not None and window.main.people is not None
    window.sign_out()
    assert window.main is None
    assert window.stack.currentWidget() is window.sign_in_page


def test_an_auditor_sees_only_the_log(window: AdminWindow, auditor: Actor) -> None:
    window.show_start()
    sign_in(window, "reader", "Aud1tor-only!")
    assert window.main is not None
    tabs = window.main.tabs
    assert [tabs.tabText(i) for i in range(tabs.count())] == [
        "Today",
        "Access log",
        "Operators' actions",
    ]
    assert window.main.people is None and window.main.security is None


def test_idle_session_signs_out(qtbot: QtBot, services: AdminServices, admin: Actor) -> None:
    window = AdminWindow(services, idle_minutes=0.005, verify_on_open=False)  # 0.3 s
    qtbot.addWidget(window)
    sign_in(window, ADMIN, PASSWORD)
    assert window.main is not None
    qtbot.waitUntil(lambda: window.main is None, timeout=5000)
    assert "without activity" in window.sign_in_page.notice.text()
    window.shutdown()
