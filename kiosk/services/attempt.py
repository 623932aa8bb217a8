"""One attempt at the door, as one object: a face from its first frame until it leaves (or
another face takes its place), what was recognised of it, what the liveness check is
still asking, and how it ended. The loop starts a new one and drops the old one; nothing
is reset field by field."""

from __future__ import annotations

import queue
from collections import deque
from dataclasses import dataclass, field

from kiosk.camera.frames import Frame
from kiosk.domain.access import Decision, Person
from kiosk.domain.faces import Box, FaceResult, FloatArray
from kiosk.domain.policy import Recognition, same_person

#: an attempt's face is compared with this many of its latest embeddings
RECENT_FACES = 3


@dataclass
class Pending:
    """The face matched an allowed person and the liveness check asks for more."""

    person: Person
    distance: float
    since: int  # the attempt's recognitions from this one on are under the check
    prompt: str = ""  # the last prompt shown, and when (it is shown again now and then)
    prompted_at: float = float("-inf")


@dataclass
class Attempt:
    """A face in front of the kiosk (see the module's docstring).

    ``since`` is the time of its first frame; ``frame`` / ``face`` its latest recognised
    frame (the snapshot if the attempt is logged); ``lost_since`` when it was last
    missing from a frame (``None`` while it is there); ``outcome`` its decision, made
    once (a face that stays is decided again only after the cooldown, never after it was
    denied as a spoof)."""

    id: int
    since: float
    box: Box
    recognitions: list[Recognition] = field(default_factory=list)
    frame: Frame | None = None
    face: FaceResult | None = None
    lost_since: float | None = None
    pending: Pending | None = None
    outcome: Decision | None = None
    decided_at: float | None = None
    label: int | None = None  # whom the decision named (None: nobody)
    #: the latest embeddings of its face (before and after the decision), and whom the
    #: gallery named on each: what the next frame's face must be near to be this attempt's
    recent: deque[tuple[FloatArray, int | None]] = field(
        default_factory=lambda: deque(maxlen=RECENT_FACES)
    )
    ended_at: float | None = None  # when it ended (a decided face back soon rejoins it)

    def seen(self, box: Box, embedding: FloatArray | None = None, named: int | None = None) -> None:
        """The face is in this frame (at ``box``; ``embedding``: its face, if embedded,
        which the gallery took for ``named``)."""
        self.box = box
        self.lost_since = None
        if embedding is not None:
            self.recent.append((embedding, named))

    def is_face(self, embedding: FloatArray, named: int | None, distance: float) -> bool:
        """Is ``embedding`` this attempt's face? It is within ``distance`` of one of its
        latest, or the gallery names the same enrolled person on it as on one of them (a
        head turned far between two frames seconds apart: the gallery knows them both)."""
        if named is not None and any(label == named for _, label in self.recent):
            return True
        return same_person([e for e, _ in self.recent], embedding, distance)

    def missing(self, now: float) -> float:
        """The face is not in this frame: for how long it has been missing."""
        if self.lost_since is None:
            self.lost_since = now
        return now - self.lost_since

    def add(self, recognition: Recognition, frame: Frame, face: FaceResult) -> None:
        self.recognitions.append(recognition)
        self.frame, self.face = frame, face

    def decided(self, outcome: Decision, now: float, label: int | None) -> None:
        self.outcome, self.decided_at, self.label, self.pending = outcome, now, label, None

    @property
    def spoofed(self) -> bool:
        """Denied as a spoof: it stays denied until the face leaves."""
        return self.outcome is Decision.DENIED_SPOOF

    def may_retry(self, now: float, cooldown: float) -> bool:
        """A face that stays after its decision is decided again after ``cooldown``
        seconds, unless it was denied as a spoof."""
        return (
            self.outcome is not None
            and not self.spoofed
            and self.decided_at is not None
            and now - self.decided_at >= cooldown
        )


@dataclass(frozen=True)
class Claim:
    """Badge + face mode: a badge (or PIN) named ``person``; valid until ``until``."""

    person: Person
    badge: str
    until: float


class BadgeInbox:
    """Badges read or typed at the screen (from the GUI thread), taken up by the loop at
    its next frame; only the latest counts."""

    def __init__(self) -> None:
        self._badges: queue.SimpleQueue[str] = queue.SimpleQueue()

    def put(self, badge: str) -> None:
        self._badges.put(badge)

    def latest(self) -> str | None:
        """The last badge put since the last call, as it may appear in the log
        (printable, at most 32 characters); ``None`` when none (or an empty one)."""
        badge: str | None = None
        while True:
            try:
                badge = self._badges.get_nowait()
            except queue.Empty:
                break
        if badge is None:
            return None
        return "".join(c for c in badge.strip() if c.isprintable())[:32] or None
