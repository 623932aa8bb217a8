"""Admin accounts: scrypt password hashes, roles, lock-out after repeated failures, and
the record of who did what."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import IntegrityError

from kiosk.errors import InputError, KioskError
from kiosk.storage.records import AdminAccount, AdminAction, Role
from kiosk.storage.store import Store

#: scrypt cost: about 50 ms and 16 MiB per hash, so guessing is slow even offline
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)
MIN_PASSWORD_LENGTH = 10
_COMMON = {"password", "passw0rd", "letmein", "welcome", "admin", "qwerty", "123456", "kiosk"}
_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")


class AuthError(KioskError):
    """Wrong user name or password, a locked account, or a role that may not do this."""

    exit_code = 2


@dataclass(frozen=True)
class Actor:
    """An authenticated admin; every use case that changes something takes one."""

    username: str
    role: Role

    def require(self, role: Role) -> None:
        if role is Role.ADMIN and self.role is not Role.ADMIN:
            raise AuthError(
                f"{self.username} is an {self.role} and may only read the access log; ask an admin"
            )


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    salt = salt or os.urandom(16)
    digest = hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32
    )
    b64 = base64.b64encode
    return (
        f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}$"
        f"{b64(salt).decode('ascii')}${b64(digest).decode('ascii')}"
    )


def verify_password(password: str, encoded: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = encoded.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            password.encode("utf-8"),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


_DUMMY_HASH = (
    "scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
)


def password_problem(password: str, username: str) -> str | None:
    """Why a new password is too weak, or ``None``."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"use at least {MIN_PASSWORD_LENGTH} characters"
    classes = sum(
        [
            any(c.islower() for c in password),
            any(c.isupper() for c in password),
            any(c.isdigit() for c in password),
            any(not c.isalnum() for c in password),
        ]
    )
    if classes < 2:
        return "mix letters with digits or symbols"
    lowered = password.lower()
    if username.lower() in lowered:
        return "do not include the user name"
    if any(word in lowered for word in _COMMON) and len(set(lowered)) < 8:
        return "avoid common words"
    if len(set(password)) < 5:
        return "use more different characters"
    return None


class AccountService:
    def __init__(self, store: Store) -> None:
        self.store = store

    def has_admins(self) -> bool:
        with self.store.unit_of_work() as uow:
            return uow.admins.count() > 0

    def authenticate(self, username: str, password: str) -> Actor:
        """Check the password; count failures and lock the account after
        :data:`MAX_FAILED_LOGINS` of them for :data:`LOCKOUT`."""
        now = datetime.now(UTC)
        with self.store.unit_of_work(write=True) as uow:
            account = uow.admins.get(username)
            encoded = uow.admins.password_hash(username)
            if account is None or encoded is None:
                verify_password(password, _DUMMY_HASH)  # same time as for a real account
                raise AuthError("wrong user name or password")
            if account.locked_until is not None and account.locked_until > now:
                until = account.locked_until.astimezone().strftime("%H:%M")
                raise AuthError(
                    f"the account {username} is locked after {MAX_FAILED_LOGINS} failed "
                    f"logins until {until}; try again later or ask another admin to reset "
                    "its password (admin passwd)"
                )
            if not verify_password(password, encoded):
                failed = account.failed_logins + 1
                locked = now + LOCKOUT if failed >= MAX_FAILED_LOGINS else None
                uow.admins.update(
                    username, failed_logins=0 if locked else failed, locked_until=locked
                )
                uow.audit.record(username, "login-failed", username, failures=failed)
                uow.commit()
                if locked is not None:
                    raise AuthError(
                        f"wrong password; the account {username} is now locked for "
                        f"{int(LOCKOUT.total_seconds() // 60)} minutes"
                    )
                raise AuthError("wrong user name or password")
            uow.admins.update(username, failed_logins=0, locked_until=None, last_login_at=now)
            uow.commit()
            return Actor(account.username, account.role)

    def add_admin(
        self, actor: Actor | None, username: str, password: str, role: Role
    ) -> AdminAccount:
        """Create an account. Without ``actor`` only the very first account can be made."""
        if not _USERNAME.match(username):
            raise InputError(
                f"{username!r} is not a valid user name: use letters, digits, '.', '_', '-' "
                "or '@' (up to 100)"
            )
        problem = password_problem(password, username)
        if problem:
            raise InputError(f"password too weak: {problem}")
        encoded = hash_password(password)
        with self.store.unit_of_work(write=True) as uow:
            if actor is None:
                if uow.admins.count() > 0:
                    raise AuthError("admin accounts exist: log in as an admin to add another")
                if role is not Role.ADMIN:
                    raise InputError("the first account must be an admin (--role admin)")
            else:
                actor.require(Role.ADMIN)
            if uow.admins.get(username) is not None:
                raise InputError(f"the admin account {username} already exists")
            try:
                account = uow.admins.add(username, encoded, role)
            except IntegrityError:
                raise InputError(f"the admin account {username} already exists") from None
            uow.audit.record(
                actor.username if actor else None, "admin-add", username, role=str(role)
            )
            uow.commit()
            return account

    def change_password(self, actor: Actor, username: str, new_password: str) -> None:
        """Admins may change anyone's password (and so unlock them); others only their own."""
        if actor.username != username:
            actor.require(Role.ADMIN)
        problem = password_problem(new_password, username)
        if problem:
            raise InputError(f"password too weak: {problem}")
        encoded = hash_password(new_password)
        with self.store.unit_of_work(write=True) as uow:
            if uow.admins.get(username) is None:
                raise InputError(f"there is no admin account {username}")
            uow.admins.update(username, password_hash=encoded, failed_logins=0, locked_until=None)
            uow.audit.record(actor.username, "admin-passwd", username)
            uow.commit()

    def list_admins(self, actor: Actor) -> list[AdminAccount]:
        actor.require(Role.ADMIN)
        with self.store.unit_of_work() as uow:
            return uow.admins.list()

    def record_action(self, actor: Actor, action: str, target: str = "", **details: object) -> None:
        """Record an admin action done elsewhere (e.g. a threshold changed in a window)."""
        with self.store.unit_of_work(write=True) as uow:
            uow.audit.record(actor.username, action, target, **details)
            uow.commit()

    def actions(self, actor: Actor, *, limit: int = 100) -> list[AdminAction]:
        with self.store.unit_of_work() as uow:
            return uow.audit.list(limit=limit)
