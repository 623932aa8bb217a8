"""Issue 12 (passwords, sign-ins, idempotent enrollment, groups, retention, damaged
templates) and issue 14's account management, on a real SQLite database with the fake
face analyzer."""

from __future__ import annotations

import io
import json
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from kiosk import cli
from kiosk.config import Settings
from kiosk.domain.access import AccessEvent, Decision
from kiosk.errors import InputError
from kiosk.services.access import open_access_service
from kiosk.services.accounts import (
    MIN_PASSWORD_LENGTH,
    AccountService,
    Actor,
    AuthError,
    password_problem,
)
from kiosk.services.audit_log import AuditLogService
from kiosk.services.enrollment import EnrollmentService
from kiosk.services.retention import RetentionRunner
from kiosk.storage.records import Role
from kiosk.storage.store import Store, open_store

from .conftest import PASSWORD, FakeFiles, FakePhoto

#: accepted as admin passwords before (issue 12), and guessable ones of 12 characters
GUESSABLE = [
    "password12",
    "qwerty1234",
    "admin12345",
    "letmein123",
    "kiosk12345",
    "Welcome2026",
    "Password1!",
    "1234567890a",
    "password1234",
    "Password123!",
    "qwertyuiop12",
    "Admin1234567",
    "January2026!",
    "kioskkiosk12",
]


@pytest.mark.parametrize("weak", GUESSABLE)
def test_guessable_passwords_are_refused(store: Store, admin: Actor, weak: str) -> None:
    assert password_problem(weak, "root") is not None
    with pytest.raises(InputError, match="too weak"):
        AccountService(store).add_admin(admin, "someone", weak, Role.AUDITOR)


def test_the_password_rule_says_why_and_accepts_a_passphrase() -> None:
    assert MIN_PASSWORD_LENGTH == 12
    assert password_problem("short-Pass1", "x") == "use at least 12 characters"
    assert "common" in (password_problem("password1234", "x") or "")
    assert password_problem("orchard-9-lantern-copper", "chief") is None
    assert password_problem("correct horse battery staple", "root") is None
    assert "user name" in (password_problem("maximilian-2026-xy", "maximilian") or "")


# -- accounts (issue 14) -----------------------------------------------------------------


def test_disable_enable_role_and_delete(store: Store, admin: Actor) -> None:
    accounts = AccountService(store)
    accounts.add_admin(admin, "bob", "Cat-passw0rd-9-xyz", Role.ADMIN)
    accounts.add_admin(admin, "eve", "Audit-only-2026", Role.AUDITOR)

    assert accounts.set_disabled(admin, "bob", True).disabled
    with pytest.raises(AuthError, match="disabled"):
        accounts.authenticate("bob", "Cat-passw0rd-9-xyz")
    with pytest.raises(AuthError, match="wrong user name or password"):
        accounts.authenticate("bob", "not-the-password")  # no hint that it exists
    accounts.set_disabled(admin, "bob", False)
    assert accounts.authenticate("bob", "Cat-passw0rd-9-xyz").role is Role.ADMIN

    assert accounts.set_role(admin, "eve", Role.ADMIN).role is Role.ADMIN
    assert accounts.authenticate("eve", "Audit-only-2026").role is Role.ADMIN
    accounts.set_role(admin, "eve", Role.AUDITOR)

    accounts.delete_account(admin, "eve")
    with pytest.raises(AuthError, match="wrong user name or password"):
        accounts.authenticate("eve", "Audit-only-2026")
    kinds = [a.action for a in accounts.actions(admin, limit=50)]
    for kind in ("admin-disable", "admin-enable", "admin-role", "admin-delete", "login-refused"):
        assert kind in kinds


