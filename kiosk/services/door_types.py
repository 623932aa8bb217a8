"""What a door is told and answers: the values every kind of door shares (``door`` and
``door_osdp`` both use them; ``kiosk.services.door`` re-exports them)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class DoorRequest:
    """Who is let in, for the door controller."""

    kiosk_id: str
    person_id: int
    name: str
    time: datetime  # timezone-aware UTC
    open_seconds: float
    badge: str = ""  # the person's badge number: an OSDP reader sends it as a card read


@dataclass(frozen=True)
class DoorResult:
    ok: bool
    message: str  # for staff: "webhook: HTTP 500", "serial: /dev/ttyUSB0 missing"


class Door(Protocol):
    """A door. One whose class sets ``decides = True`` (an OSDP reader: the access panel
    grants or refuses) is asked before the decision is recorded and shown; the others
    are told to open after it (``kiosk.services.announce``)."""

    def open(self, request: DoorRequest) -> DoorResult:
        """Open the door for ``request.open_seconds``; never raises."""

    def close(self) -> None:
        """Release resources at shutdown (a relay is switched off)."""
