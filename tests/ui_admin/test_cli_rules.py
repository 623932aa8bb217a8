"""The ``admin-console`` subcommand is registered with the command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from kiosk.cli import build_parser, main
from kiosk.cli.windows import cmd_admin_console
from kiosk.config import Settings
from kiosk.domain.faces import ModelInfo
from kiosk.services.accounts import Actor
from kiosk.services.admin import AdminServices
from tests.support.accounts import ADMIN, PASSWORD

REPO = Path(__file__).resolve().parents[2]


def test_admin_console_command_is_registered() -> None:
    args = build_parser().parse_args(["admin-console", "--idle-minutes", "2"])
    assert args.handler is cmd_admin_console and args.idle_minutes == 2.0


def test_admin_console_help() -> None:
    done = subprocess.run(
        [sys.executable, str(REPO / "main.py"), "admin-console", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0
    assert "--idle-minutes" in done.stdout


def test_rules_threshold_and_template_commands(
    services: AdminServices,
    admin: Actor,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = capsys
    monkeypatch.setenv("KIOSK_ADMIN_PASSWORD", PASSWORD)
    auth = ["--user", ADMIN]
    assert (
        main(
            [
                "rules",
                "set",
                "Day staff",
                "--window",
                "mon-fri 08:00-18:00",
                "--holiday",
                "2026-12-25",
                *auth,
            ]
        )
        == 0
    )
    shown = out.readouterr().out
    assert "Day staff: mon 08:00-18:00" in shown and "Day staff: fri 08:00-18:00" in shown
    assert "holiday 2026-12-25" in shown
    assert main(["rules", "set", "Day staff", "--window", "someday 8-9", *auth]) == 2
    assert "mon-fri 08:00-18:00" in out.readouterr().err
    assert main(["rules", "set", "Day staff", "--any-time", *auth]) == 0
    assert "Day staff: any time" in out.readouterr().out

    assert main(["threshold", "--level", "secure", *auth]) == 0
    assert Settings.load().vision.level == "secure" and Settings.load().vision.threshold is None
    out.readouterr()
    assert main(["threshold"]) == 0
    shown = out.readouterr().out
    assert "Secure level (file " in shown and "A stranger let in" in shown and "at most" in shown
    assert main(["threshold", "0.95", *auth]) == 0
    assert Settings.load().vision.threshold == 0.95
    # out of range: refused with one line, the file unchanged
    assert main(["threshold", "1.5", *auth]) == 2
    assert "outside 0.60-1.30" in out.readouterr().err
    assert Settings.load().vision.threshold == 0.95

    store = services.people.store
    with store.unit_of_work(write=True) as uow:
        person = uow.people.add(name="Ada", badge="A1")
        template = uow.templates.add(
            person.id,
            np.ones(128, np.float32) / np.float32(128**0.5),
            ModelInfo("n", "1", "c" * 64),
            quality=1.0,
            source="file",
        )
        uow.commit()
    assert main(["templates", "remove", str(template), *auth]) == 0
    assert main(["templates", "remove", str(template), *auth]) == 2
    with store.unit_of_work() as uow:
        assert uow.templates.for_person(person.id) == []
