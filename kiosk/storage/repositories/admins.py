"""Admin accounts, each sealed with the id of the action that last changed it."""

from __future__ import annotations

import builtins
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kiosk.errors import InputError
from kiosk.storage import limits
from kiosk.storage.chain import account_seal, same
from kiosk.storage.models import AdminActionRow, AdminRow
from kiosk.storage.records import AdminAccount, Role
from kiosk.storage.repositories.clock import utcnow
from kiosk.storage.repositories.roster import RosterRepository

#: admin actions that change an account (its seal records the id of the latest)
ACCOUNT_ACTIONS = (
    "admin-add",
    "admin-passwd",
    "admin-role",
    "admin-disable",
    "admin-enable",
    "admin-delete",
    "admin-seal",
)


def _role(text: str) -> Role | None:
    try:
        return Role(text)
    except ValueError:
        return None


class AdminRepository:
    """Admin accounts, each sealed with the key and the id of the action that last changed
    it; a row the kiosk did not write (inserted, altered, an older copy put back) is not
    ``sealed`` and cannot sign in."""

    def __init__(
        self, session: Session, key: bytes, roster: RosterRepository | None = None
    ) -> None:
        self.session = session
        self.key = key
        self.roster = roster

    def _seal(self, row: AdminRow) -> str:
        return account_seal(
            self.key,
            id=row.id,
            username=row.username,
            password_hash=row.password_hash,
            role=row.role,
            disabled=bool(row.disabled),
            generation=int(row.generation or 0),
        )

    def _latest_change(self, username: str) -> int | None:
        return self.session.scalar(
            select(func.max(AdminActionRow.id)).where(
                AdminActionRow.target == username, AdminActionRow.action.in_(ACCOUNT_ACTIONS)
            )
        )

    def sealed(self, row: AdminRow) -> bool:
        if _role(row.role) is None or row.generation is None:
            return False
        if not same(row.seal, self._seal(row)):
            return False
        return self._latest_change(row.username) == row.generation

    def _account(self, row: AdminRow) -> AdminAccount:
        role = _role(row.role)
        return AdminAccount(
            id=row.id,
            username=row.username,
            role=role or Role.AUDITOR,  # an unknown role is shown, never granted
            failed_logins=row.failed_logins,
            locked_until=row.locked_until,
            created_at=row.created_at,
            last_login_at=row.last_login_at,
            disabled=bool(row.disabled),
            sealed=self.sealed(row),
        )

    def add(
        self, username: str, password_hash: str, role: Role, *, generation: int
    ) -> AdminAccount:
        """A new account, sealed at ``generation`` (the id of its ``admin-add`` action)."""
        row = AdminRow(
            username=limits.check_username(username),
            password_hash=password_hash,
            role=str(role),
            failed_logins=0,
            created_at=utcnow(),
            disabled=False,
            generation=generation,
        )
        self.session.add(row)
        try:
            self.session.flush()
        except IntegrityError:  # another program added the same name meanwhile
            raise InputError(f"the admin account {row.username} already exists") from None
        row.seal = self._seal(row)
        self.session.flush()
        if self.roster is not None:
            self.roster.change("admins", added=[row.id])
        return self._account(row)

    def get(self, username: str) -> AdminAccount | None:
        row = self._row(username)
        return None if row is None else self._account(row)

    def password_hash(self, username: str) -> str | None:
        row = self._row(username)
        return None if row is None else row.password_hash

    def _row(self, username: str, *, lock: bool = False) -> AdminRow | None:
        query = select(AdminRow).where(AdminRow.username == username)
        if lock:
            query = query.with_for_update()
        return self.session.scalar(query)

    def list(self) -> list[AdminAccount]:
        return [
            self._account(r)
            for r in self.session.scalars(select(AdminRow).order_by(AdminRow.username))
        ]

    def count(self) -> int:
        return int(self.session.scalar(select(func.count()).select_from(AdminRow)) or 0)

    def ever_had(self) -> bool:
        """Whether an account was ever added: an ``admin-add`` action in the chain, or a
        roster that changed since it was started (or is missing or altered)."""
        added = self.session.scalar(
            select(AdminActionRow.id).where(AdminActionRow.action == "admin-add").limit(1)
        )
        if added is not None:
            return True
        if self.roster is None:
            return False
        roster = self.roster.get("admins")
        return roster is None or not roster.authentic or roster.count > 0 or roster.generation > 1

    def update(self, username: str, *, generation: int | None = None, **changes: Any) -> None:
        """Change columns. Changing who the account is or what it may do (password, role,
        disabled) needs ``generation``, the id of the action recording it; the account is
        sealed again. Sign-in bookkeeping (failures, lock, last sign-in) is not sealed."""
        row = self._row(username, lock=True)
        if row is None:
            raise LookupError(username)
        sealed_columns = {"password_hash", "role", "disabled"}
        for key in changes:
            if not hasattr(AdminRow, key) or key in ("id", "username", "seal", "generation"):
                raise AttributeError(key)
        if sealed_columns & set(changes) and generation is None:
            raise ValueError("changing a sealed column needs the generation of its action")
        for key, value in changes.items():
            setattr(row, key, value)
        if generation is not None:
            row.generation = generation
            row.seal = self._seal(row)
        self.session.flush()

    def delete(self, username: str) -> None:
        rows = list(self.session.scalars(select(AdminRow).where(AdminRow.username == username)))
        sealed = [r.id for r in rows if self.sealed(r)]
        doubtful = [r.id for r in rows if r.id not in sealed]
        self.session.execute(delete(AdminRow).where(AdminRow.username == username))
        if self.roster is not None and rows:
            self.roster.change("admins", removed=sealed, uncertain=doubtful)

    def unsealed(self) -> builtins.list[str]:
        return [r.username for r in self.session.scalars(select(AdminRow)) if not self.sealed(r)]
