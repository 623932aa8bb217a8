"""Repositories and unit of work against a real SQLite file and a real PostgreSQL server."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, time, timedelta

import numpy as np
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from kiosk.config import Settings
from kiosk.domain.access import AccessEvent, AccessSchedule, Decision, TimeWindow
from kiosk.domain.faces import ModelInfo
from kiosk.storage.errors import EncryptionKeyError
from kiosk.storage.records import DamagedTemplate, EventFilter, Role
from kiosk.storage.store import Store, open_store

MODEL = ModelInfo("dlib-resnet", "1", "a" * 64)
OTHER_MODEL = ModelInfo("other", "2", "b" * 64)
T0 = datetime(2026, 5, 4, 9, 30, tzinfo=UTC)


def vector(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal(128).astype(np.float32)
    return v / np.linalg.norm(v)


def event(
    i: int, decision: Decision = Decision.ALLOWED, person_id: int | None = None
) -> AccessEvent:
    return AccessEvent(
        time=T0 + timedelta(seconds=i),
        kiosk_id="kiosk-1" if i % 2 else "kiosk-2",
        decision=decision,
        person_id=person_id,
        score=0.3 + i / 1000,
        threshold=0.6,
        model_version="1",
        latency_ms=12.5,
        reason=f"attempt {i}",
    )


def test_person_round_trip_and_unique_badge(store: Store) -> None:
    with store.unit_of_work(write=True) as uow:
        ada = uow.people.add(name="Ada Lovelace", badge="E-1", group="staff", consent_by="root")
        uow.commit()
    with store.unit_of_work() as uow:
        assert uow.people.get(ada.id) == ada
        record = uow.people.by_badge("E-1")
        assert record is not None and record.person.group == "staff"
        assert uow.people.count() == 1
    with store.unit_of_work(write=True) as uow, pytest.raises(IntegrityError):
        uow.people.add(name="Someone else", badge="E-1")


def test_uncommitted_unit_of_work_rolls_back(store: Store) -> None:
    with store.unit_of_work(write=True) as uow:
        uow.people.add(name="Ghost", badge="G")
    with pytest.raises(RuntimeError), store.unit_of_work(write=True) as uow:
        uow.people.add(name="Ghost", badge="G")
        raise RuntimeError("crash in the middle of a use case")
    with store.unit_of_work() as uow:
        assert uow.people.count() == 0


def test_gallery_decrypts_templates_of_the_current_model(store: Store) -> None:
    with store.unit_of_work(write=True) as uow:
        a = uow.people.add(name="A", badge="1")
        b = uow.people.add(name="B", badge="2", active=False)
        uow.templates.add(a.id, vector(1), MODEL, quality=0.9, source="file:a1.jpg", crop_jpeg=b"c")
        uow.templates.add(a.id, vector(2), MODEL, quality=0.8, source="camera")
        uow.templates.add(b.id, vector(3), MODEL, quality=0.7, source="file:b.jpg")
        uow.templates.add(b.id, vector(4), OTHER_MODEL, quality=0.7, source="file:b.jpg")
        uow.commit()
    with store.unit_of_work() as uow:
        embeddings, labels = uow.templates.gallery(MODEL.checksum)
        assert embeddings.dtype == np.float32 and embeddings.shape == (3, 128)
        assert labels == [a.id, a.id, b.id]  # deactivated people stay recognisable
        np.testing.assert_array_equal(embeddings[2], vector(3))
        assert uow.templates.count_other_models(MODEL.checksum) == 1
        first = uow.templates.for_person(a.id)[0]
        assert first.has_crop and uow.templates.crop(first.id) == b"c"
        # at rest the embedding is not the plain float32 bytes
        raw = uow.session.execute(text("SELECT embedding FROM templates ORDER BY id")).scalar()
        assert raw is not None and vector(1).tobytes() not in bytes(raw)


def test_event_chain_verifies_and_pages_with_filters(store: Store) -> None:
    with store.unit_of_work(write=True) as uow:
        p = uow.people.add(name="P", badge="P1")
        uow.commit()
    for i in range(30):
        with store.unit_of_work(write=True) as uow:
            decision = Decision.ALLOWED if i % 3 else Decision.DENIED_UNKNOWN
            uow.events.append(event(i, decision, p.id if decision.allowed else None))
            uow.commit()
    with store.unit_of_work() as uow:
        report = uow.events.verify()
        assert report.ok and report.checked == 30
        first = uow.events.page(limit=10)
        assert [e.id for e in first] == list(range(30, 20, -1))
        second = uow.events.page(limit=10, before_id=first[-1].id)
        assert [e.id for e in second] == list(range(20, 10, -1))
        denied = uow.events.page(EventFilter(decision="denied-unknown"), limit=100)
        assert len(denied) == 10 and all(e.person_name is None for e in denied)
        mine = uow.events.page(EventFilter(person_id=p.id), limit=100)
        assert len(mine) == 20 and mine[0].person_badge == "P1"
        window = EventFilter(since=T0 + timedelta(seconds=5), until=T0 + timedelta(seconds=10))
        assert [e.id for e in uow.events.page(window)] == [10, 9, 8, 7, 6]
        assert uow.events.count(EventFilter(kiosk_id="kiosk-2")) == 15
        assert [e.id for e in uow.events.stream()] == list(range(1, 31))
        assert first[0].event.time == T0 + timedelta(seconds=29)


def _tamper(store: Store, sql: str) -> None:
    with store.engine.begin() as conn:
        conn.execute(text(sql))


@pytest.mark.parametrize(
    ("sql", "bad_id", "words"),
    [
        ("UPDATE events SET decision = 'allowed' WHERE id = 4", 4, "altered"),
        ("UPDATE events SET score = 0.1 WHERE id = 7", 7, "altered"),
        ("DELETE FROM events WHERE id = 5", 5, "deleted"),
        ("DELETE FROM events WHERE id >= 9", 9, "deleted from the end"),
        (
            "INSERT INTO events (id, time, kiosk_id, decision, reason, prev_hash, hash) "
            "SELECT 11, time, kiosk_id, decision, reason, hash, hash FROM events WHERE id = 10",
            11,
            "inserted",
        ),
        ("UPDATE events SET prev_hash = hash WHERE id = 3", 3, "altered"),
    ],
)
def test_verify_names_the_first_tampered_row(
    store: Store, sql: str, bad_id: int, words: str
) -> None:
    for i in range(10):
        with store.unit_of_work(write=True) as uow:
            uow.events.append(event(i, Decision.DENIED_UNKNOWN))
            uow.commit()
    _tamper(store, sql)
    with store.unit_of_work() as uow:
        report = uow.events.verify()
    assert not report.ok
    assert report.first_bad_id == bad_id
    assert words in report.problem


def test_snapshots_are_encrypted_kept_only_when_asked_and_purged(store: Store) -> None:
    with store.unit_of_work(write=True) as uow:
        old = uow.events.append(
            AccessEvent(
                time=datetime.now(UTC) - timedelta(days=40),
                kiosk_id="k",
                decision=Decision.DENIED_UNKNOWN,
                snapshot_jpeg=b"\xff\xd8old",
            )
        )
        new = uow.events.append(
            AccessEvent(
                time=datetime.now(UTC),
                kiosk_id="k",
                decision=Decision.DENIED_UNKNOWN,
                snapshot_jpeg=b"\xff\xd8new",
            )
        )
        dropped = uow.events.append(
            AccessEvent(
                time=datetime.now(UTC), kiosk_id="k", decision=Decision.ERROR, snapshot_jpeg=b"x"
            ),
            keep_snapshot=False,
        )
        uow.commit()
    with store.unit_of_work(write=True) as uow:
        assert uow.events.snapshot(new) == b"\xff\xd8new"
        assert uow.events.snapshot(dropped) is None
        assert uow.events.purge_snapshots(datetime.now(UTC) - timedelta(days=30)) == 1
        uow.commit()
    with store.unit_of_work() as uow:
        assert uow.events.snapshot(old) is None
        assert uow.events.count_snapshots() == 1
        assert uow.events.verify().ok  # snapshots are outside the chain


def test_schedule_round_trip(store: Store) -> None:
    schedule = AccessSchedule(
        windows=(TimeWindow(0, time(8), time(18)), TimeWindow(4, time(8), time(12, 30))),
        holidays=frozenset({date(2026, 12, 25)}),
    )
    with store.unit_of_work(write=True) as uow:
        uow.schedules.set("staff", schedule)
        uow.commit()
    with store.unit_of_work() as uow:
        assert uow.schedules.get("staff") == schedule
        assert uow.schedules.get("visitors") is None


def test_admin_accounts_and_actions(store: Store) -> None:
    with store.unit_of_work(write=True) as uow:
        uow.admins.add(
            "root", "scrypt$x", Role.ADMIN, generation=uow.audit.record(None, "admin-add", "root")
        )
        uow.admins.add(
            "eve", "scrypt$y", Role.AUDITOR, generation=uow.audit.record("root", "admin-add", "eve")
        )
        uow.audit.record("root", "enroll", "badge 1", photos=3)
        uow.commit()
    with store.unit_of_work() as uow:
        assert [a.username for a in uow.admins.list()] == ["eve", "root"]
        assert uow.admins.get("eve") is not None
        assert uow.admins.get("eve").role is Role.AUDITOR  # type: ignore[union-attr]
        action = uow.audit.list()[0]
        assert (action.admin, action.action, action.target) == ("root", "enroll", "badge 1")
        assert '"photos": 3' in action.details


def test_key_file_is_private_and_a_wrong_or_missing_key_is_refused(settings: Settings) -> None:
    store = open_store(settings)
    with store.unit_of_work(write=True) as uow:
        p = uow.people.add(name="A", badge="1")
        uow.templates.add(p.id, vector(1), MODEL, quality=1.0, source="camera")
        uow.commit()
    store.close()
    key_file = settings.effective_key_file
    assert key_file.exists() and (key_file.stat().st_mode & 0o777) == 0o600
    original = key_file.read_text()

    key_file.unlink()
    with pytest.raises(EncryptionKeyError, match="missing"):
        open_store(settings)
    assert not key_file.exists()  # a new key is never made for a database that has data

    other = open_store(Settings(home=settings.home / "other"))  # writes a different key
    other.close()
    os.replace(settings.home / "other" / "kiosk.key", key_file)
    with pytest.raises(EncryptionKeyError, match="not the one"):
        open_store(settings)

    key_file.write_text(original)
    os.chmod(key_file, 0o644)
    with pytest.raises(EncryptionKeyError, match="chmod 600"):
        open_store(settings)
    os.chmod(key_file, 0o600)
    with open_store(settings) as reopened, reopened.unit_of_work() as uow:
        embeddings, _ = uow.templates.gallery()
        np.testing.assert_array_equal(embeddings[0], vector(1))


def test_key_from_environment_instead_of_a_file(settings: Settings, env_key: str) -> None:
    from dataclasses import replace

    with_key = replace(settings, encryption_key=env_key)
    open_store(with_key).close()
    assert not with_key.effective_key_file.exists()
    with pytest.raises(EncryptionKeyError, match="not a valid encryption key"):
        open_store(replace(settings, encryption_key="too-short"))
    with pytest.raises(EncryptionKeyError):
        open_store(settings)  # no key in the environment, no key file: data is protected


def test_an_altered_template_is_skipped_not_garbage(store: Store) -> None:
    with store.unit_of_work(write=True) as uow:
        p = uow.people.add(name="A", badge="1")
        uow.templates.add(p.id, vector(1), MODEL, quality=1.0, source="camera")
        other = uow.people.add(name="B", badge="2")
        uow.templates.add(other.id, vector(2), MODEL, quality=1.0, source="camera")
        uow.commit()
    with store.unit_of_work(write=True) as uow:
        row = uow.session.execute(
            text("SELECT id, embedding FROM templates ORDER BY id LIMIT 1")
        ).one()
        blob = bytearray(row.embedding)
        blob[20] ^= 0xFF
        uow.session.execute(
            text("UPDATE templates SET embedding = :b WHERE id = :i"),
            {"b": bytes(blob), "i": row.id},
        )
        uow.commit()
    damaged: list[DamagedTemplate] = []
    with store.unit_of_work() as uow:
        embeddings, labels = uow.templates.gallery(damaged=damaged)
    assert labels == [other.id]  # the damaged one is skipped, the other kept
    np.testing.assert_array_equal(embeddings[0], vector(2))
    assert [(d.id, d.badge) for d in damaged] == [(row.id, "1")]
    assert "re-enroll" in damaged[0].describe()
