"""Encryption of biometric data at rest (templates, face crops, snapshots).

AES-256-GCM with a key kept outside the database: a key file (mode 0600) next to the
database, created on first run, or a key given in the environment
(``KIOSK_ENCRYPTION_KEY``). The database stores only a key *identifier* (a hash of the
key), so opening it with a different key fails with a clear message instead of producing
garbage.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import stat
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kiosk.domain.faces import FloatArray
from kiosk.storage.errors import EncryptionKeyError

KEY_BYTES = 32
NONCE_BYTES = 12
EMBEDDING_DIM = 128

#: what a ciphertext holds; bound into the tag so a crop cannot pass for a template
PURPOSE_TEMPLATE = b"kiosk/template/v1"
PURPOSE_CROP = b"kiosk/crop/v1"
PURPOSE_SNAPSHOT = b"kiosk/snapshot/v1"


def encode_key(key: bytes) -> str:
    return base64.urlsafe_b64encode(key).decode("ascii")


def decode_key(text: str, source: str) -> bytes:
    try:
        key = base64.urlsafe_b64decode(text.strip().encode("ascii"))
    except (binascii.Error, UnicodeEncodeError, ValueError):
        key = b""
    if len(key) != KEY_BYTES:
        raise EncryptionKeyError(
            f"{source} is not a valid encryption key (expected {KEY_BYTES} bytes in urlsafe "
            "base64); restore the original key"
        )
    return key


def generate_key() -> bytes:
    return AESGCM.generate_key(bit_length=KEY_BYTES * 8)


def read_key_file(path: Path) -> bytes:
    """Read a key file, refusing one that other users can read."""
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise EncryptionKeyError(f"cannot read the encryption key file {path}: {exc}") from exc
    if os.name == "posix" and stat.S_IMODE(mode) & 0o077:
        raise EncryptionKeyError(
            f"the encryption key file {path} is readable by other users; run: chmod 600 {path}"
        )
    return decode_key(text, f"the key file {path}")


def create_key_file(path: Path) -> bytes:
    """Create a new random key in ``path`` with mode 0600 (fails if the file exists)."""
    key = generate_key()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return read_key_file(path)
    except OSError as exc:
        raise EncryptionKeyError(f"cannot create the encryption key file {path}: {exc}") from exc
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(encode_key(key) + "\n")
        f.flush()
        os.fsync(f.fileno())
    return key


class Cipher:
    """Encrypts and decrypts small blobs with one key (AES-256-GCM, random nonce)."""

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise ValueError("an AES-256 key has 32 bytes")
        self._aead = AESGCM(key)
        self.key_id = hashlib.sha256(b"kiosk key id\0" + key).hexdigest()[:32]

    def encrypt(self, data: bytes, purpose: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, data, purpose)

    def decrypt(self, blob: bytes, purpose: bytes) -> bytes:
        try:
            return self._aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], purpose)
        except InvalidTag:
            raise EncryptionKeyError(
                "stored biometric data cannot be decrypted: the encryption key does not "
                "match the one it was written with, or the data was altered; restore the "
                "original key file"
            ) from None

    def encrypt_embedding(self, embedding: FloatArray) -> bytes:
        vector = np.ascontiguousarray(embedding, dtype="<f4").reshape(-1)
        if vector.shape != (EMBEDDING_DIM,):
            raise ValueError(f"an embedding has {EMBEDDING_DIM} values, not {vector.size}")
        return self.encrypt(vector.tobytes(), PURPOSE_TEMPLATE)

    def decrypt_embeddings(self, blobs: Sequence[bytes]) -> FloatArray:
        """Many templates at once, (N, 128): one buffer, no per-row numpy work."""
        decrypt = self._aead.decrypt
        n = NONCE_BYTES
        try:
            raw = b"".join([decrypt(b[:n], b[n:], PURPOSE_TEMPLATE) for b in blobs])
        except InvalidTag:
            self.decrypt(b"\0" * (n + 16), PURPOSE_TEMPLATE)  # raises the explained error
            raise
        return np.frombuffer(raw, dtype="<f4").astype(np.float32).reshape(-1, EMBEDDING_DIM)

    def decrypt_embedding(self, blob: bytes) -> FloatArray:
        raw = self.decrypt(blob, PURPOSE_TEMPLATE)
        return np.frombuffer(raw, dtype="<f4").astype(np.float32)
