"""Engines and schema: SQLite (WAL, foreign keys, busy timeout) or PostgreSQL, brought to
the newest Alembic revision when opened."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError as SAArgumentError
from sqlalchemy.exc import DatabaseError, DataError, IntegrityError, ProgrammingError
from sqlalchemy.pool import ConnectionPoolEntry

from kiosk.storage import files
from kiosk.storage.errors import StorageError

#: how long a writer waits for another writer's lock before giving up (SQLite)
BUSY_TIMEOUT_S = 30.0
MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "db"


def normalise_url(url: str) -> str:
    """``postgresql://`` means the psycopg 3 driver (the one installed)."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL (also ``sqlite:///file:PATH?mode=ro&uri=true``); ``None``
    for another database or an in-memory one."""
    try:
        parsed = make_url(normalise_url(url))
    except SAArgumentError:
        return None
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    if database.startswith("file:"):
        path, _, query = database[len("file:") :].partition("?")
        if "mode=memory" in query or not path:
            return None
        return Path(path)
    return Path(database)


def _read_only(url: str) -> bool:
    return "mode=ro" in url


def create_database_engine(url: str, *, pool_size: int = 5) -> Engine:
    """An engine for ``url``; a SQLite file (and its folder) is created on first use."""
    url = normalise_url(url)
    try:
        parsed = make_url(url)
    except SAArgumentError as exc:
        raise StorageError(f"the database URL {url!r} is not valid: {exc}") from None
    if parsed.get_backend_name() == "sqlite":
        database = sqlite_file(url)
        if database is not None and not _read_only(url):
            try:
                if not database.parent.exists():
                    files.make_private_folder(database.parent)
                # 0600 before SQLite creates it (its WAL and SHM files take its mode)
                files.create_private_file(database)
            except OSError as exc:
                raise StorageError(f"cannot create {database}: {exc.strerror or exc}") from exc
        engine = create_engine(
            parsed,
            connect_args={"timeout": BUSY_TIMEOUT_S, "check_same_thread": False},
        )
        _configure_sqlite(engine)
        return engine
    if parsed.get_backend_name() == "postgresql":
        return create_engine(parsed, pool_size=pool_size, pool_pre_ping=True)
    raise StorageError(
        f"unsupported database {parsed.get_backend_name()!r}: use a sqlite:/// or postgresql:// URL"
    )


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, record: ConnectionPoolEntry) -> None:
        # Take transaction control from the driver so that BEGIN IMMEDIATE is possible.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
            cursor.execute("PRAGMA journal_mode=WAL")
            # WAL + NORMAL is durable against an application crash (kill -9); only an OS
            # crash or power loss may lose the last commits, never corrupt the file.
            cursor.execute("PRAGMA synchronous=NORMAL")
            # Deleted rows (erased templates, purged snapshots) are overwritten with zeros,
            # whatever the SQLite build's default.
            cursor.execute("PRAGMA secure_delete=ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A writer takes the write lock up front: upgrading a read transaction to a write
        # one fails at once with "database is locked" instead of waiting its turn.
        if conn.get_execution_options().get("kiosk_write"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")


def describe_error(exc: BaseException, url: str) -> str:
    """Words for a database failure the user can act on."""
    text = str(getattr(exc, "orig", exc) or exc)
    lowered = text.lower()
    where = _where(url)
    if "readonly" in lowered or "read-only" in lowered:
        return f"the database {where} is read-only; check its permissions and the disk"
    if "disk is full" in lowered or "no space" in lowered:
        return f"the disk holding the database {where} is full; free some space"
    if "locked" in lowered or "busy" in lowered:
        return (
            f"the database {where} stayed locked by another program for more than "
            f"{BUSY_TIMEOUT_S:.0f} s; try again"
        )
    if "unable to open" in lowered:
        return f"cannot open the database {where}; check that the folder exists and is writable"
    if "not a database" in lowered or "malformed" in lowered:
        return f"the file {where} is not a kiosk database or is damaged; restore a backup"
    if "connection" in lowered or "could not connect" in lowered:
        return f"cannot connect to the database server {where}: {text.strip().splitlines()[0]}"
    return f"database error on {where}: {text.strip().splitlines()[0] if text else exc}"


def _where(url: str) -> str:
    try:
        parsed = make_url(normalise_url(url))
    except SAArgumentError:
        return url
    if parsed.get_backend_name() == "sqlite":
        return str(parsed.database)
    return parsed.render_as_string(hide_password=True)


def is_environmental(exc: BaseException) -> bool:
    """A failure of the database's surroundings (locked, read-only, full, unreachable,
    damaged), as opposed to a constraint violation or a bug, which callers handle."""
    if isinstance(exc, IntegrityError | ProgrammingError | DataError):
        return False
    if isinstance(exc, DatabaseError):
        return True
    return isinstance(exc, sqlite3.DatabaseError) and not isinstance(
        exc, sqlite3.IntegrityError | sqlite3.ProgrammingError
    )


@contextmanager
def translate_errors(url: str) -> Iterator[None]:
    """Turn environmental driver errors into a :class:`StorageError` the user can act on."""
    try:
        yield
    except Exception as exc:
        if is_environmental(exc):
            raise StorageError(describe_error(exc, url)) from exc
        raise


def _alembic_config(engine: Engine, connection: Any) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    config.attributes["connection"] = connection
    return config


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext
    from alembic.util.exc import CommandError

    with engine.connect() as conn:
        try:
            return MigrationContext.configure(conn).get_current_revision()
        except CommandError:
            raise StorageError(
                f"the schema version of the database {_where(str(engine.url))} is damaged "
                "(its alembic_version table holds several versions); restore a backup"
            ) from None


def head_revision() -> str:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


def upgrade_to_head(engine: Engine) -> None:
    """Bring the schema to the newest revision (creating it on first run).

    Refuses a database written by a newer program (a revision this one does not know)."""
    from alembic import command
    from alembic.script import ScriptDirectory
    from alembic.util.exc import CommandError

    url = engine.url.render_as_string(hide_password=False)
    with translate_errors(url):
        current = current_revision(engine)
        head = head_revision()
        if current == head:
            return
        if current is not None:
            config = _alembic_config(engine, None)
            try:
                ScriptDirectory.from_config(config).get_revision(current)
            except CommandError:
                raise StorageError(
                    f"the database {_where(url)} was written by a newer version of the kiosk "
                    f"(schema {current}); install that version or use another database"
                ) from None
        # The write lock up front: two programs starting at once migrate one after the other.
        with engine.execution_options(kiosk_write=True).begin() as conn:
            command.upgrade(_alembic_config(engine, conn), "head")


def table_names(engine: Engine) -> list[str]:
    return sorted(inspect(engine).get_table_names())
