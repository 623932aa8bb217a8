"""Storage errors a user can meet; each says what happened and what to do."""

from __future__ import annotations

from kiosk.errors import InputError, KioskError


class StorageError(KioskError):
    """The database cannot be opened, read or written (locked, read-only, full, newer)."""

    exit_code = 3


class EncryptionKeyError(StorageError):
    """The encryption key is missing, malformed or not the one the data was written with."""


class TamperedRecord(InputError):
    """A row that decides who gets in was changed outside the kiosk (its seal does not
    match): the kiosk refuses it."""
