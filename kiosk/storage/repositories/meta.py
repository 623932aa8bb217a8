"""The ``meta`` table: the database's own settings, one text value per key."""

from __future__ import annotations

from sqlalchemy.orm import Session

from kiosk.storage.models import Meta


class MetaRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, key: str) -> str | None:
        row = self.session.get(Meta, key)
        return None if row is None else row.value

    def set(self, key: str, value: str) -> None:
        row = self.session.get(Meta, key)
        if row is None:
            self.session.add(Meta(key=key, value=value))
        else:
            row.value = value
