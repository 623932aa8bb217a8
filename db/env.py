"""Alembic environment. The program runs the migrations itself at start-up
(``kiosk.storage.database.upgrade_to_head``) and hands in its connection; run by hand
(``alembic -c db/alembic.ini upgrade head``) it opens the database of the current
settings (``KIOSK_HOME`` / ``KIOSK_DATABASE_URL``)."""

from __future__ import annotations

from alembic import context

from kiosk.storage.models import Base

target_metadata = Base.metadata


def _run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite cannot ALTER most things; batch mode copies tables
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    from kiosk.config import Settings
    from kiosk.storage.database import create_database_engine

    engine = create_database_engine(Settings.load().effective_database_url)
    with engine.execution_options(kiosk_write=True).begin() as conn:
        _run(conn)


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported; run them online")
run_migrations_online()
