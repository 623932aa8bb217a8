"""Issue 25: the holes an insider with write access to the database, or a fault, could
still open. Each attack is plain SQL on the database (SQLite file and PostgreSQL) without
the key, then the kiosk's own commands and start-up are run; on the code before this
change each of them said "intact", started, or opened without a record.
"""

from __future__ import annotations

import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from kiosk.domain.access import AccessEvent, Decision
from kiosk.errors import InputError
from kiosk.services.access import AccessService, open_access_service
from kiosk.services.accounts import AccountService, AuthError
from kiosk.storage import anchor, integrity
from kiosk.storage.errors import StorageError
from kiosk.storage.records import Role

from .site import Site


def _rollback_to(site: Site, n: int, head: tuple[object, ...]) -> None:
    """Put the access log back to its first ``n`` events with the authentic head row it
    had then, as restoring an older copy of the database would."""
    site.sql("DELETE FROM events WHERE id > :n", n=n)
    site.sql(
        "UPDATE chain_head SET last_id = :n, last_hash = :h, mac = :m WHERE id = 1",
        n=head[0],
        h=head[1],
        m=head[2],
    )


def _new_events(site: Site, n: int) -> None:
    """``n`` events unlike any before (the site's are the same each call)."""
    with site.store() as store:
        for _ in range(n):
            with store.unit_of_work(write=True) as uow:
                uow.events.append(
                    AccessEvent(
                        time=datetime.now(UTC),
                        kiosk_id="front",
                        decision=Decision.DENIED_UNKNOWN,
                        reason="after the rollback",
                    )
                )
                uow.commit()


def _kiosk_starts(site: Site) -> None:
    open_access_service(site.settings).close()


def test_a_rollback_stays_named_after_the_log_grows(site: Site) -> None:
    site.events(6)
    old_head = tuple(site.sql("SELECT last_id, last_hash, mac FROM chain_head WHERE id = 1")[0])
    site.events(2)
    _rollback_to(site, 6, old_head)
    # the kiosk does not start on a database older than its checkpoint
    with pytest.raises(StorageError, match="older than its checkpoint file"):
        _kiosk_starts(site)
    _new_events(site, 3)  # 9 events now: more than the checkpoint's newest count before (8)
    code, out, _ = site.run("log", "verify")
    assert code == 1 and "event 7 is not the one recorded in the checkpoint file" in out
    with pytest.raises(StorageError, match="event 7 of the access log is not the one"):
        _kiosk_starts(site)
    # an admin acknowledges it, recorded; then the kiosk starts and verify is clean
    code, out, _ = site.run("log", "acknowledge")
    assert code == 0 and "acknowledged: event 7" in out
    code, out, _ = site.run("log", "admin-actions", "--action", "acknowledge-rollback")
    assert "event 7" in out
    _kiosk_starts(site)
    assert site.run("log", "verify")[0] == 0
    code, out, _ = site.run("log", "acknowledge")
    assert code == 0 and "nothing to acknowledge" in out


