"""Opening the database (schema at head, encryption key checked) and the unit of work.

    store = open_store(settings)
    with store.unit_of_work(write=True) as uow:
        person = uow.people.add(name="Ada", badge="42")
        uow.commit()            # nothing is written unless committed

A unit of work is one transaction and one session; create one per use case (and per
call from a worker thread). On SQLite a writing unit of work takes the write lock at its
start (BEGIN IMMEDIATE) and waits up to the busy timeout for another writer.
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from kiosk.config import Settings
from kiosk.storage import crypto
from kiosk.storage.chain import chain_key
from kiosk.storage.database import (
    create_database_engine,
    describe_error,
    is_environmental,
    translate_errors,
    upgrade_to_head,
)
from kiosk.storage.errors import EncryptionKeyError, StorageError
from kiosk.storage.repositories import (
    AdminRepository,
    AuditRepository,
    EventRepository,
    MetaRepository,
    PeopleRepository,
    ScheduleRepository,
    TemplateRepository,
)

KEY_ID = "encryption_key_id"


class UnitOfWork:
    """One transaction with every repository; rolls back unless :meth:`commit` was called."""

    people: PeopleRepository
    templates: TemplateRepository
    events: EventRepository
    admins: AdminRepository
    audit: AuditRepository
    schedules: ScheduleRepository
    meta: MetaRepository

    def __init__(self, store: Store, *, write: bool) -> None:
        self._store = store
        self._factory = store._writer if write else store._reader
        self._session: Session | None = None

    @property
    def session(self) -> Session:
        assert self._session is not None, "use the unit of work in a with statement"
        return self._session

    def __enter__(self) -> UnitOfWork:
        store = self._store
        session = self._factory()
        try:
            # Start the transaction now, so that lock waits and connection failures
            # surface here, translated.
            with translate_errors(store.url):
                session.connection()
        except BaseException:
            session.close()
            raise
        self._session = session
        self.people = PeopleRepository(session)
        self.templates = TemplateRepository(session, store.cipher)
        self.events = EventRepository(session, store.cipher, store.chain_key)
        self.admins = AdminRepository(session)
        self.audit = AuditRepository(session)
        self.schedules = ScheduleRepository(session)
        self.meta = MetaRepository(session)
        return self

    def commit(self) -> None:
        with translate_errors(self._store.url):
            self.session.commit()

    def rollback(self) -> None:
        self.session.rollback()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        session = self.session
        self._session = None
        try:
            session.rollback()
        finally:
            session.close()
        if exc is not None and is_environmental(exc):
            raise StorageError(describe_error(exc, self._store.url)) from exc


class Store:
    """An open database: engine, encryption and unit-of-work factory. Thread-safe: each
    unit of work has its own session and connection."""

    def __init__(self, engine: Engine, cipher: crypto.Cipher, key: bytes) -> None:
        self.engine = engine
        self.url = engine.url.render_as_string(hide_password=False)
        self.cipher = cipher
        self.chain_key = chain_key(key)
        self._reader = sessionmaker(engine, expire_on_commit=False)
        self._writer = sessionmaker(
            engine.execution_options(kiosk_write=True), expire_on_commit=False
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def unit_of_work(self, *, write: bool = False) -> UnitOfWork:
        return UnitOfWork(self, write=write)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _load_key(settings: Settings, stored_key_id: str | None) -> bytes:
    if settings.encryption_key:
        return crypto.decode_key(settings.encryption_key, "KIOSK_ENCRYPTION_KEY")
    path: Path = settings.effective_key_file
    if path.exists():
        return crypto.read_key_file(path)
    if stored_key_id is not None:
        raise EncryptionKeyError(
            f"the encryption key file {path} is missing, and this database holds encrypted "
            "face data: restore the key file (or set KIOSK_ENCRYPTION_KEY); without it the "
            "enrolled faces cannot be read"
        )
    return crypto.create_key_file(path)


def open_store(settings: Settings, *, migrate: bool = True) -> Store:
    """Open (and on first run create) the database of ``settings``: schema brought to the
    newest revision, encryption key loaded (created on first run) and checked."""
    engine = create_database_engine(settings.effective_database_url)
    try:
        if migrate:
            upgrade_to_head(engine)
        probe = Store(engine, crypto.Cipher(bytes(crypto.KEY_BYTES)), bytes(crypto.KEY_BYTES))
        with probe.unit_of_work() as uow:
            stored = uow.meta.get(KEY_ID)
        key = _load_key(settings, stored)
        store = Store(engine, crypto.Cipher(key), key)
        if stored is None:
            with store.unit_of_work(write=True) as uow:
                stored = uow.meta.get(KEY_ID)  # another program may have been first
                if stored is None:
                    uow.meta.set(KEY_ID, store.cipher.key_id)
                    uow.commit()
                    stored = store.cipher.key_id
        if stored != store.cipher.key_id:
            where = (
                "KIOSK_ENCRYPTION_KEY"
                if settings.encryption_key
                else str(settings.effective_key_file)
            )
            raise EncryptionKeyError(
                f"the encryption key in {where} is not the one this database was written "
                "with; restore the original key (the enrolled faces cannot be read with "
                "another)"
            )
        return store
    except BaseException:
        engine.dispose()
        raise
