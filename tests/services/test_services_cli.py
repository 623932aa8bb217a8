"""The admin command line without the face pipeline: accounts, log and exit codes."""

from __future__ import annotations

import io
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from kiosk import cli
from kiosk.config import Settings
from kiosk.domain.access import AccessEvent, Decision
from kiosk.services.access import open_access_service

PASSWORD = "Corr3ct-horse-battery"


@pytest.fixture()
def run_cli(
    kiosk_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Any:
    monkeypatch.setenv("KIOSK_ADMIN", "root")
    monkeypatch.setenv("KIOSK_ADMIN_PASSWORD", PASSWORD)

    def run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
        if stdin is not None:
            monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        code = cli.main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    assert run("admin", "add", "root", "--role", "admin")[0] == 0
    return run


def test_accounts_from_the_command_line(run_cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, err = run_cli(
        "admin", "add", "eve", "--role", "auditor", "--password-stdin", stdin="Audit-only-2026\n"
    )
    assert code == 0 and "added auditor eve" in out
    code, out, err = run_cli("admin", "add", "weak", "--password-stdin", stdin="short\n")
    assert code == 2 and "too weak" in err
    code, out, err = run_cli("admin", "list", "--json")
    assert [(r["username"], r["role"]) for r in map(json.loads, out.splitlines())] == [
        ("eve", "auditor"),
        ("root", "admin"),
    ]
    monkeypatch.setenv("KIOSK_ADMIN", "eve")
    monkeypatch.setenv("KIOSK_ADMIN_PASSWORD", "Audit-only-2026")
    assert run_cli("log", "list")[0] == 0  # auditors read the log
    code, out, err = run_cli("people", "list")
    assert code == 2 and "auditor" in err and "may only read" in err
    code, out, err = run_cli("admin", "passwd", "--password-stdin", stdin="Another-passw0rd\n")
    assert code == 0
    monkeypatch.setenv("KIOSK_ADMIN_PASSWORD", "Another-passw0rd")
    assert run_cli("log", "verify")[0] == 0
    monkeypatch.delenv("KIOSK_ADMIN")
    code, out, err = run_cli("log", "verify")
    assert code == 2 and "--user NAME" in err


def test_log_list_filters_json_and_verify_exit_codes(run_cli: Any, kiosk_home: Path) -> None:
    settings = Settings.load()
    t0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    with open_access_service(settings) as service:
        for i in range(12):
            service.record_event(
                AccessEvent(
                    time=t0 + timedelta(hours=i),
                    kiosk_id="door-a" if i < 8 else "door-b",
                    decision=Decision.DENIED_UNKNOWN if i % 4 else Decision.ERROR,
                    score=0.8,
                )
            )
    code, out, err = run_cli("log", "list", "--json", "--kiosk", "door-b")
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [r["id"] for r in rows] == [12, 11, 10, 9]
    assert {"id", "time_utc", "decision", "name", "badge", "score"} <= set(rows[0])
    code, out, err = run_cli(
        "log", "list", "--json", "--since", "2026-03-02T10:00+00:00", "--until",
        "2026-03-02T12:00+00:00",
    )  # fmt: skip
    assert [json.loads(line)["id"] for line in out.splitlines()] == [4, 3]
    code, out, err = run_cli("log", "list", "--json", "--decision", "error", "--limit", "2")
    assert [json.loads(line)["id"] for line in out.splitlines()] == [9, 5]
    code, out, err = run_cli("log", "list", "--decision", "maybe")
    assert code == 2 and "--decision must be one of" in err
    code, out, err = run_cli("log", "list", "--since", "yesterday")
    assert code == 2 and "is not a date" in err
    code, out, err = run_cli("log", "list", "--person", "nobody")
    assert code == 2 and "no person has the badge nobody" in err
    code, out, err = run_cli("log", "export", "--csv", "-", "--kiosk", "door-a")
    assert code == 0 and len(out.splitlines()) == 9

    with sqlite3.connect(kiosk_home / "kiosk.db") as conn:
        conn.execute("UPDATE events SET decision = 'allowed' WHERE id = 6")
    code, out, err = run_cli("log", "verify", "--json")
    report = json.loads(out)
    assert code == 1 and report["ok"] is False and report["first_bad_id"] == 6
    code, out, err = run_cli("log", "verify")
    assert code == 1 and "TAMPERED: event 6 was altered" in out


def test_erase_asks_for_confirmation(run_cli: Any) -> None:
    code, out, err = run_cli("people", "erase", "--badge", "X", stdin="")
    assert code == 2 and "--yes" in err
    code, out, err = run_cli("people", "erase", "--badge", "X", "--yes")
    assert code == 2 and "no person has the badge X" in err


def test_commands_before_any_admin_exists(
    kiosk_home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KIOSK_ADMIN_PASSWORD", raising=False)
    assert cli.main(["people", "list"]) == 2
    assert "kiosk admin add NAME --role admin" in capsys.readouterr().err
