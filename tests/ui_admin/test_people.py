"""People and enrollment with the real pipeline on real photos: enroll from files
(accepted and rejected), the duplicate warning, removing a photo, erasing a person."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from kiosk.services.accounts import Actor
from kiosk.services.admin import AdminServices
from kiosk.services.people import PersonStatus, person_status
from kiosk.ui.admin.enroll import EnrollDialog
from kiosk.ui.admin.people import PeoplePage
from kiosk.ui.admin.person_dialogs import TemplatesDialog
from kiosk.ui.admin.widgets import AMBER

OBAMA = ("obama/tests_obama.jpg", "obama/tests_obama2.jpg")
TWO_PEOPLE = "_multi_face/knn_obama_and_biden.jpg"


def enroll_dialog(
    qtbot: QtBot, page: PeoplePage, name: str, badge: str, files: list[Path]
) -> EnrollDialog:
    dialog = EnrollDialog(page.services, page.actor, None, page)
    qtbot.addWidget(dialog)
    assert dialog.form is not None
    dialog.form.name.setText(name)
    dialog.form.badge.setText(badge)
    dialog.form.consent.setChecked(True)
    dialog.add_files(files)
    qtbot.waitUntil(lambda: len(dialog.faces) == len(files), timeout=120_000)
    qtbot.waitUntil(lambda: dialog._task is not None and dialog._task.done, timeout=10_000)
    return dialog


@pytest.fixture
def page(qtbot: QtBot, vision_services: AdminServices, admin: Actor) -> PeoplePage:
    p = PeoplePage(vision_services, admin)
    qtbot.addWidget(p)
    return p


def test_enroll_from_files_marks_each_photo(
    qtbot: QtBot, page: PeoplePage, photos: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lin = photos / "lin_manuel_miranda/ex_lin-manuel-miranda.png"
    files = [photos / p for p in OBAMA] + [photos / TWO_PEOPLE, photos / "missing.jpg", lin]
    dialog = enroll_dialog(qtbot, page, "Barack Obama", "B-44", files)
    marks = {Path(f.source).name: f for f in dialog.faces}
    assert marks["tests_obama.jpg"].accepted and marks["tests_obama2.jpg"].accepted
    two = marks["knn_obama_and_biden.jpg"]
    assert not two.accepted and "faces in the photo" in two.reason_text
    assert not marks["missing.jpg"].accepted
    texts = [dialog.list.item(i).text() for i in range(dialog.list.count())]
    assert sum(t.startswith("✔") for t in texts) == 2
    assert any(t.startswith("✘") and "faces in the photo" in t for t in texts)
    assert "3 accepted (1 in doubt), 2 rejected" in dialog.status.text()
    assert dialog.save_button.isEnabled()
    assert dialog.duplicates == []
    # someone else's photo among them is pointed out: an amber tile, not "accepted"
    assert dialog.odd == [str(lin)]
    assert "ex_lin-manuel-miranda.png" in dialog.duplicate_label.text()
    lin_item = next(
        dialog.list.item(i)
        for i in range(dialog.list.count())
        if "lin-manuel" in dialog.list.item(i).text()
    )
    assert lin_item.text().startswith("?") and "someone else" in lin_item.text()
    assert lin_item.foreground().color().name() == AMBER
    # Save asks first, naming the photo; going back saves nothing
    asked: list[str] = []

    def go_back(box: QMessageBox) -> int:
        asked.append(box.text())
        return 0  # closed without choosing "Save anyway"

    monkeypatch.setattr(QMessageBox, "exec", go_back)
    dialog._save_clicked()
    assert "ex_lin-manuel-miranda.png" in asked[0] and "Save them anyway?" in asked[0]
    assert dialog.saved is None
    # the admin drops it, and nothing is asked any more
    lin_item.setSelected(True)
    dialog.drop_selected()
    assert dialog.odd == [] and dialog.duplicate_label.isHidden()
    assert dialog.doubt_question() is None
    assert dialog.save()
    page.refresh()
    [record] = page.model.records
    assert record.person.name == "Barack Obama" and record.templates == 2
    thumb = page.model.data(page.model.index(0, 0), 1)  # DecorationRole
    assert thumb is not None and 48 in (thumb.width(), thumb.height())
    assert thumb.toImage().pixelColor(24, 24).name() != "#d9d9d9"  # a face, not the blank


def test_duplicate_warning_names_the_enrolled_person(
    qtbot: QtBot, page: PeoplePage, photos: Path
) -> None:
    first = enroll_dialog(qtbot, page, "Barack Obama", "B-44", [photos / OBAMA[0]])
    assert first.save()
    second = enroll_dialog(qtbot, page, "Someone Else", "S-1", [photos / OBAMA[1]])
    assert [d.badge for d in second.duplicates] == ["B-44"]
    assert "Barack Obama" in second.duplicate_label.text()
    assert not second.duplicate_label.isHidden()
    # dropping the photo clears the warning
    second.list.item(0).setSelected(True)
    second.drop_selected()
    assert second.duplicates == [] and not second.save_button.isEnabled()


def test_more_photos_then_remove_one_then_erase(
    qtbot: QtBot, page: PeoplePage, photos: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = enroll_dialog(qtbot, page, "Barack Obama", "B-44", [photos / OBAMA[0]])
    assert first.save()
    page.refresh()
    record = page.model.records[0]
    more = EnrollDialog(page.services, page.actor, record, page)
    qtbot.addWidget(more)
    more.add_files([photos / OBAMA[1]])
    qtbot.waitUntil(lambda: more._task is not None and more._task.done, timeout=120_000)
    assert more.duplicates == []  # the person's own photos are not duplicates
    assert more.save()
    page.refresh()
    assert page.model.records[0].templates == 2

    templates = TemplatesDialog(page.people, page.actor, page.model.records[0], page)
    qtbot.addWidget(templates)
    assert templates.list.count() == 2
    templates.remove_template(int(templates.list.item(0).data(256)))
    assert templates.list.count() == 1
    page.refresh()
    assert page.model.records[0].templates == 1

    # erase: the confirmation says what goes; cancel keeps everything
    seen: list[str] = []

    def fake_exec(box: QMessageBox) -> int:
        seen.append(box.text())
        return 0

    monkeypatch.setattr(QMessageBox, "exec", fake_exec)
    page.select_person(record.person.id)
    page.erase_selected()
    assert "1 face template(s)" in seen[0] and "Barack Obama" in seen[0]
    assert "cannot be undone" in seen[0]
    assert page.model.records[0].templates == 1
    page.erase(record.person.id)
    assert page.model.records == []  # erased people leave the default list
    page.status.setCurrentIndex(page.status.findData(PersonStatus.ERASED))
    [erased] = page.model.records
    assert person_status(erased) == PersonStatus.ERASED and erased.templates == 0
    assert page.people.thumbnail(page.actor, record.person.id) is None


def test_people_list_searches_and_filters_in_the_database(
    qtbot: QtBot, services: AdminServices, admin: Actor
) -> None:
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)
    with services.people.store.unit_of_work(write=True) as uow:
        for i in range(1500):
            uow.people.add(
                name=f"Worker {i:04d}",
                badge=f"W{i}",
                group="Day staff" if i % 2 else None,
                active=i % 10 != 0,
                valid_until=now - timedelta(days=1) if i % 10 == 5 else None,
                valid_from=now + timedelta(days=3) if i % 10 == 7 else None,
            )
        uow.commit()
    page = PeoplePage(services, admin)
    qtbot.addWidget(page)
    page.model.limit = 200
    page.reload()
    assert len(page.model.records) == 200 and page.model.total == 1500
    assert "first 200 of 1,500" in page.summary.text()
    page.search.setText("worker 012")  # any case, name or badge
    assert [r.person.name for r in page.model.records] == [
        f"Worker {i:04d}" for i in range(120, 130)
    ]
    page.search.setText("W1499")
    assert [r.person.badge for r in page.model.records] == ["W1499"]
    page.search.setText("100%")  # a wildcard character is searched for as itself
    assert page.model.records == []
    page.search.clear()
    for status, expected in (
        (PersonStatus.INACTIVE, 150),
        (PersonStatus.EXPIRED, 150),
        (PersonStatus.NOT_YET, 150),
        (PersonStatus.ACTIVE, 1050),
    ):
        page.status.setCurrentIndex(page.status.findData(status))
        assert page.model.total == expected, status
        assert all(person_status(r) == status for r in page.model.records)
    page.status.setCurrentIndex(0)
    page.group.setCurrentIndex(page.group.findData(""))  # no group
    assert page.model.total == 750
    assert all(r.person.group is None for r in page.model.records)


def test_photos_dropped_on_the_dialog_are_checked(
    qtbot: QtBot, page: PeoplePage, photos: Path
) -> None:
    from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
    from PySide6.QtGui import QDropEvent

    dialog = EnrollDialog(page.services, page.actor, None, page)
    qtbot.addWidget(dialog)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(photos / OBAMA[0]))])
    event = QDropEvent(
        QPointF(10, 10),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    dialog.dropEvent(event)
    qtbot.waitUntil(lambda: dialog._task is not None and dialog._task.done, timeout=120_000)
    assert [f.accepted for f in dialog.faces] == [True]
