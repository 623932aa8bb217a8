"""The command line and the console are two callers of the same use cases: a person
enrolled with ``kiosk enroll`` is read back by the console's people page, one enrolled in
the console's dialog by ``kiosk people show``, and both enrollments go through the one
``EnrollmentService.save`` (real database, real pipeline, real photos)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from kiosk import app, cli
from kiosk.services.accounts import Actor
from kiosk.services.admin import AdminServices
from kiosk.services.enrollment import EnrollmentService
from kiosk.ui.admin.enroll import EnrollDialog
from kiosk.ui.admin.people import PeoplePage
from tests.support.accounts import ADMIN, PASSWORD


@pytest.fixture
def saves(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The badges or ids every ``EnrollmentService.save`` call stored, whoever called it."""
    calls: list[str] = []
    real = EnrollmentService.save

    def spy(self: EnrollmentService, *args: Any, **kwargs: Any) -> Any:
        saved = real(self, *args, **kwargs)
        calls.append(saved.person.badge)
        return saved

    monkeypatch.setattr(EnrollmentService, "save", spy)
    return calls


@pytest.fixture
def run_cli(
    pipeline: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., tuple[int, str, str]]:
    """``kiosk ARGS...`` in this process, signed in as the console's admin, with the
    session's pipeline through the composition root's one loader."""
    monkeypatch.setattr(app, "load_pipeline", lambda settings: pipeline)
    monkeypatch.setenv("KIOSK_ADMIN", ADMIN)
    monkeypatch.setenv("KIOSK_ADMIN_PASSWORD", PASSWORD)

    def run(*args: str) -> tuple[int, str, str]:
        code = cli.main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_enrolled_on_the_command_line_read_in_the_console(
    qtbot: QtBot,
    vision_services: AdminServices,
    admin: Actor,
    photos: Path,
    run_cli: Callable[..., tuple[int, str, str]],
    saves: list[str],
) -> None:
    obama = [str(photos / "obama" / f) for f in ("tests_obama.jpg", "tests_obama2.jpg")]
    code, out, err = run_cli("enroll", "--name", "Barack Obama", "--badge", "B-44", *obama)
    assert code == 0, err
    assert "2 photo(s) stored" in out
    assert saves == ["B-44"]

    page = PeoplePage(vision_services, admin)
    qtbot.addWidget(page)
    [record] = page.model.records
    assert (record.person.name, record.person.badge, record.templates) == (
        "Barack Obama",
        "B-44",
        2,
    )
    assert record.consent_by == ADMIN  # the command line records the acting admin
    views = vision_services.people.templates(admin, record.person.id)
    assert [v.info.source for v in views] == ["file:tests_obama.jpg", "file:tests_obama2.jpg"]
    assert all(v.crop_jpeg for v in views)


def test_enrolled_in_the_console_read_on_the_command_line(
    qtbot: QtBot,
    vision_services: AdminServices,
    admin: Actor,
    photos: Path,
    run_cli: Callable[..., tuple[int, str, str]],
    saves: list[str],
) -> None:
    dialog = EnrollDialog(vision_services, admin, None)
    qtbot.addWidget(dialog)
    assert dialog.form is not None
    dialog.form.name.setText("Joe Biden")
    dialog.form.badge.setText("J-46")
    dialog.form.group.setCurrentText("Day staff")
    dialog.add_files([photos / "biden" / "knn_biden2.jpg", photos / "biden" / "tests_biden.jpg"])
    qtbot.waitUntil(lambda: dialog._task is not None and dialog._task.done, timeout=120_000)
    # no consent, nothing stored
    assert not dialog.save() and "consent" in dialog.error.text()
    assert saves == []
    dialog.form.consent.setChecked(True)
    assert dialog.save()
    assert saves == ["J-46"]

    code, out, err = run_cli("people", "show", "--badge", "J-46", "--json")
    assert code == 0, err
    shown = json.loads(out)
    assert (shown["name"], shown["group"], shown["templates"]) == ("Joe Biden", "Day staff", 2)
    assert shown["consent_by"] == ADMIN and shown["consent_at"] is not None
    assert len(shown["template_list"]) == 2
    # and a change on the command line is what the console sees
    assert run_cli("people", "deactivate", "--badge", "J-46")[0] == 0
    page = PeoplePage(vision_services, admin)
    qtbot.addWidget(page)
    [record] = page.model.records
    assert not record.person.active
