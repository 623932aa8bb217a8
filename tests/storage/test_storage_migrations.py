"""The Alembic migrations and the SQLAlchemy models describe the same schema."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from kiosk.config import Settings
from kiosk.storage.database import (
    create_database_engine,
    current_revision,
    head_revision,
    upgrade_to_head,
)
from kiosk.storage.errors import StorageError
from kiosk.storage.models import Base
from kiosk.storage.store import open_store


def test_models_and_migrations_agree(database_url: str) -> None:
    engine = create_database_engine(database_url)
    try:
        upgrade_to_head(engine)
        assert current_revision(engine) == head_revision()
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            differences = compare_metadata(context, Base.metadata)
        assert differences == [], f"models differ from db/versions: {differences}"
        upgrade_to_head(engine)  # idempotent
    finally:
        engine.dispose()


def test_sqlite_is_configured_for_one_writer_many_readers(tmp_path: Path) -> None:
    engine = create_database_engine(f"sqlite:///{tmp_path / 'new' / 'kiosk.db'}")
    try:
        upgrade_to_head(engine)
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
            assert conn.execute(text("PRAGMA busy_timeout")).scalar() >= 5000
    finally:
        engine.dispose()


def test_a_database_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    open_store(settings).close()
    with sqlite3.connect(settings.sqlite_path) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999_future'")
    with pytest.raises(StorageError, match="newer version of the kiosk"):
        open_store(settings)


def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    settings.sqlite_path.write_bytes(b"this is not SQLite" * 100)
    with pytest.raises(StorageError, match="not a kiosk database"):
        open_store(settings)


def test_a_read_only_database_says_so(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    open_store(settings).close()
    read_only = Settings(
        home=tmp_path, database_url=f"sqlite:///file:{settings.sqlite_path}?mode=ro&uri=true"
    )
    store = open_store(read_only)
    try:
        with pytest.raises(StorageError, match="read-only"), store.unit_of_work(write=True) as uow:
            uow.people.add(name="A", badge="1")
            uow.commit()
    finally:
        store.close()


def test_a_full_disk_says_so(tmp_path: Path) -> None:
    import numpy as np
    from sqlalchemy import event

    from kiosk.domain.faces import ModelInfo

    settings = Settings(home=tmp_path)
    store = open_store(settings)
    store.engine.dispose()

    @event.listens_for(store.engine, "connect")
    def _tiny(dbapi_connection: sqlite3.Connection, record: object) -> None:
        pages = dbapi_connection.execute("PRAGMA page_count").fetchone()[0]
        dbapi_connection.execute(f"PRAGMA max_page_count={pages + 2}")

    try:
        with pytest.raises(StorageError, match="full"), store.unit_of_work(write=True) as uow:
            person = uow.people.add(name="A", badge="1")
            for _ in range(200):
                uow.templates.add(
                    person.id,
                    np.ones(128, np.float32),
                    ModelInfo("m", "1", "x" * 64),
                    quality=1.0,
                    source="camera",
                    crop_jpeg=bytes(4000),
                )
            uow.commit()
    finally:
        store.close()
    with open_store(settings) as reopened, reopened.unit_of_work() as uow:
        assert uow.people.count() == 0  # the failed enrollment left nothing behind
