"""The OSDP Secure Channel base key (SCBK): 16 bytes the kiosk (an OSDP reader) and the
access panel share, so that card reads and the panel's commands are encrypted and
authenticated on the RS-485 line.

It lives in its own file beside the encryption key (``osdp.key`` in the key file's
folder), 32 hex digits, mode 0600, never in the config. The kiosk creates a random one on
first use; the installer enters the same digits in the panel's reader settings (or
writes the panel's key into the file before the first start). A file other users can
read is refused, as the encryption key is.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path

from kiosk.storage.errors import EncryptionKeyError

SCBK_BYTES = 16


def osdp_key_path(key_file: Path) -> Path:
    """Where the OSDP key is for the encryption key file ``key_file``: beside it."""
    return key_file.with_name("osdp.key")


def read_osdp_key(path: Path) -> bytes:
    """The key in ``path``; one clear line when it is missing, malformed or readable by
    other users."""
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        raise EncryptionKeyError(
            f"the OSDP Secure Channel key file {path} is missing: start the kiosk once with "
            '[door] kind = "osdp" (it creates one), or write the panel\'s key there'
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise EncryptionKeyError(f"cannot read the OSDP key file {path}: {exc}") from exc
    if os.name == "posix" and stat.S_IMODE(mode) & 0o077:
        raise EncryptionKeyError(
            f"the OSDP key file {path} is readable by other users; run: chmod 600 {path}"
        )
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) != SCBK_BYTES:
        raise EncryptionKeyError(
            f"the OSDP key file {path} must hold {SCBK_BYTES * 2} hex digits (the panel's "
            "Secure Channel base key)"
        )
    return key


def osdp_key(path: Path) -> bytes:
    """The key in ``path``, created (random, mode 0600) when there is none yet: written
    to a private temporary file, then linked in, so that the file is whole or absent."""
    if path.exists():
        return read_osdp_key(path)
    key = secrets.token_bytes(SCBK_BYTES)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(key.hex() + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.link(temporary, path)  # fails if another process made one meanwhile
    except FileExistsError:
        return read_osdp_key(path)
    except OSError as exc:
        raise EncryptionKeyError(f"cannot create the OSDP key file {path}: {exc}") from exc
    finally:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
    return key
