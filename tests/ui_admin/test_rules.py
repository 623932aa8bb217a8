"""Access rules: a group's weekly windows and holidays, saved from the page, deny access
outside them, and the kiosk's own path (AccessService + check_access) agrees."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from pytestqt.qtbot import QtBot

from kiosk.domain.access import Decision, check_access
from kiosk.services.access import AccessService
from kiosk.services.accounts import Actor
from kiosk.services.admin import AdminServices
from kiosk.services.people import NewPerson
from kiosk.ui.admin.rules import AccessRulesPage


def next_weekday(weekday: int, at: time) -> datetime:
    today = datetime.now().astimezone()
    day = today + timedelta(days=(weekday - today.weekday()) % 7 + 7)
    return day.replace(hour=at.hour, minute=at.minute, second=0, microsecond=0)


def test_a_schedule_that_denies(qtbot: QtBot, services: AdminServices, admin: Actor) -> None:
    person = services.people.add(admin, NewPerson("Night Guard", "N-7", group="Day staff"))
    page = AccessRulesPage(services, admin)
    qtbot.addWidget(page)
    page.select_group("Day staff")
    assert page.title.text() == "Group Day staff"
    page.windows.setRowCount(0)
    page.add_window(0, time(8, 0), time(18, 0))  # Mondays 08:00-18:00
    monday = next_weekday(0, time(12, 0))
    page.holidays.setPlainText("2026-12-25")
    assert page.save(), page.message.text()
    assert "Saved" in page.message.text()

    allowed = services.rules.try_access(admin, person.id, monday)
    assert allowed.decision is Decision.ALLOWED
    night = services.rules.try_access(admin, person.id, monday.replace(hour=21))
    assert night.decision is Decision.DENIED_SCHEDULE
    tuesday = services.rules.try_access(admin, person.id, monday + timedelta(days=1))
    assert tuesday.decision is Decision.DENIED_SCHEDULE

    # the page's own check says so too
    page.person.setCurrentIndex(page.person.findData(person.id))
    from PySide6.QtCore import QDateTime

    page.when.setDateTime(QDateTime.fromSecsSinceEpoch(int(monday.replace(hour=21).timestamp())))
    page.try_access()
    assert "denied-schedule" in page.verdict.text()

    # the kiosk reads the same rules
    kiosk = AccessService(services.people.store, services.settings)
    schedule = kiosk.get_schedule("Day staff")
    assert schedule is not None and date(2026, 12, 25) in schedule.holidays
    seen = kiosk.get_person(person.id)
    decision = check_access(seen, schedule, monday.replace(hour=21).astimezone(UTC))
    assert decision.decision is Decision.DENIED_SCHEDULE
    assert check_access(seen, schedule, monday.astimezone(UTC)).decision is Decision.ALLOWED


def test_bad_window_and_holiday_are_explained(
    qtbot: QtBot, services: AdminServices, admin: Actor
) -> None:
    page = AccessRulesPage(services, admin)
    qtbot.addWidget(page)
    page.select_group("Cleaners")
    page.add_window(2, time(18, 0), time(6, 0))
    assert not page.save()
    assert "before it starts" in page.message.text()
    page.windows.setRowCount(0)
    page.holidays.setPlainText("25/12/2026")
    assert not page.save()
    assert "is not a date" in page.message.text()


def test_valid_until_in_the_past_denies(services: AdminServices, admin: Actor) -> None:
    yesterday = datetime.now(UTC) - timedelta(days=1)
    person = services.people.add(
        admin,
        NewPerson(
            "Temp Worker", "T-1", valid_from=yesterday - timedelta(days=5), valid_until=yesterday
        ),
    )
    check = services.rules.try_access(admin, person.id, datetime.now().astimezone())
    assert check.decision is Decision.DENIED_INACTIVE and "expired" in check.reason