def test_an_admin_cannot_lock_everyone_out(store: Store, admin: Actor) -> None:
    accounts = AccountService(store)
    with pytest.raises(InputError, match="your own"):
        accounts.set_disabled(admin, "root", True)
    with pytest.raises(InputError, match="your own"):
        accounts.set_role(admin, "root", Role.AUDITOR)
    with pytest.raises(InputError, match="your own"):
        accounts.delete_account(admin, "root")
    accounts.add_admin(admin, "bob", "Cat-passw0rd-9-xyz", Role.ADMIN)
    bob = accounts.authenticate("bob", "Cat-passw0rd-9-xyz")
    accounts.set_disabled(bob, "root", True)
    # root's session still open (the console) can no longer manage accounts
    with pytest.raises(AuthError, match="disabled"):
        accounts.set_disabled(admin, "bob", True)
    auditor = Actor("eve", Role.AUDITOR)
    with pytest.raises(AuthError, match="auditor"):
        accounts.set_disabled(auditor, "bob", True)


def test_sign_ins_and_failures_are_chained_actions(store: Store, admin: Actor) -> None:
    accounts = AccountService(store)
    with pytest.raises(AuthError):
        accounts.authenticate("root", "wrong-password-1", via="console")
    with pytest.raises(AuthError):
        accounts.authenticate("nobody\x1b[2J", "x")
    accounts.authenticate("root", PASSWORD, via="console")
    listed = AuditLogService(store, Settings(home=Path("."))).admin_actions(admin, limit=5)
    assert [a.action for a in listed[:3]] == ["login", "login-failed", "login-failed"]
    assert (listed[0].target, listed[2].target) == ("root", "root")
    # a name that matches no account is not kept in clear (it may be a password typed
    # into the name field): two characters, the length and a fingerprint (issue 25)
    assert listed[1].target.startswith("no… (10 characters, #")
    assert "nobody" not in listed[1].target and "\x1b" not in listed[1].target
    assert json.loads(listed[0].details) == {"via": "console"}


# -- enrollment --------------------------------------------------------------------------


def enroller(store: Store, settings: Settings, files: FakeFiles) -> EnrollmentService:
    return EnrollmentService(store, files.analyzer, settings, loader=files.load)


def test_the_same_photo_is_not_stored_twice(
    store: Store, settings: Settings, files: FakeFiles, admin: Actor
) -> None:
    photos = [files.add(f"p{i}.jpg", FakePhoto((3,))) for i in range(4)]
    service = enroller(store, settings, files)
    first = service.enroll(admin, name="Ada", badge="A1", photos=photos[:2])
    assert first.templates_added == 2
    # a run that was killed after the first two photos, run again with all four
    again = service.enroll(admin, name="Ada", badge="A1", photos=photos)
    assert (again.templates_added, again.already_stored) == (2, 2)
    third = service.enroll(admin, name="Ada", badge="A1", photos=photos)
    assert (third.templates_added, third.already_stored) == (0, 4)
    assert third.person is not None
    # the same file twice in one run is one template
    copy = files.root / "copy.jpg"
    copy.write_bytes(photos[0].read_bytes())
    files.index[copy] = files.index[photos[0]]
    bo = service.enroll(admin, name="Bo", badge="B1", photos=[photos[0], copy])
    assert (bo.templates_added, bo.already_stored) == (1, 1)
    with store.unit_of_work() as uow:
        assert uow.templates.count() == 5


def test_an_unknown_group_is_refused_and_new_group_creates_it(
    store: Store, settings: Settings, files: FakeFiles, admin: Actor
) -> None:
    service = enroller(store, settings, files)
    photo = files.add("a.jpg", FakePhoto((4,)))
    with pytest.raises(InputError, match=r"no group 'staff' \(known groups: none yet\)"):
        service.enroll(admin, name="Ada", badge="A1", photos=[photo], group="staff")
    service.enroll(admin, name="Ada", badge="A1", photos=[photo], group="staff", new_group=True)
    with pytest.raises(InputError, match=r"no group 'staf' \(known groups: staff\)"):
        service.enroll(
            admin, name="Bo", badge="B1", photos=[files.add("b.jpg", FakePhoto((5,)))], group="staf"
        )
    assert service.known_groups() == ["staff"]


# -- retention ---------------------------------------------------------------------------


