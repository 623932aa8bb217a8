"""A database written by the kiosk before the seals (schema 0001, the old chain format)
upgrades at the first start with the key and then verifies; an old log that was already
tampered stays reported."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from alembic import command
from sqlalchemy import text

from kiosk.config import Settings
from kiosk.services.accounts import AccountService, hash_password
from kiosk.services.audit_log import AuditLogService
from kiosk.storage import crypto
from kiosk.storage.chain import GENESIS, ChainFields, link_hash_v1
from kiosk.storage.database import _alembic_config, create_database_engine
from kiosk.storage.store import KEY_ID, open_store

PASSWORD = "Corr3ct-horse-battery"


def old_database(settings: Settings, *, tamper: bool = False) -> None:
    """What the kiosk of today's main writes: schema 0001, events chained in the first
    format (no names), unchained admin actions, unsealed accounts, people and templates."""
    engine = create_database_engine(settings.effective_database_url)
    try:
        with engine.execution_options(kiosk_write=True).begin() as conn:
            command.upgrade(_alembic_config(engine, conn), "0001")
        settings.home.mkdir(parents=True, exist_ok=True)
        key = crypto.create_key_file(settings.effective_key_file)
        cipher = crypto.Cipher(key)
        chain = crypto.hashlib.sha256(b"kiosk access-log chain\0" + key).digest()
        now = datetime(2026, 2, 1, 9, tzinfo=UTC)
        naive = now.replace(tzinfo=None)
        with engine.begin() as conn:
            conn.execute(
                text("INSERT INTO meta (key, value) VALUES (:k, :v)"),
                {"k": KEY_ID, "v": cipher.key_id},
            )
            conn.execute(
                text(
                    "INSERT INTO people (id, name, badge, group_name, active, notes, created_at, "
                    "updated_at) VALUES (1, 'Angelina', 'A1', 'staff', :t, '', :n, :n)"
                ),
                {"t": True, "n": naive},
            )
            blob = cipher.encrypt_embedding(np.ones(128, np.float32) / np.sqrt(128))
            conn.execute(
                text(
                    "INSERT INTO templates (person_id, embedding, model_name, model_version, "
                    "model_checksum, quality, source, created_at) "
                    "VALUES (1, :b, 'm', '1', :c, 1.0, 'camera', :n)"
                ),
                {"b": blob, "c": "c" * 64, "n": naive},
            )
            conn.execute(
                text(
                    "INSERT INTO admins (username, password_hash, role, failed_logins, "
                    "created_at) VALUES ('root', :h, 'admin', 0, :n)"
                ),
                {"h": hash_password(PASSWORD), "n": naive},
            )
            conn.execute(
                text(
                    "INSERT INTO admin_actions (time, admin, action, target, details) "
                    "VALUES (:n, NULL, 'admin-add', 'root', '')"
                ),
                {"n": naive},
            )
            prev = GENESIS
            for i in range(1, 6):
                when = now + timedelta(minutes=i)
                fields = ChainFields(
                    i, when, "front", "allowed", 1, 0.3, 0.61, "m 1", 50.0, "Welcome", prev
                )
                digest = link_hash_v1(chain, fields)
                conn.execute(
                    text(
                        "INSERT INTO events (id, time, kiosk_id, decision, person_id, score, "
                        "threshold, model_version, latency_ms, reason, prev_hash, hash) VALUES "
                        "(:i, :t, 'front', 'allowed', 1, 0.3, 0.61, 'm 1', 50.0, :r, :p, :h)"
                    ),
                    {
                        "i": i,
                        "t": when.replace(tzinfo=None),
                        "r": "Welcome",
                        "p": prev,
                        "h": digest,
                    },
                )
                prev = digest
            conn.execute(
                text("UPDATE chain_head SET last_id = 5, last_hash = :h WHERE id = 1"), {"h": prev}
            )
            if tamper:
                conn.execute(text("UPDATE events SET reason = 'edited' WHERE id = 3"))
    finally:
        engine.dispose()


@pytest.fixture()
def old_settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(home=tmp_path / "home", database_url=database_url)


def test_an_existing_database_upgrades_and_then_verifies(old_settings: Settings) -> None:
    old_database(old_settings)
    with open_store(old_settings) as store:
        accounts = AccountService(store)
        root = accounts.authenticate("root", PASSWORD)  # the old account was re-sealed
        audit = AuditLogService(store, old_settings)
        report = audit.verify(root)
        assert report is not None and report.ok, report.describe()
        assert report.checked == 5
        page = audit.page(root)
        assert {(e.person_name, e.person_badge) for e in page} == {("Angelina", "A1")}
        actions = [a.action for a in audit.admin_actions(root, limit=10)]
        assert actions[:3] == ["login", "integrity-upgrade", "admin-seal"]
        with store.unit_of_work() as uow:
            assert uow.groups.names() == ["staff"]
            assert uow.people.get_verified(1) is not None
            _, labels = uow.templates.gallery()
            assert labels == [1]
    # a second start does not upgrade again
    with open_store(old_settings) as store, store.unit_of_work() as uow:
        kinds = [a.action for a in uow.audit.list(limit=100)]
        assert kinds.count("integrity-upgrade") == 1
    assert old_settings.home.joinpath(".").exists()


def test_a_log_tampered_before_the_upgrade_stays_reported(old_settings: Settings) -> None:
    old_database(old_settings, tamper=True)
    with open_store(old_settings) as store:
        root = AccountService(store).authenticate("root", PASSWORD)
        report = AuditLogService(store, old_settings).verify(root)
    assert report is not None and not report.ok
    assert "before the upgrade" in report.problem and "event 3 was altered" in report.problem
