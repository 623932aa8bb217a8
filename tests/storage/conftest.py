"""Storage tests run against a real SQLite file and a real PostgreSQL server.

The PostgreSQL server is a throwaway cluster this test session starts on loopback
(``initdb`` + ``pg_ctl`` from Debian's ``postgresql`` package), as the ``postgres`` OS
user when the tests run as root; each test gets its own database. Without the server
binaries the PostgreSQL cases are skipped, saying why.
"""

from __future__ import annotations

import glob
import io
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from kiosk import cli
from kiosk.config import Settings
from kiosk.storage.crypto import encode_key, generate_key
from kiosk.storage.database import normalise_url
from kiosk.storage.store import Store, open_store

from .site import SITE_PASSWORD, Site


def _pg_bin() -> Path | None:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if candidates:
        return Path(candidates[-1]).parent
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresCluster:
    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="kiosk-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.as_postgres = os.geteuid() == 0
        self._names = itertools.count(1)

    def _run(self, *args: str) -> None:
        cmd = list(args)
        if self.as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        if self.as_postgres:
            shutil.chown(self.root, "postgres", "postgres")
        self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "--no-sync",
            "-E",
            "UTF8",
        )
        options = f"-h 127.0.0.1 -p {self.port} -k {self.root} -F -c max_connections=100"
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.root / "server.log"),
            "-w",
            "start",
        )

    def stop(self) -> None:
        try:
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        import psycopg

        name = f"kiosk_test_{next(self._names)}"
        with psycopg.connect(
            f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True
        ) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    bindir = _pg_bin()
    if bindir is None:
        pytest.skip(
            "PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin/initdb); "
            "install Debian's postgresql package to run the PostgreSQL storage tests"
        )
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        pytest.skip("running as root without runuser: cannot start PostgreSQL as postgres")
    cluster = PostgresCluster(bindir)
    try:
        cluster.start()
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, KeyError) as exc:
        log = cluster.root / "server.log"
        detail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        shutil.rmtree(cluster.root, ignore_errors=True)
        pytest.fail(f"could not start the test PostgreSQL server: {exc}\n{detail}")
    yield cluster
    cluster.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database: a SQLite file, then a PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'kiosk.db'}"
    cluster: PostgresCluster = request.getfixturevalue("postgres_cluster")
    return cluster.new_database()


@pytest.fixture()
def settings(tmp_path: Path, database_url: str) -> Settings:
    home = tmp_path / "home"
    home.mkdir()
    return Settings(home=home, database_url=database_url)


@pytest.fixture()
def store(settings: Settings) -> Iterator[Store]:
    s = open_store(settings)
    yield s
    s.close()


@pytest.fixture()
def env_key() -> str:
    return encode_key(generate_key())


@pytest.fixture()
def site(
    tmp_path: Path,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Iterator[Site]:
    home = tmp_path / "home"
    monkeypatch.setenv("KIOSK_HOME", str(home))
    monkeypatch.setenv("KIOSK_DATABASE_URL", database_url)
    monkeypatch.setenv("KIOSK_ADMIN", "root")
    monkeypatch.setenv("KIOSK_ADMIN_PASSWORD", SITE_PASSWORD)

    def run(*args: str, stdin: str | None = None, user: str | None = None) -> tuple[int, str, str]:
        if stdin is not None:
            monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        if user is not None:
            monkeypatch.setenv("KIOSK_ADMIN", user)
        try:
            code = cli.main(list(args))
        except SystemExit as exc:  # argparse refused an argument (one line, exit 2)
            code = int(exc.code or 0)
        finally:
            monkeypatch.setenv("KIOSK_ADMIN", "root")
        out, err = capsys.readouterr()
        assert "Traceback" not in err
        return code, out, err

    assert run("admin", "add", "root", "--role", "admin")[0] == 0
    engine = create_engine(normalise_url(database_url))
    yield Site(Settings.load(), engine, run)
    engine.dispose()