def _old_snapshot(store: Store) -> None:
    with store.unit_of_work(write=True) as uow:
        uow.events.append(
            AccessEvent(
                time=datetime.now(UTC) - timedelta(days=45),
                kiosk_id="k",
                decision=Decision.DENIED_UNKNOWN,
                snapshot_jpeg=b"\xff\xd8old",
            )
        )
        uow.events.append(
            AccessEvent(
                time=datetime.now(UTC),
                kiosk_id="k",
                decision=Decision.DENIED_UNKNOWN,
                snapshot_jpeg=b"\xff\xd8new",
            )
        )
        uow.commit()


def _snapshots(store: Store) -> int:
    with store.unit_of_work() as uow:
        return uow.events.count_snapshots()


def test_retention_runs_when_the_kiosk_starts(settings: Settings) -> None:
    with open_store(settings) as store:
        _old_snapshot(store)
        assert _snapshots(store) == 2
    service = open_access_service(settings)  # what `kiosk` opens at start
    try:
        deadline = time.monotonic() + 20
        while _snapshots(service.store) != 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _snapshots(service.store) == 1  # nobody ran purge
        with service.store.unit_of_work() as uow:
            purge = uow.audit.list(action="purge")[0]
        assert purge.admin is None and '"snapshots": 1' in purge.details
    finally:
        service.close()


def test_retention_runs_again_every_interval(store: Store, settings: Settings) -> None:
    runs: list[Any] = []
    ran_twice = threading.Event()

    def on_run(report: Any) -> None:
        runs.append(report)
        if len(runs) == 1:
            _old_snapshot(store)  # expires after the first run
        if len(runs) >= 2:
            ran_twice.set()

    runner = RetentionRunner(store, settings, interval=0.2, on_run=on_run)
    runner.start()
    try:
        assert ran_twice.wait(20)
    finally:
        runner.stop()
    assert runs[1] is not None and runs[1].snapshots == 1


def test_sqlite_secure_delete_is_on_for_the_apps_connections(store: Store) -> None:
    with store.unit_of_work() as uow:
        assert uow.session.execute(text("PRAGMA secure_delete")).scalar() == 1


# -- the command line --------------------------------------------------------------------


@pytest.fixture()
def run_cli(
    kiosk_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Any:
    monkeypatch.setenv("KIOSK_ADMIN", "root")
    monkeypatch.setenv("KIOSK_ADMIN_PASSWORD", PASSWORD)

    def run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
        if stdin is not None:
            monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        try:
            code = cli.main(list(args))
        except SystemExit as exc:
            code = int(exc.code or 0)
        out, err = capsys.readouterr()
        return code, out, err

    assert run("admin", "add", "root", "--role", "admin")[0] == 0
    return run


def test_accounts_and_operators_actions_from_the_command_line(run_cli: Any) -> None:
    code, _, err = run_cli(
        "admin", "add", "eve", "--role", "auditor", "--password-stdin", stdin="Welcome2026\n"
    )
    assert code == 2 and "too weak" in err
    assert (
        run_cli(
            "admin",
            "add",
            "eve",
            "--role",
            "auditor",
            "--password-stdin",
            stdin="Audit-only-2026\n",
        )[0]
        == 0
    )
    assert run_cli("admin", "role", "eve", "--role", "admin")[1] == "eve is now an admin\n"
    assert run_cli("admin", "disable", "eve")[1] == "eve is now disabled\n"
    code, out, _ = run_cli("admin", "list", "--json")
    eve = [json.loads(line) for line in out.splitlines() if '"eve"' in line][0]
    assert (eve["role"], eve["disabled"], eve["sealed"]) == ("admin", True, True)
    assert run_cli("admin", "delete", "eve", "--yes")[0] == 0
    code, out, _ = run_cli("log", "admin-actions", "--limit", "20")
    assert code == 0
    lines = out.splitlines()
    assert any("\tadmin-delete\teve\t" in line for line in lines)
    assert any("\tadmin-role\teve\tnew=admin old=auditor" in line for line in lines)
    assert sum("\tlogin\troot\tvia=cli" in line for line in lines) >= 4
    code, out, _ = run_cli("log", "admin-actions", "--action", "admin-add", "--json")
    assert [json.loads(line)["target"] for line in out.splitlines()] == ["eve", "root"]
