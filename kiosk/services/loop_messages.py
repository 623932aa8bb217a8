"""What the kiosk's recognition loop says: frozen dataclasses, one type per kind of news,
and :data:`LoopMessage`, their union (what the screen's slot takes). The screen turns them
into pixels, a benchmark or an evaluation into figures."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from kiosk.domain.access import Decision
from kiosk.domain.faces import Box

# the words for the person at the door that the loop itself chooses
UNKNOWN_MESSAGE = "Face not recognised. Please see staff."
#: on the screen when the face left during the liveness check (recorded as a spoof)
LEFT_MESSAGE = "The liveness check was not finished. Please look at the camera and try again."
UNKNOWN_BADGE_MESSAGE = "Badge not recognised. Please see staff."
NOT_BADGE_HOLDER_MESSAGE = "Your face does not match the badge. Please see staff."
NO_FACE_MESSAGE = "No face was seen in time. Please show your badge again."
#: the face under the liveness check was no longer the person's (recorded as a spoof)
CHANGED_MESSAGE = "Please turn your head as shown."


class LoopState(enum.StrEnum):
    """What the loop is doing with the face in front of it."""

    IDLE = "idle"  # no face in the decision region
    CHECKING = "checking"  # a face is being recognised (or the liveness check asks more)
    DECIDED = "decided"  # this face has had its decision and is still there
    BADGE = "badge"  # badge + face mode: a face is there, no badge has been shown yet


@dataclass(frozen=True)
class LoopReady:
    """The models are loaded (or the gallery reloaded): figures for the status line."""

    device: str
    model: str
    enrolled: int


@dataclass(frozen=True)
class Analysis:
    """One recognised frame: the faces to draw and what the loop is doing.

    ``attempt`` numbers the face being decided on (a new number when a face arrives or
    another face takes its place; ``None`` when there is none); ``latency_ms`` is from
    the frame leaving the camera to this result; ``rate`` the recognitions per second
    lately; ``slow`` whether that rate is too low for a decision in the promised time
    (the person is asked to hold still)."""

    frame_seq: int
    width: int
    height: int
    boxes: tuple[Box, ...]
    chosen: int | None
    state: LoopState
    latency_ms: float
    rate: float
    attempt: int | None = None
    slow: bool = False


@dataclass(frozen=True)
class Decided:
    """The decision of one attempt, made once per attempt.

    ``message`` is the line for the person at the door; ALLOWED means the door was told
    to open (its :class:`DoorReport` follows). ``since_face_ms`` is the time from the
    attempt's first frame to the decision. ``attempt_over`` is true when the decision
    came as the face left (a liveness check left unfinished): nobody is in front of the
    kiosk to see it, but the next person should not be greeted by it either."""

    decision: Decision
    message: str
    name: str | None
    person_id: int | None
    distance: float
    since_face_ms: float | None
    time: datetime
    attempt: int | None = None
    attempt_over: bool = False
    #: another face took the attempt's place before it was decided (a liveness check
    #: left unfinished): recorded, never shown over that other face
    replaced: bool = False
    #: an access panel (a door that decides) refused the badge or did not answer: the
    #: decision is ERROR and the screen says "Please see staff"
    door_failed: bool = False

    @property
    def allowed(self) -> bool:
        return self.decision.allowed


@dataclass(frozen=True)
class LivenessPrompt:
    """The face matched an allowed person, but the liveness check needs more: the screen
    keeps "checking" and shows ``prompt`` (and an arrow for ``move``)."""

    prompt: str
    name: str
    move: str = ""  # left | right | up | down: the way to turn, if known
    attempt: int | None = None


@dataclass(frozen=True)
class DoorReport:
    """The door's answer to an ALLOWED decision; it comes after that :class:`Decided`,
    and may come after later updates (the door is opened off the recognition thread)."""

    ok: bool
    message: str
    person_id: int | None = None  # whom the door was opened for


@dataclass(frozen=True)
class BadgeRead:
    """Badge + face mode: a badge (or PIN) named an enrolled person; their face is now
    checked against theirs alone, for ``seconds`` at most. The name is not shown: a badge
    number typed at random must not tell who it belongs to."""

    seconds: float


@dataclass(frozen=True)
class PaceChanged:
    """The recognition rate crossed the rate a decision in time needs: ``slow`` means
    people have to hold still for longer (``rate`` measured, ``needed`` the least that
    keeps the promise of a decision within ``seconds``)."""

    slow: bool
    rate: float
    needed: float
    seconds: float


@dataclass(frozen=True)
class Notice:
    """Something staff should know that is not a decision (database or model trouble)."""

    message: str
    fatal: bool = False  # the loop has stopped


@dataclass(frozen=True)
class StaffNotice:
    """A line for the staff bar from a part beside the loop (the event bus's losses);
    ``message`` ``None`` takes the ``topic``'s line away."""

    topic: str
    message: str | None


LoopMessage = (
    LoopReady
    | Analysis
    | Decided
    | LivenessPrompt
    | DoorReport
    | BadgeRead
    | PaceChanged
    | Notice
    | StaffNotice
)
