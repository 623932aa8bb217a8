"""Private files: the home folder 0700; the database, its WAL and SHM files, the key, the
checkpoint file and exports 0600.

``private_umask()`` is called once when the program starts (``kiosk.cli.main``), so that
every file it creates is private whatever the shell's umask; ``secure_home`` runs when a
database is opened and tightens anything that is looser, with one warning per file and
process (a folder made by an older version, or copied in by hand).
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)

PRIVATE_UMASK = 0o077
FOLDER_MODE = 0o700
FILE_MODE = 0o600

_warned: set[Path] = set()


def private_umask() -> int:
    """Files and folders this process creates are for its own user only; returns the
    previous umask."""
    return os.umask(PRIVATE_UMASK)


def make_private_folder(path: Path) -> None:
    """Create ``path`` (and its parents) if needed; the folder itself ends up 0700."""
    path.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
    tighten(path, FOLDER_MODE)


def create_private_file(path: Path) -> None:
    """Create an empty file with mode 0600 if it does not exist (before SQLite does, with
    whatever the umask allows)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return
    os.close(fd)


def tighten(path: Path, mode: int) -> bool:
    """Make ``path`` no more open than ``mode`` (owner bits kept); warn once per file.
    Returns whether it was looser."""
    if os.name != "posix":
        return False
    try:
        current = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return False
    if current & ~mode == 0:
        return False
    try:
        path.chmod(current & mode)
    except OSError as exc:
        _warn_once(
            path,
            f"{path} is readable by other users (mode {current:o}) and cannot be "
            f"made private ({exc.strerror}); run: chmod {mode:o} {path}",
        )
        return True
    _warn_once(
        path,
        f"{path} was readable by other users (mode {current:o}); made it private "
        f"(mode {current & mode:o})",
    )
    return True


def _warn_once(path: Path, message: str) -> None:
    if path in _warned:
        return
    _warned.add(path)
    log.warning("%s", message)


def secure_home(home: Path, files: list[Path]) -> None:
    """The home folder 0700 (created if missing) and each existing file of ``files``
    0600."""
    make_private_folder(home)
    for path in files:
        tighten(path, FILE_MODE)
