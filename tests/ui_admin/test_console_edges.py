"""The console's rough edges, tried as a receptionist and an auditor would: the Sign out
button, the saved confirmation, the camera choice and a camera that cannot be opened,
the export's figures and folder."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton
from pytestqt.qtbot import QtBot

from kiosk.domain.access import AccessEvent, Decision
from kiosk.services.accounts import Actor
from kiosk.services.admin import AdminServices
from kiosk.services.audit_log import event_row
from kiosk.storage.records import LoggedEvent
from kiosk.ui.admin import log_viewer, people
from kiosk.ui.admin.capture import CaptureDialog
from kiosk.ui.admin.enroll import EnrollDialog
from kiosk.ui.admin.people import PeoplePage
from kiosk.ui.admin.window import AdminWindow
from tests.support.accounts import ADMIN, PASSWORD
from tests.support.videos import write_video


@pytest.fixture
def window(qtbot: QtBot, services: AdminServices, admin: Actor) -> Iterator[AdminWindow]:
    w = AdminWindow(services, verify_on_open=False)
    qtbot.addWidget(w)
    yield w
    w.shutdown()


def test_the_sign_out_button_signs_out(qtbot: QtBot, window: AdminWindow) -> None:
    page = window.sign_in_page
    page.username.setText(ADMIN)
    page.password.setText(PASSWORD)
    page.submit()
    assert window.main is not None
    button = window.main.findChild(QPushButton, "signOut")
    assert button is not None
    # the real click: clicked(bool) once reached sign_out(reason) and raised in the slot
    # (pytest-qt fails the test on an exception in a Qt slot)
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert window.main is None and window.stack.currentWidget() is window.sign_in_page
    assert window.sign_in_page.notice.text() == ""


def test_saving_an_enrollment_is_confirmed_on_the_people_page(
    qtbot: QtBot,
    vision_services: AdminServices,
    admin: Actor,
    photos: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    files = [photos / "obama" / f for f in ("tests_obama.jpg", "tests_obama2.jpg")]

    class Filled(EnrollDialog):
        """The dialog as an admin fills it: the form, consent, photos, Save."""

        def exec(self) -> int:
            assert self.form is not None
            self.form.name.setText("Barack Obama")
            self.form.badge.setText("B-44")
            self.form.consent.setChecked(True)
            self.add_files(files)
            qtbot.waitUntil(lambda: self._task is not None and self._task.done, timeout=120_000)
            self._save_clicked()  # nothing in doubt: no question
            return int(self.result())

    monkeypatch.setattr(people, "EnrollDialog", Filled)
    page = PeoplePage(vision_services, admin)
    qtbot.addWidget(page)
    assert page.notice.isHidden()
    page.enroll_new()
    assert not page.notice.isHidden()
    assert "Enrolled Barack Obama (badge B-44): 2 photo(s) saved" in page.notice.text()
    selected = page.selected()
    assert selected is not None and selected.person.badge == "B-44"
    page.toggle_active()  # the next action replaces the confirmation
    assert page.notice.isHidden()


def test_the_enrollment_screens_ask_for_about_ten_photos(
    qtbot: QtBot, services: AdminServices, admin: Actor
) -> None:
    dialog = EnrollDialog(services, admin, None)
    qtbot.addWidget(dialog)
    texts = " ".join(label.text() for label in dialog.findChildren(people.QLabel))
    assert "about 10 photos" in texts
    assert "3 to 10" not in texts


def test_a_camera_that_cannot_be_opened_is_said_once_and_another_can_be_chosen(
    qtbot: QtBot, vision_services: AdminServices, photos: Path, tmp_path: Path
) -> None:
    missing = str(tmp_path / "no-such-camera.avi")
    dialog = CaptureDialog(vision_services, None, camera=missing)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: "No picture" in dialog.video.text(), timeout=10_000)
    # one message, where the picture would be; no "Starting the camera" beside it
    assert "does not exist" in dialog.video.text()
    assert "Choose another camera" in dialog.video.text()
    assert "Starting" not in dialog.video.text() and dialog.feedback.text() == ""
    # the choice offers the configured camera and webcams, and takes a typed source
    offered = [dialog.source.itemData(i) for i in range(dialog.source.count())]
    assert vision_services.settings.camera in offered and "1" in offered and missing in offered
    video = write_video(
        tmp_path / "walk-up.avi",
        [photos / "obama/tests_obama.jpg"],
        seconds_each=3.0,
        fps=5.0,
        size=(640, 480),
    )
    dialog.source.setEditText(str(video))
    dialog._source_typed()
    qtbot.waitUntil(
        lambda: dialog.video.pixmap() is not None and not dialog.video.pixmap().isNull(),
        timeout=120_000,
    )
    assert "No picture" not in dialog.video.text()
    dialog.reject()
    assert not dialog.running and dialog.camera is not None and not dialog.camera.is_alive()


def test_export_figures_are_rounded_and_offered_in_the_documents_folder(
    qtbot: QtBot,
    services: AdminServices,
    admin: Actor,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    row = event_row(
        LoggedEvent(
            1,
            AccessEvent(
                datetime(2026, 3, 1, tzinfo=UTC),
                "front",
                Decision.ALLOWED,
                score=0.41234567890123456,
                threshold=0.6100000143051147,
                latency_ms=71.23456,
            ),
            "Ada",
            "A1",
            False,
        )
    )
    assert (row["score"], row["threshold"], row["latency_ms"]) == (0.4123, 0.61, 71.2)

    offered: list[str] = []

    def save_dialog(parent: Any, title: str, suggested: str, kinds: str) -> tuple[str, str]:
        offered.append(suggested)
        return "", ""  # the admin cancels

    monkeypatch.setattr(log_viewer.QFileDialog, "getSaveFileName", save_dialog)
    v = log_viewer.LogViewer(services, admin, live_ms=0, verify_on_open=False)
    qtbot.addWidget(v)
    try:
        v._choose_export()
        [suggested] = offered
        folder = Path(suggested).parent
        assert folder == log_viewer._documents_folder() and folder != Path.cwd()
        assert folder.is_dir() and Path(suggested).name.startswith("access-log-")
    finally:
        v.close_threads()
