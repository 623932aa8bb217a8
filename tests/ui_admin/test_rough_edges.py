"""Issue 26's rough edges on the console, through the real widgets on a real database:
Esc in the enroll dialog asks before a typed name is thrown away; the people list and
the person editor name the same last day of validity; the security page's words scroll
instead of being cut off at 1200x760."""

from __future__ import annotations

from datetime import UTC, datetime

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox
from pytestqt.qtbot import QtBot

from kiosk.services.accounts import Actor
from kiosk.services.admin import AdminServices
from kiosk.services.people import NewPerson
from kiosk.ui.admin.enroll import EnrollDialog
from kiosk.ui.admin.people import PEOPLE_COLUMNS, PeoplePage
from kiosk.ui.admin.person_dialogs import EditPersonDialog
from kiosk.ui.admin.security import SecurityPage


def _answer(button: QMessageBox.StandardButton, seen: list[str]) -> None:
    box = QApplication.activeModalWidget()
    assert isinstance(box, QMessageBox)
    seen.append(box.text())
    box.button(button).click()


def test_esc_in_the_enroll_dialog_asks_before_a_typed_name_is_lost(
    qtbot: QtBot, services: AdminServices, admin: Actor
) -> None:
    dialog = EnrollDialog(services, admin, None)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)  # nothing typed: closes at once
    assert not dialog.isVisible()
    dialog.show()
    assert dialog.form is not None
    dialog.form.name.setText("Ada Lovelace")
    seen: list[str] = []
    QTimer.singleShot(100, lambda: _answer(QMessageBox.StandardButton.Cancel, seen))
    qtbot.keyClick(dialog.form.name, Qt.Key.Key_Escape)
    assert seen == [
        "Close without saving? The name “Ada Lovelace” will be lost; nothing was saved."
    ]
    assert dialog.isVisible() and dialog.form.name.text() == "Ada Lovelace"
    QTimer.singleShot(100, lambda: _answer(QMessageBox.StandardButton.Discard, seen))
    qtbot.keyClick(dialog.form.name, Qt.Key.Key_Escape)
    assert len(seen) == 2 and not dialog.isVisible()


def test_the_list_and_the_editor_name_the_same_last_day(
    qtbot: QtBot, services: AdminServices, admin: Actor
) -> None:
    page = PeoplePage(services, admin)
    qtbot.addWidget(page)
    editor_days = []
    for day in (4, 5):  # through the 4th, then through the 5th
        until = datetime(2026, 12, day + 1).astimezone().astimezone(UTC)  # start of next day
        name = f"Temp {day}"
        services.people.add(admin, NewPerson(name, f"T-{day}", valid_until=until, consent=True))
        record = next(r for r in services.people.everyone(admin) if r.person.name == name)
        editor = EditPersonDialog(services.people, admin, record, None)
        qtbot.addWidget(editor)
        editor_days.append(editor.form.valid_until.date.date().toString("yyyy-MM-dd"))
    page.refresh()
    column = PEOPLE_COLUMNS.index("Valid until (last day)")
    listed = {}
    for row in range(page.model.rowCount()):
        name = page.model.data(page.model.index(row, 0))
        listed[name] = page.model.data(page.model.index(row, column))
    assert editor_days == ["2026-12-04", "2026-12-05"]
    assert listed == {"Temp 4": "2026-12-04", "Temp 5": "2026-12-05"}


def test_the_security_page_scrolls_rather_than_cutting_words_off(
    qtbot: QtBot, services: AdminServices, admin: Actor
) -> None:
    page = SecurityPage(services.security_level, admin)
    qtbot.addWidget(page)
    page.resize(1180, 680)  # the page inside a 1200x760 console
    page.show()
    qtbot.waitUntil(lambda: page.state is not None, timeout=30_000)
    page.level.setCurrentIndex(page.level.findData("most-secure"))
    qtbot.wait(50)
    column = page.words_area.widget()
    # the words are laid out at their full height (scrolled, not squeezed or clipped)
    assert column.height() >= column.minimumSizeHint().height()
    assert column.height() >= page.figures.y() + page.figures.height()
    assert "1 in 100,000" in page.level_words.text()
    last = page.adaptation if page.adaptation is not None else page.history
    page.words_area.ensureWidgetVisible(last)
    assert not last.visibleRegion().isEmpty()
    page.close_threads()
