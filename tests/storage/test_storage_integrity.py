"""Issue 12: tamper evidence that holds against someone who can write the database file.

Each attack is done as the issue did it: plain SQL on the database (SQLite file and
PostgreSQL), without the key; then the kiosk's own commands (``log verify``, sign-in,
``log list``) are run through the real command line. On the code before this change each
of these said "intact" or let the attacker in.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import event

from kiosk.domain.access import AccessSchedule, TimeWindow
from kiosk.domain.faces import ModelInfo
from kiosk.errors import InputError, KioskError
from kiosk.services.access import AccessService
from kiosk.services.accounts import hash_password
from kiosk.storage.database import create_database_engine

from .site import Site, run_as

PASSWORD = "Corr3ct-horse-battery"
MODEL = ModelInfo("test-net", "1", "a" * 64)


def vector(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal(128).astype(np.float32)
    return v / np.linalg.norm(v)


def last_hash(site: Site, event_id: int) -> str:
    return str(site.sql("SELECT hash FROM events WHERE id = :i", i=event_id)[0][0])


# -- the access log ----------------------------------------------------------------------


def test_deleting_the_last_events_and_pointing_the_head_back_is_named(site: Site) -> None:
    site.events(10)
    assert site.run("log", "verify")[0] == 0
    site.sql("DELETE FROM events WHERE id > 8")
    site.sql("UPDATE chain_head SET last_id = 8, last_hash = :h WHERE id = 1", h=last_hash(site, 8))
    code, out, _ = site.run("log", "verify")
    assert code == 1
    assert "TAMPERED: events 9 to 10 deleted from the end of the access log" in out
    assert "checkpoint file" in out
    code, out, _ = site.run("log", "verify", "--json")
    report = json.loads(out)
    assert report["ok"] is False and report["first_bad_id"] == 9


def test_an_old_copy_of_the_head_does_not_hide_deleted_events(site: Site) -> None:
    """The head's MAC holds for the shorter chain it was copied from: the checkpoint
    outside the database still knows the log was longer."""
    site.events(8)
    old_head = site.sql("SELECT last_id, last_hash, mac FROM chain_head WHERE id = 1")[0]
    site.events(2)
    site.sql("DELETE FROM events WHERE id > 8")
    site.sql(
        "UPDATE chain_head SET last_id = :n, last_hash = :h, mac = :m WHERE id = 1",
        n=old_head[0],
        h=old_head[1],
        m=old_head[2],
    )
    code, out, _ = site.run("log", "verify")
    assert code == 1 and "events 9 to 10 deleted from the end" in out


def test_wiping_the_log_is_named(site: Site) -> None:
    site.events(10)
    site.sql("DELETE FROM events")
    site.sql("UPDATE chain_head SET last_id = 0, last_hash = :g WHERE id = 1", g="0" * 64)
    code, out, _ = site.run("log", "verify")
    assert code == 1
    assert "the access log was wiped" in out and "recorded 10" in out


def test_deleting_operators_actions_is_named(site: Site) -> None:
    pid = site.person("Angelina", "A1")
    assert site.run("people", "erase", "--badge", "A1", "--yes")[0] == 0
    erase_id = site.sql("SELECT id FROM admin_actions WHERE action = 'erase'")[0][0]
    site.sql("DELETE FROM admin_actions WHERE id = :i", i=erase_id)
    code, out, _ = site.run("log", "verify")
    assert code == 1 and f"admin action {erase_id} deleted" in out
    assert pid


def test_events_keep_the_name_and_badge_of_their_moment(site: Site) -> None:
    pid = site.person("Angelina", "A1")
    site.events(3, person_id=pid)
    site.sql("UPDATE people SET name = 'Mallory Evil', badge = 'M666' WHERE id = :i", i=pid)
    code, out, _ = site.run("log", "list")
    assert code == 0
    assert "Angelina (A1)" in out and "Mallory" not in out
    code, out, _ = site.run("log", "verify")
    assert code == 1 and "badge M666" in out and "changed outside the kiosk" in out
    # and the kiosk refuses the altered record instead of opening for it
    with site.store() as store, pytest.raises(InputError, match="changed outside the kiosk"):
        AccessService(store, site.settings).get_person(pid)


def test_rewriting_the_name_inside_an_event_is_named(site: Site) -> None:
    pid = site.person("Angelina", "A1")
    site.events(3, person_id=pid)
    site.sql("UPDATE events SET person_name = 'Mallory Evil' WHERE id = 2")
    code, out, _ = site.run("log", "verify")
    assert code == 1 and "event 2 was altered" in out


# -- accounts ----------------------------------------------------------------------------


def test_an_inserted_admin_row_cannot_sign_in_and_is_reported(site: Site) -> None:
    site.person("Angelina", "A1")
    site.sql(
        "INSERT INTO admins (username, password_hash, role, failed_logins, created_at) "
        "VALUES ('mallory', :h, 'admin', 0, :now)",
        h=hash_password("Mallory-was-here-2026"),
        now=datetime(2026, 3, 1),
    )
    code, _, err = run_as(
        site, "mallory", "Mallory-was-here-2026", "people", "erase", "--badge", "A1", "--yes"
    )
    assert code == 2 and "not created or changed by the kiosk" in err
    assert site.sql("SELECT erased_at FROM people WHERE badge = 'A1'")[0][0] is None
    code, out, _ = site.run("log", "verify")
    assert code == 1 and "mallory" in out and "cannot sign in" in out
    code, out, _ = site.run("log", "admin-actions", "--action", "login-refused")
    assert "mallory" in out
    # the admin deletes it; the log is then intact again except for what was recorded
    assert site.run("admin", "delete", "mallory", "--yes")[0] == 0
    assert site.run("log", "verify")[0] == 0


def test_a_role_raised_in_the_database_is_refused(site: Site) -> None:
    assert (
        site.run(
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
    site.sql("UPDATE admins SET role = 'admin' WHERE username = 'eve'")
    code, _, err = run_as(site, "eve", "Audit-only-2026", "people", "list")
    assert code == 2 and "not created or changed by the kiosk" in err


def test_an_unknown_role_is_one_line_not_a_traceback(site: Site) -> None:
    site.sql("UPDATE admins SET role = 'superuser' WHERE username = 'root'")
    code, _, err = site.run("admin", "list")
    assert code == 2 and err.count("\n") == 1 and "not created or changed" in err


def test_an_old_copy_of_a_disabled_account_does_not_come_back(site: Site) -> None:
    assert site.run("admin", "add", "bob", "--password-stdin", stdin="Cat-passw0rd-9-xyz\n")[0] == 0
    before = site.sql("SELECT disabled, generation, seal FROM admins WHERE username = 'bob'")[0]
    assert site.run("admin", "disable", "bob")[0] == 0
    site.sql(
        "UPDATE admins SET disabled = :d, generation = :g, seal = :s WHERE username = 'bob'",
        d=before[0],
        g=before[1],
        s=before[2],
    )
    code, _, err = run_as(site, "bob", "Cat-passw0rd-9-xyz", "people", "list")
    assert code == 2 and "not created or changed by the kiosk" in err


# -- who gets in -------------------------------------------------------------------------


def test_reactivating_a_person_in_the_database_does_not_open_the_door(site: Site) -> None:
    pid = site.person("Fired", "F1")
    assert site.run("people", "deactivate", "--badge", "F1")[0] == 0
    site.sql("UPDATE people SET active = :t WHERE id = :i", t=True, i=pid)
    with site.store() as store, pytest.raises(KioskError, match="changed outside the kiosk"):
        AccessService(store, site.settings).get_person(pid)


def test_removing_a_groups_hours_in_the_database_does_not_open_the_door(site: Site) -> None:
    with site.store() as store, store.unit_of_work(write=True) as uow:
        uow.schedules.set("visitors", AccessSchedule((TimeWindow(0, *_hours(9, 12)),), frozenset()))
        uow.commit()
    pid = site.person("Guest", "G1", group="visitors")
    site.sql("DELETE FROM schedule_windows WHERE group_name = 'visitors'")
    with site.store() as store, pytest.raises(KioskError, match="rules of group 'visitors'"):
        AccessService(store, site.settings).get_person(pid)
    code, out, _ = site.run("log", "verify")
    assert code == 1 and "visitors" in out


def _hours(a: int, b: int) -> tuple[Any, Any]:
    from datetime import time

    return time(a), time(b)


def test_a_template_moved_to_another_person_is_skipped(site: Site) -> None:
    visitor = site.person("Visitor", "V1")
    boss = site.person("Boss", "B1")
    site.sql("UPDATE templates SET person_id = :b WHERE person_id = :v", b=boss, v=visitor)
    with site.store() as store:
        service = AccessService(store, site.settings)
        _, labels = service.load_gallery(MODEL)
        assert labels == [boss]  # the boss's own template only; the moved one skipped
        assert [d.person_id for d in service.damaged] == [boss]
        assert "damaged or was altered" in service.staff_notices()[0]


def test_a_four_byte_template_is_skipped_and_the_rest_recognised(site: Site) -> None:
    a = site.person("A", "A1")
    b = site.person("B", "B1")
    site.sql(
        "UPDATE templates SET embedding = :blob WHERE person_id = :a", blob=b"\x00\x01\x02\x03", a=a
    )
    with site.store() as store:
        service = AccessService(store, site.settings)
        embeddings, labels = service.load_gallery(MODEL)
    assert labels == [b] and embeddings.shape == (1, 128)
    code, out, _ = site.run("log", "verify")
    assert code == 1 and "face templates damaged" in out and "badge A1" in out
    code, out, _ = site.run("people", "show", "--badge", "A1")
    assert code == 0 and "DAMAGED" in out


# -- a damaged schema --------------------------------------------------------------------


def test_two_schema_versions_are_one_line(site: Site) -> None:
    site.sql("INSERT INTO alembic_version (version_num) VALUES ('0000')")
    code, _, err = site.run("log", "verify")
    assert code == 3 and err.count("\n") == 1 and "several versions" in err


# -- secure delete -----------------------------------------------------------------------


def test_the_app_sets_secure_delete_whatever_the_build(tmp_path: Path) -> None:
    engine = create_database_engine(f"sqlite:///{tmp_path / 'k.db'}")

    def build_default_off(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.execute("PRAGMA secure_delete=OFF")  # a build whose default is off

    event.listen(engine, "connect", build_default_off, insert=True)
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA secure_delete").scalar() == 1
    finally:
        engine.dispose()
