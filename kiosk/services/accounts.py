"""Admin accounts: scrypt password hashes, roles, lock-out after repeated failures,
disabled and deleted accounts, and the record of who did what.

Every account row is sealed with the key (``kiosk.storage.chain.account_seal``): a row
inserted or changed in the database by someone without the key, or an older copy put
back, is refused at sign-in. Sign-ins, failed sign-ins and refusals are operators' actions
in the chained log.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from kiosk.errors import InputError, KioskError
from kiosk.storage import limits
from kiosk.storage.records import AdminAccount, AdminAction, Role
from kiosk.storage.store import Store, UnitOfWork

#: scrypt cost: about 50 ms and 16 MiB per hash, so guessing is slow even offline
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)
MIN_PASSWORD_LENGTH = 12
#: zxcvbn's score (0-4) a new password needs: 3 is "safely unguessable" (about 10^8
#: guesses or more), which scrypt makes months of work for one core
MIN_PASSWORD_SCORE = 3
#: words a guesser tries first against this product
PRODUCT_WORDS = ("kiosk", "admin", "door", "access", "face", "badge", "auditor")
PASSWORD_RULE = (
    f"At least {MIN_PASSWORD_LENGTH} characters and hard to guess: several unrelated words, "
    "or a mix of letters, digits and symbols; not a common password or a name with a year."
)
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


#: one word of up to 10 letters with only digits and symbols around it ("Winter2026!!",
#: "Admin2026!!!"): zxcvbn scores these 3, a guesser's rules try them early
_WORD_AND_YEAR = re.compile(r"[^A-Za-z]*[A-Za-z]{1,10}[^A-Za-z]*")


def password_problem(password: str, username: str) -> str | None:
    """Why a new password is too weak, or ``None``: under :data:`MIN_PASSWORD_LENGTH`
    characters, or guessable as zxcvbn judges it (common passwords, keyboard patterns,
    dictionary words with digits, dates, the user name or the product's words)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"use at least {MIN_PASSWORD_LENGTH} characters"
    if len(password) > 200:
        return "use at most 200 characters"
    if limits.bad_character(password) is not None:
        return "do not use control characters"
    if username and username.lower() in password.lower():
        return "do not include the user name"
    from zxcvbn import zxcvbn

    # zxcvbn judges at most 72 characters (it raises beyond); a longer password is judged
    # by its first 72, which must be hard to guess on their own
    result = zxcvbn(password[:72], user_inputs=[username, *PRODUCT_WORDS])
    if int(result["score"]) >= MIN_PASSWORD_SCORE:
        if _WORD_AND_YEAR.fullmatch(password):
            return (
                "one short word with digits and symbols around it is guessed early; "
                "use several unrelated words"
            )
        return None
    feedback = result.get("feedback") or {}
    warning = str(feedback.get("warning") or "").rstrip(".")
    suggestion = " ".join(str(s) for s in feedback.get("suggestions") or [])
    why = warning[:1].lower() + warning[1:] if warning else "it is easy to guess"
    advice = suggestion[:1].lower() + suggestion[1:] if suggestion else "add an unrelated word"
    return f"{why}; {advice}".rstrip()


def check_new_username(username: str) -> str:
    """A new account's user name: letters, digits, '.', '_', '-', '@'; one line if not."""
    if not isinstance(username, str) or not _USERNAME.fullmatch(username):
        shown = limits.printable(username if isinstance(username, str) else "", 40)
        raise InputError(
            f"{shown!r} is not a valid user name: use letters, digits, '.', '_', '-' "
            "or '@' (up to 100, starting with a letter or digit)"
        )
    return username


class AccountService:
    def __init__(self, store: Store) -> None:
        self.store = store

    def has_admins(self) -> bool:
        """Whether this database has, or ever had, an admin account: the first-admin
        bootstrap (an account made without signing in) is only for a database that never
        had one, not one whose accounts were deleted outside the kiosk."""
        anchor = self.store.anchor
        if anchor is not None and "admins" in anchor.facts():
            return True
        with self.store.unit_of_work() as uow:
            return uow.admins.count() > 0 or uow.admins.ever_had()

    def _masked(self, typed: str) -> str:
        """A user name that matches no account, as the log keeps it: its first two
        characters, its length and a keyed fingerprint (the same wrong name gives the same
        one), never in clear: people type their password into the name field."""
        digest = hmac.new(
            self.store.chain_key, b"typed user name\0" + typed.encode("utf-8", "replace"), "sha256"
        ).hexdigest()
        return f"{limits.printable(typed[:2], 2)}… ({len(typed)} characters, #{digest[:8]})"

    def authenticate(self, username: str, password: str, *, via: str = "") -> Actor:
        """Check the password; count failures and lock the account after
        :data:`MAX_FAILED_LOGINS` of them for :data:`LOCKOUT`. A row the kiosk did not
        write (no valid seal) and a disabled account are refused. Every outcome is an
        operator's action in the chained log (``via``: where, e.g. "cli", "console")."""
        now = datetime.now(UTC)
        where = {"via": via} if via else {}
        with self.store.unit_of_work(write=True) as uow:
            account = uow.admins.get(username)
            encoded = uow.admins.password_hash(username)
            if account is None or encoded is None:
                verify_password(password, _DUMMY_HASH)  # same time as for a real account
                uow.audit.record(
                    None,
                    "login-failed",
                    self._masked(username),
                    reason="no such account",
                    **where,
                )
                uow.commit()
                raise AuthError("wrong user name or password")
            if not account.sealed:
                uow.audit.record(
                    None,
                    "login-refused",
                    username,
                    reason="account not written by the kiosk",
                    **where,
                )
                uow.commit()
                raise AuthError(
                    f"the account {username} was not created or changed by the kiosk (its "
                    "seal does not match: added or altered in the database): sign-in "
                    "refused; another admin should run `kiosk log verify`"
                )
            if account.locked_until is not None and account.locked_until > now:
                until = account.locked_until.astimezone().strftime("%H:%M")
                uow.audit.record(username, "login-refused", username, reason="locked", **where)
                uow.commit()
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
                uow.audit.record(username, "login-failed", username, failures=failed, **where)
                uow.commit()
                if locked is not None:
                    raise AuthError(
                        f"wrong password; the account {username} is now locked for "
                        f"{int(LOCKOUT.total_seconds() // 60)} minutes"
                    )
                raise AuthError("wrong user name or password")
            if account.disabled:
                uow.audit.record(username, "login-refused", username, reason="disabled", **where)
                uow.commit()
                raise AuthError(f"the account {username} is disabled; ask an admin")
            uow.admins.update(username, failed_logins=0, locked_until=None, last_login_at=now)
            uow.audit.record(username, "login", username, **where)
            uow.commit()
            return Actor(account.username, account.role)

    def add_admin(
        self, actor: Actor | None, username: str, password: str, role: Role
    ) -> AdminAccount:
        """Create an account. Without ``actor`` only the very first account can be made."""
        check_new_username(username)
        problem = password_problem(password, username)
        if problem:
            raise InputError(f"password too weak: {problem}")
        encoded = hash_password(password)
        with self.store.unit_of_work(write=True) as uow:
            if actor is None:
                if uow.admins.count() > 0:
                    raise AuthError("admin accounts exist: log in as an admin to add another")
                if uow.admins.ever_had() or (
                    self.store.anchor is not None and "admins" in self.store.anchor.facts()
                ):
                    raise AuthError(
                        "this database had admin accounts and they were deleted outside the "
                        "kiosk: the first-admin set-up is refused; restore the database from "
                        "a backup (`kiosk log verify` names what is missing)"
                    )
                if role is not Role.ADMIN:
                    raise InputError("the first account must be an admin (--role admin)")
            else:
                _acting(uow, actor)
            if uow.admins.get(username) is not None:
                raise InputError(f"the admin account {username} already exists")
            generation = uow.audit.record(
                actor.username if actor else None, "admin-add", username, role=str(role)
            )
            account = uow.admins.add(username, encoded, role, generation=generation)
            uow.commit()
            return account

    def _target(self, uow: UnitOfWork, username: str) -> AdminAccount:
        account = uow.admins.get(username)
        if account is None:
            raise InputError(f"there is no admin account {limits.printable(username, 100)}")
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
            if actor.username != username:
                _acting(uow, actor)
            account = self._target(uow, username)
            _refuse_unsealed(account)
            current = uow.admins.password_hash(username)
            if current is not None and verify_password(new_password, current):
                raise InputError("the new password is the current one: choose another")
            generation = uow.audit.record(actor.username, "admin-passwd", username)
            uow.admins.update(
                username,
                generation=generation,
                password_hash=encoded,
                failed_logins=0,
                locked_until=None,
            )
            uow.commit()

    def set_disabled(self, actor: Actor, username: str, disabled: bool) -> AdminAccount:
        """Disable an account (it can no longer sign in; its actions stay in the log) or
        enable it again. Not yourself, and not the last admin who can sign in."""
        actor.require(Role.ADMIN)
        with self.store.unit_of_work(write=True) as uow:
            _acting(uow, actor)
            account = self._target(uow, username)
            _refuse_unsealed(account)
            if disabled and username == actor.username:
                raise InputError("you cannot disable your own account; ask another admin")
            if account.disabled == disabled:
                return account
            if disabled:
                _keep_an_admin(uow, username)
            generation = uow.audit.record(
                actor.username, "admin-disable" if disabled else "admin-enable", username
            )
            uow.admins.update(username, generation=generation, disabled=disabled)
            uow.commit()
            updated = uow.admins.get(username)
        assert updated is not None
        return updated

    def set_role(self, actor: Actor, username: str, role: Role) -> AdminAccount:
        """Make an account an admin or an auditor. Not your own, and not the last admin."""
        actor.require(Role.ADMIN)
        with self.store.unit_of_work(write=True) as uow:
            _acting(uow, actor)
            account = self._target(uow, username)
            _refuse_unsealed(account)
            if username == actor.username:
                raise InputError("you cannot change your own role; ask another admin")
            if account.role is role:
                return account
            if role is not Role.ADMIN:
                _keep_an_admin(uow, username)
            generation = uow.audit.record(
                actor.username, "admin-role", username, old=str(account.role), new=str(role)
            )
            uow.admins.update(username, generation=generation, role=str(role))
            uow.commit()
            updated = uow.admins.get(username)
        assert updated is not None
        return updated

    def delete_account(self, actor: Actor, username: str) -> None:
        """Remove an account (its past actions stay in the log under its name). Not your
        own, and not the last admin. An account the kiosk did not write can be deleted."""
        actor.require(Role.ADMIN)
        with self.store.unit_of_work(write=True) as uow:
            _acting(uow, actor)
            account = self._target(uow, username)
            if username == actor.username:
                raise InputError("you cannot delete your own account; ask another admin")
            if account.sealed:
                _keep_an_admin(uow, username)
            uow.audit.record(
                actor.username,
                "admin-delete",
                username,
                role=str(account.role),
                sealed=account.sealed,
            )
            uow.admins.delete(username)
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

    def actions(
        self,
        actor: Actor,
        *,
        limit: int = 100,
        action: str | None = None,
        admin: str | None = None,
        before_id: int | None = None,
    ) -> list[AdminAction]:
        """The operators' actions, newest first (admins and auditors may read them)."""
        actor.require(Role.AUDITOR)
        with self.store.unit_of_work() as uow:
            return uow.audit.list(limit=limit, action=action, admin=admin, before_id=before_id)


def _acting(uow: UnitOfWork, actor: Actor) -> None:
    """The actor's account still exists, is sealed, enabled and an admin (a console
    session stays open while another admin disables or demotes it)."""
    actor.require(Role.ADMIN)
    account = uow.admins.get(actor.username)
    if account is None or not account.sealed or account.disabled or account.role is not Role.ADMIN:
        raise AuthError(
            f"your account {actor.username} was deleted, disabled or made an auditor since "
            "you signed in; sign in again"
        )


def _refuse_unsealed(account: AdminAccount) -> None:
    if not account.sealed:
        raise InputError(
            f"the account {account.username} was not created or changed by the kiosk; it "
            "cannot be changed, only deleted (kiosk admin delete)"
        )


def _keep_an_admin(uow: UnitOfWork, leaving: str) -> None:
    """Refuse a change that would leave no admin able to sign in."""
    others = [
        a
        for a in uow.admins.list()
        if a.username != leaving and a.role is Role.ADMIN and a.sealed and not a.disabled
    ]
    if not others:
        raise InputError(
            f"{leaving} is the last admin who can sign in: make another account an admin first"
        )
