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

import hashlib
import logging
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from kiosk.config import Settings
from kiosk.storage import crypto, files
from kiosk.storage.anchor import Anchor, anchor_path
from kiosk.storage.chain import CHAIN_NAMES, chain_key
from kiosk.storage.database import (
    create_database_engine,
    describe_error,
    is_environmental,
    sqlite_file,
    translate_errors,
    upgrade_to_head,
)
from kiosk.storage.errors import EncryptionKeyError, StorageError
from kiosk.storage.repositories import (
    AdminRepository,
    AuditRepository,
    EventRepository,
    GroupRepository,
    MetaRepository,
    PeopleRepository,
    ScheduleRepository,
    TemplateRepository,
)
from kiosk.storage.repositories.kiosks import KioskStatusRepository
from kiosk.storage.repositories.roster import TABLES, RosterRepository

log = logging.getLogger(__name__)

KEY_ID = "encryption_key_id"


class UnitOfWork:
    """One transaction with every repository; rolls back unless :meth:`commit` was called."""

    people: PeopleRepository
    templates: TemplateRepository
    events: EventRepository
    admins: AdminRepository
    audit: AuditRepository
    schedules: ScheduleRepository
    groups: GroupRepository
    meta: MetaRepository
    roster: RosterRepository
    kiosks: KioskStatusRepository

    def __init__(self, store: Store, *, write: bool) -> None:
        self._store = store
        self._factory = store._writer if write else store._reader
        self._session: Session | None = None
        #: chain -> (count, last hash) extended in this transaction, for the checkpoint
        self._heads: dict[int, tuple[int, str]] = {}
        #: table -> (generation, seal) of the rosters changed in this transaction
        self._rosters: dict[str, tuple[int, str]] = {}

    def note_head(self, chain: int, count: int, last_hash: str) -> None:
        self._heads[chain] = (count, last_hash)

    def note_roster(self, table: str, generation: int, seal: str) -> None:
        self._rosters[table] = (generation, seal)

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
        key = store.chain_key
        self.roster = RosterRepository(session, key, self.note_roster)
        self.people = PeopleRepository(session, key, self.roster)
        self.templates = TemplateRepository(session, store.cipher, key, self.roster)
        self.events = EventRepository(session, store.cipher, key, self.note_head)
        self.admins = AdminRepository(session, key, self.roster)
        self.audit = AuditRepository(session, key, self.note_head)
        self.schedules = ScheduleRepository(session, key)
        self.groups = GroupRepository(session, key)
        self.meta = MetaRepository(session)
        self.kiosks = KioskStatusRepository(session)
        return self

    def commit(self) -> None:
        with translate_errors(self._store.url):
            self.session.commit()
        heads, self._heads = self._heads, {}
        rosters, self._rosters = self._rosters, {}
        anchor = self._store.anchor
        if anchor is not None:
            for chain, (count, last_hash) in sorted(heads.items()):
                anchor.record(CHAIN_NAMES[chain], count, last_hash)
            for table, (generation, seal) in sorted(rosters.items()):
                anchor.record_roster(table, generation, seal)
            if rosters.get("admins", (0, ""))[0] > 1:  # an account added (or deleted)
                anchor.note_fact("admins")

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

    def __init__(
        self,
        engine: Engine,
        cipher: crypto.Cipher,
        key: bytes,
        anchor_file: Path | None = None,
    ) -> None:
        self.engine = engine
        self.url = engine.url.render_as_string(hide_password=False)
        self.cipher = cipher
        self.chain_key = chain_key(key)
        #: the checkpoints of the chain heads outside the database (None: not kept)
        self.anchor = (
            None if anchor_file is None else Anchor(anchor_file, self.chain_key, self.stored_hashes)
        )
        self._reader = sessionmaker(engine, expire_on_commit=False)
        self._writer = sessionmaker(
            engine.execution_options(kiosk_write=True), expire_on_commit=False
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def unit_of_work(self, *, write: bool = False) -> UnitOfWork:
        return UnitOfWork(self, write=write)

    def stored_hashes(self, chain: str, ids: Sequence[int]) -> dict[int, str]:
        """The stored MACs of rows ``ids`` of a chain (``events`` or ``actions``)."""
        with self.unit_of_work() as uow:
            repo = uow.events if chain == CHAIN_NAMES[1] else uow.audit
            return repo.stored_hashes(ids)

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


def door_secret(settings: Settings) -> bytes:
    """The webhook door's signing secret: derived from the encryption key (which stays
    outside the database), so nobody who can only write the database can forge a request
    the controller accepts. The key must exist: it is not created here."""
    if settings.encryption_key:
        key = crypto.decode_key(settings.encryption_key, "KIOSK_ENCRYPTION_KEY")
    else:
        path = settings.effective_key_file
        if not path.exists():
            raise EncryptionKeyError(
                f"door: sign = true needs the encryption key file {path}: start the kiosk "
                "once without signing (it creates the key), or set KIOSK_ENCRYPTION_KEY"
            )
        key = crypto.read_key_file(path)
    return hashlib.sha256(b"kiosk door signature\0" + key).digest()


def _private_files(settings: Settings) -> list[Path]:
    """The files of ``settings`` made 0600 when looser (the key file is not among them: a
    key other users could read is refused, see ``crypto.read_key_file``, as it may have
    been copied already)."""
    paths = [_anchor_file(settings)]
    db = sqlite_file(settings.effective_database_url)
    if db is not None:
        paths += [db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")]
    return paths


def _anchor_file(settings: Settings) -> Path:
    return anchor_path(settings.effective_database_url, settings.home)


def open_store(settings: Settings, *, migrate: bool = True) -> Store:
    """Open (and on first run create) the database of ``settings``: home folder and files
    private, schema brought to the newest revision, encryption key loaded (created on first
    run) and checked, an older database sealed once (:mod:`kiosk.storage.upgrade`), and the
    chain heads' checkpoint file started."""
    try:
        files.secure_home(settings.home, _private_files(settings))
    except OSError as exc:
        raise StorageError(f"cannot create the folder {settings.home}: {exc.strerror}") from exc
    engine = create_database_engine(settings.effective_database_url)
    try:
        if migrate:
            upgrade_to_head(engine)
        probe = Store(engine, crypto.Cipher(bytes(crypto.KEY_BYTES)), bytes(crypto.KEY_BYTES))
        with probe.unit_of_work() as uow:
            stored = uow.meta.get(KEY_ID)
        key = _load_key(settings, stored)
        store = Store(engine, crypto.Cipher(key), key, _anchor_file(settings))
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
        _seal_older_database(store)
        files.secure_home(settings.home, _private_files(settings))
        return store
    except BaseException:
        engine.dispose()
        raise


def _seal_older_database(store: Store) -> None:
    """Seal a database written before the seals (once), and start the checkpoint file
    with the current heads when this machine has none (trust on first use: a database
    opened here for the first time is taken as it is)."""
    from kiosk.storage import upgrade

    with store.unit_of_work() as uow:
        done = not upgrade.needs_upgrade(uow.meta.get(upgrade.INTEGRITY_KEY))
        heads = {chain: uow.events.head() if chain == 1 else uow.audit.head() for chain in (1, 2)}
    anchor = store.anchor
    if not done:
        with store.unit_of_work(write=True) as uow:
            upgrade.upgrade(uow, store.chain_key, uow.note_head)
            uow.commit()
    elif anchor is not None and not anchor.exists():
        for chain, head in heads.items():
            if head is not None and head.authentic:
                anchor.record(CHAIN_NAMES[chain], head.last_id, head.last_hash)
    _start_rosters(store)  # after the heads: its lines would make the file exist


def _start_rosters(store: Store) -> None:
    """Seal the rosters of a database from before them, as it is (trust on first use,
    like the checkpoint file), and note in the checkpoint file that it has admins."""
    with store.unit_of_work() as uow:
        missing = [table for table in TABLES if uow.roster.get(table) is None]
        admins = uow.admins.count() > 0
    if missing:
        with store.unit_of_work(write=True) as uow:
            for table in missing:
                uow.roster.start(table)
            uow.commit()
    anchor = store.anchor
    if admins and anchor is not None and "admins" not in anchor.facts():
        anchor.note_fact("admins")