def test_the_evidence_of_a_rollback_survives_compaction(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(anchor, "COMPACT_BYTES", 1500)  # compacted every few lines
    site.events(8)
    old_head = tuple(site.sql("SELECT last_id, last_hash, mac FROM chain_head WHERE id = 1")[0])
    site.events(4)
    _rollback_to(site, 8, old_head)
    _new_events(site, 30)  # many compactions later
    path = anchor.anchor_path(site.settings.effective_database_url, site.settings.home)
    assert path.is_file() and len(path.read_text().splitlines()) < 30
    code, out, _ = site.run("log", "verify")
    assert code == 1 and "is not the one recorded in the checkpoint file" in out
    with pytest.raises(StorageError, match="older than its checkpoint file"):
        _kiosk_starts(site)


def test_a_cut_log_stops_the_kiosk_from_starting(site: Site) -> None:
    site.events(5)
    _kiosk_starts(site)
    site.sql("DELETE FROM events WHERE id > 3")
    with pytest.raises(StorageError, match="holds no event 5"):
        _kiosk_starts(site)


# -- no opening without a record ---------------------------------------------------------


def _plant(site: Site, statement: str, **params: object) -> None:
    """Plain SQL with the foreign keys off (the sqlite3 shell's default; a PostgreSQL
    superuser's replica role)."""
    with site.engine.begin() as conn:
        if site.engine.dialect.name == "postgresql":
            conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(text(statement), params)


def test_a_planted_snapshot_does_not_stop_the_log_and_is_named(site: Site) -> None:
    site.events(3)
    _plant(
        site,
        "INSERT INTO snapshots (event_id, person_id, created_at, data) VALUES (4, NULL, :t, :d)",
        t=datetime(2026, 3, 1),
        d=b"planted",
    )
    code, out, _ = site.run("log", "verify")
    assert code == 1 and "snapshots of events that do not exist: event 4" in out
    with site.store() as store:
        access = AccessService(store, site.settings)
        for _ in range(3):  # every later event is recorded, with its own snapshot
            access.record_event(
                AccessEvent(
                    datetime.now(UTC), "front", Decision.DENIED_UNKNOWN, snapshot_jpeg=b"jpeg"
                )
            )
        with store.unit_of_work() as uow:
            assert uow.events.count() == 6
            assert uow.events.snapshot(4) == b"jpeg"
    assert site.run("log", "verify")[0] == 0


def test_an_event_row_planted_ahead_of_the_log_is_named(site: Site) -> None:
    site.events(3)
    site.sql(
        "INSERT INTO events (id, time, kiosk_id, decision, reason, prev_hash, hash) "
        "VALUES (4, :t, 'front', 'denied-unknown', '', :h, :h)",
        t=datetime(2026, 3, 1),
        h="0" * 64,
    )
    # the kiosk cannot record past it (and so lets nobody in: tests/unit/test_fail_closed.py)
    with site.store() as store, pytest.raises(Exception, match="UNIQUE|duplicate key"):
        AccessService(store, site.settings).record_event(
            AccessEvent(datetime.now(UTC), "front", Decision.ALLOWED)
        )
    code, out, _ = site.run("log", "verify")
    assert code == 1 and "event 4 was inserted after the last recorded event 3" in out


# -- admins, templates and people under a roster -----------------------------------------


def test_deleting_every_admin_is_named_and_no_first_admin_can_be_made(site: Site) -> None:
    site.sql("DELETE FROM admins")
    with site.store() as store, store.unit_of_work() as uow:  # nobody can sign in to verify
        report = integrity.check(uow, store.anchor)
    assert report is not None and not report.ok
    assert "admin accounts deleted outside the kiosk: 1 of 1 (root)" in report.describe()
    # the first-admin set-up (no sign-in) is for a database that never had an admin
    code, _, err = site.run(
        "admin", "add", "eve", "--role", "admin", "--password-stdin", stdin="Mallory-2026-zq!\n"
    )
    assert code != 0 and "Traceback" not in err
    assert site.sql("SELECT username FROM admins") == []
    with site.store() as store, pytest.raises(AuthError, match="had admin accounts"):
        AccountService(store).add_admin(None, "eve", "Mallory-was-here-2026", Role.ADMIN)
    # even with the operators' actions wiped: the checkpoint file remembers
    site.sql("DELETE FROM admin_actions")
    site.sql("DELETE FROM chain_head WHERE id = 2")
    with site.store() as store:
        assert AccountService(store).has_admins()


def test_deleting_templates_or_a_person_is_named(site: Site) -> None:
    site.person("Angelina", "A1")
    site.person("Boris", "B1")
    assert site.run("log", "verify")[0] == 0
    site.sql("DELETE FROM templates")
    code, out, _ = site.run("log", "verify")
    assert code == 1 and "face templates deleted outside the kiosk: 2 of 2" in out
    site.sql("DELETE FROM people WHERE badge = 'B1'")
    code, out, _ = site.run("log", "verify")
    assert "person records deleted outside the kiosk: 1 of 2" in out


def test_the_kiosks_own_deletions_keep_the_rosters_whole(site: Site) -> None:
    site.person("Angelina", "A1")
    site.person("Boris", "B1")
    assert site.run("people", "erase", "--badge", "A1", "--yes")[0] == 0
    assert site.run("admin", "add", "bob", "--password-stdin", stdin="Cat-passw0rd-9-xyz\n")[0] == 0
    assert site.run("admin", "delete", "bob", "--yes")[0] == 0
    code, out, _ = site.run("log", "verify")
    assert code == 0, out
    # an edit is not a new row
    assert site.run("people", "deactivate", "--badge", "B1")[0] == 0
    assert site.run("log", "verify")[0] == 0


def test_the_door_secret_is_for_admins_and_recorded(site: Site) -> None:
    code, out, _ = site.run("admin", "door-secret")
    assert code == 0 and len(out.strip()) == 64 and int(out.strip(), 16) >= 0
    code, out, _ = site.run("log", "admin-actions", "--action", "door-secret")
    assert "root" in out


# -- exports -----------------------------------------------------------------------------


def test_an_export_never_writes_through_a_planted_link(site: Site, tmp_path: Path) -> None:
    site.events(3)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    out = tmp_path / "out"
    out.mkdir()
    target = out / "log.csv"
    (out / "log.csv.partial").symlink_to(victim)  # where the old export wrote first
    code, _, err = site.run("log", "export", "--csv", str(target))
    assert code == 0, err
    assert victim.read_text() == "precious\n"
    assert target.read_text().startswith("id,time_utc") and not target.is_symlink()
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    # a link planted at the target itself is replaced (only with --force), not followed
    target.unlink()
    target.symlink_to(victim)
    code, _, err = site.run("log", "export", "--csv", str(target))
    assert code == 2 and "already exists" in err
    assert site.run("log", "export", "--csv", str(target), "--force")[0] == 0
    assert victim.read_text() == "precious\n" and not target.is_symlink()


def test_an_existing_export_is_refused_unless_forced(site: Site, tmp_path: Path) -> None:
    site.events(2)
    target = tmp_path / "log.csv"
    target.write_text("last month's export\n")
    code, _, err = site.run("log", "export", "--csv", str(target))
    assert code == 2 and "already exists" in err and "--force" in err
    assert target.read_text() == "last month's export\n"
    assert site.run("log", "export", "--csv", str(target), "--force")[0] == 0
    assert target.read_text().startswith("id,time_utc")
    assert [p.name for p in tmp_path.iterdir() if "partial" in p.name] == []


# -- one badge, one person ---------------------------------------------------------------


def test_a_badge_in_another_case_or_width_is_the_same_badge(site: Site) -> None:
    site.person("Angelina", "A1")
    with site.store() as store:
        for other in ("a1", "\uff21\uff11", "A1\u200b"):  # lower case, full width, invisible
            # (full width is stored as "A1": the database's unique badge refuses it)
            with store.unit_of_work(write=True) as uow, pytest.raises((InputError, IntegrityError)):
                uow.people.add(name="Mallory", badge=other)
        access = AccessService(store, site.settings)
        found = access.person_by_badge("a1")
        assert found is not None and found.name == "Angelina"
        found = access.person_by_badge("\uff21\uff11")
        assert found is not None and found.name == "Angelina"
    assert site.sql("SELECT count(*) FROM people")[0][0] == 1


def test_a_stored_value_with_any_character_is_only_different() -> None:
    """A hash or seal altered outside the kiosk may hold any character: it is a mismatch
    to report, never a crash of the start or of verify."""
    from kiosk.storage.chain import same

    assert same("abc", "abc") and not same("abc", "abd")
    assert not same("é" * 64, "a" * 64) and not same("a\udcff", "a")
    assert not same(None, "a") and not same("a", None)
