"""Closing or leaving the kiosk needs an admin password."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import Qt

from kiosk.camera.frames import CameraStatus, FrameSlot
from kiosk.config import Settings
from kiosk.errors import KioskError
from kiosk.ui.admin_login import AdminLoginDialog, env_password_check
from kiosk.ui.kiosk_window import KioskWindow, ScreenState


@pytest.fixture
def window(qtbot: Any, settings: Settings) -> KioskWindow:
    slot = FrameSlot(CameraStatus(False, "starting the camera", "0", (640, 480, 30.0)))
    w = KioskWindow(settings, slot, password_check=env_password_check("s3cret"), full_screen=False)
    qtbot.addWidget(w)
    w.show_kiosk()
    return w


def test_password_check() -> None:
    check = env_password_check("s3cret")
    assert check("admin", "s3cret") and not check("admin", "guess")
    assert not env_password_check(None)("admin", "")  # no password set: nobody gets in


def test_login_dialog_accepts_only_the_right_password(qtbot: Any) -> None:
    dialog = AdminLoginDialog(env_password_check("s3cret"))
    qtbot.addWidget(dialog)
    dialog.password.setText("guess")
    dialog._try_login()
    assert dialog.result() != AdminLoginDialog.DialogCode.Accepted
    assert "Wrong" in dialog.error.text() and dialog.password.text() == ""
    dialog.password.setText("s3cret")
    dialog._try_login()
    assert dialog.result() == AdminLoginDialog.DialogCode.Accepted


def test_closing_asks_for_the_admin_login(
    qtbot: Any, window: KioskWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[bool] = []
    monkeypatch.setattr(window, "open_admin_login", lambda: asked.append(True))
    window.close()
    qtbot.waitUntil(lambda: bool(asked))
    assert window.isVisible()  # still there
    qtbot.keyClick(window, Qt.Key.Key_Escape)
    assert len(asked) == 2
    window.shutdown()  # what the admin menu's "Close the kiosk" does
    assert not window.isVisible()


def test_starting_state_until_the_models_are_loaded(window: KioskWindow) -> None:
    assert window.state is ScreenState.STARTING
    assert window.banner.title.text() == "Starting…"


def test_admin_accounts_of_the_database_replace_the_environment_password(
    settings: Settings,
) -> None:
    from kiosk.services.accounts import AccountService
    from kiosk.storage.records import Role
    from kiosk.storage.store import open_store
    from kiosk.ui.admin_login import account_password_check

    with open_store(settings) as store:
        check = account_password_check(store, env_password_check("from-env-123"))
        assert check("anyone", "from-env-123")  # no account yet: the environment's
        accounts = AccountService(store)
        admin = accounts.add_admin(None, "chief", "Correct-Horse-42", Role.ADMIN)
        assert admin.username == "chief"
        assert check("chief", "Correct-Horse-42")
        with pytest.raises(KioskError):
            check("chief", "from-env-123")
        actor = accounts.authenticate("chief", "Correct-Horse-42")
        accounts.add_admin(actor, "reader", "Auditing-Only-7", Role.AUDITOR)
        with pytest.raises(KioskError, match="auditor"):
            check("reader", "Auditing-Only-7")  # may read the log, not close the kiosk


def test_the_sign_in_is_touch_sized_and_offers_no_name(qtbot: Any, window: KioskWindow) -> None:
    from PySide6.QtWidgets import QDialogButtonBox

    dialog = AdminLoginDialog(env_password_check("s3cret"), window)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    assert dialog.username.text() == "" and dialog.focusWidget() is dialog.username
    box = dialog.findChild(QDialogButtonBox)
    assert box is not None
    sign_in = box.button(QDialogButtonBox.StandardButton.Ok)
    assert sign_in.text() == "Sign in"
    assert sign_in.height() >= 48 and dialog.password.height() >= 36  # a finger, not a mouse
    assert dialog.width() >= 480
