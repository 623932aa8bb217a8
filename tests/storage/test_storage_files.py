"""Private files by default: the home folder 0700; the database, its WAL and SHM files, the
key, the checkpoint file and exports 0600, whatever the shell's umask; a looser existing
file is made private with one warning."""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.config import Settings
from kiosk.domain.access import AccessEvent, Decision
from kiosk.storage.store import open_store

REPO = Path(__file__).resolve().parents[2]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture()
def open_umask() -> Iterator[None]:
    """The umask of a careless shell (files readable by everyone)."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_a_new_home_is_private_whatever_the_umask(tmp_path: Path, open_umask: None) -> None:
    from datetime import UTC, datetime

    settings = Settings(home=tmp_path / "home")
    with open_store(settings) as store:
        with store.unit_of_work(write=True) as uow:
            uow.events.append(
                AccessEvent(time=datetime.now(UTC), kiosk_id="k", decision=Decision.ERROR)
            )
            uow.commit()
        home = settings.home
        assert mode(home) == 0o700
        for name in ("kiosk.db", "kiosk.db-wal", "kiosk.db-shm", "kiosk.key", "kiosk.db-anchor"):
            assert (home / name).exists(), name
            assert mode(home / name) == 0o600, name


def test_the_command_line_sets_a_private_umask(tmp_path: Path) -> None:
    """A real run from a shell with umask 022: everything it creates is private, the
    exported log (names) too."""
    home = tmp_path / "home"
    env = {
        **os.environ,
        "KIOSK_HOME": str(home),
        "KIOSK_ADMIN": "root",
        "KIOSK_ADMIN_PASSWORD": "Corr3ct-horse-battery",
        "PYTHONPATH": str(REPO),
    }
    env.pop("KIOSK_DATABASE_URL", None)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(REPO / "main.py"), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            preexec_fn=lambda: os.umask(0o022),
        )

    done = run("admin", "add", "root", "--role", "admin")
    assert done.returncode == 0, done.stderr
    export = tmp_path / "log.csv"
    done = run("log", "export", "--csv", str(export))
    assert done.returncode == 0, done.stderr
    assert mode(home) == 0o700
    assert mode(home / "kiosk.db") == 0o600
    assert mode(home / "kiosk.key") == 0o600
    assert mode(home / "kiosk.db-anchor") == 0o600
    assert mode(export) == 0o600


def test_a_looser_existing_home_is_made_private_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(home=tmp_path / "home")
    open_store(settings).close()
    os.chmod(settings.home, 0o755)
    os.chmod(settings.sqlite_path, 0o644)
    with caplog.at_level(logging.WARNING, logger="kiosk.storage.files"):
        open_store(settings).close()
        open_store(settings).close()
    assert mode(settings.home) == 0o700 and mode(settings.sqlite_path) == 0o600
    warnings = [r.getMessage() for r in caplog.records]
    assert sum("kiosk.db was readable by other users" in w for w in warnings) == 1
    assert sum("home was readable by other users" in w for w in warnings) == 1


def test_the_database_file_alone_holds_no_face(tmp_path: Path) -> None:
    """Templates, crops and snapshots are encrypted with a key kept outside the database:
    none of their bytes are in the file."""
    from datetime import UTC, datetime

    import numpy as np

    from kiosk.domain.faces import ModelInfo

    settings = Settings(home=tmp_path / "home")
    vector = np.linspace(-0.5, 0.5, 128, dtype=np.float32)
    crop = b"\xff\xd8JPEG-crop-of-a-face" * 20
    snapshot = b"\xff\xd8JPEG-snapshot-at-the-door" * 20
    with open_store(settings) as store, store.unit_of_work(write=True) as uow:
        person = uow.people.add(name="Ada", badge="A1")
        uow.templates.add(
            person.id, vector, ModelInfo("m", "1", "c" * 64), quality=1.0, source="camera",
            crop_jpeg=crop,
        )  # fmt: skip
        uow.events.append(
            AccessEvent(
                time=datetime.now(UTC),
                kiosk_id="k",
                decision=Decision.ALLOWED,
                person_id=person.id,
                snapshot_jpeg=snapshot,
            )
        )
        uow.commit()
    data = b"".join(
        p.read_bytes() for p in settings.home.iterdir() if p.name.startswith("kiosk.db")
    )
    assert b"Ada" in data  # names are not secret from someone with the file...
    for secret in (vector.astype("<f4").tobytes()[:64], crop[:40], snapshot[:40]):
        assert secret not in data  # ...faces are
