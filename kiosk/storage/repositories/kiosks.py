"""The kiosks' heartbeats (``kiosk_status``): one row per kiosk, overwritten at each beat."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from kiosk.domain.kiosk_state import Heartbeat, KioskState
from kiosk.storage import limits
from kiosk.storage.models import KioskStatusRow


class KioskStatusRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def beat(self, beat: Heartbeat) -> None:
        """Write ``beat`` as its kiosk's latest heartbeat."""
        kiosk_id = limits.check_text(beat.kiosk_id, "kiosk id", limits.KIOSK_ID_MAX)
        row = self.session.get(KioskStatusRow, kiosk_id)
        if row is None:
            row = KioskStatusRow(kiosk_id=kiosk_id)
            self.session.add(row)
        row.state = str(beat.state)
        row.detail = beat.detail[:500]
        row.beat_at = beat.beat_at
        row.since = beat.since
        row.started_at = beat.started_at
        row.last_decision_at = beat.last_decision_at
        self.session.flush()

    def all(self) -> list[Heartbeat]:
        """Every kiosk's latest heartbeat, by kiosk id."""
        rows = self.session.scalars(select(KioskStatusRow).order_by(KioskStatusRow.kiosk_id))
        return [_heartbeat(row) for row in rows]

    def latest_beat(self) -> Heartbeat | None:
        """The most recent heartbeat of any kiosk (a cheap poll)."""
        row = self.session.scalars(
            select(KioskStatusRow).order_by(KioskStatusRow.beat_at.desc()).limit(1)
        ).first()
        return None if row is None else _heartbeat(row)


def _heartbeat(row: KioskStatusRow) -> Heartbeat:
    try:
        state = KioskState(row.state)
    except ValueError:  # written outside the kiosk: shown as such, with what it said
        state = KioskState.UNKNOWN
    return Heartbeat(
        kiosk_id=row.kiosk_id,
        state=state,
        beat_at=row.beat_at,
        since=row.since,
        started_at=row.started_at,
        last_decision_at=row.last_decision_at,
        detail=row.detail
        if state.value == row.state
        else f"state {limits.printable(row.state, 40)!r} stored",
    )
