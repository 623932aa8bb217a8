"""The kiosk's decision policy: which face is decided on, how many recognitions must
agree before the door opens, and how often one person is logged.

Pure logic over plain values (times in seconds from any monotonic clock); no Qt, torch or
cv2, so every rule can be tested with made-up observations.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from kiosk.domain.faces import Box

#: The region of the frame a face must be in to be decided on, as fractions of the
#: width and height: (left, top, right, bottom).
Region = tuple[float, float, float, float]

FULL_FRAME: Region = (0.0, 0.0, 1.0, 1.0)


def choose_face(
    boxes: Sequence[Box], width: int, height: int, region: Region = FULL_FRAME
) -> int | None:
    """Index of the face to decide on: the largest (nearest) whose centre lies in
    ``region``; ``None`` when no face is in it. Other faces are shown, not decided on."""
    left, top, right, bottom = region
    best: int | None = None
    best_area = 0.0
    for i, box in enumerate(boxes):
        cx, cy = box.center
        if not (left * width <= cx <= right * width and top * height <= cy <= bottom * height):
            continue
        if box.area > best_area:
            best, best_area = i, box.area
    return best


@dataclass(frozen=True)
class VotingRule:
    """``needed`` of the last ``window`` recognitions, all within ``seconds``, must name
    the same person (or all be unknown) for a decision; then that person (or "unknown")
    is not decided on again for ``cooldown`` seconds."""

    needed: int = 3
    window: int = 5
    seconds: float = 2.0
    cooldown: float = 10.0

    def __post_init__(self) -> None:
        if not 1 <= self.needed <= self.window:
            raise ValueError("votes needed must be between 1 and the window size")
        if self.seconds <= 0 or self.cooldown < 0:
            raise ValueError("the voting time must be positive and the cooldown not negative")


@dataclass(frozen=True)
class Vote:
    """One recognition of the face being decided on: a person id, or ``None`` for a face
    that matched nobody (unknown or ambiguous)."""

    time: float
    person_id: int | None
    distance: float


@dataclass(frozen=True)
class Verdict:
    """Enough recognitions agreed.

    ``person_id`` is ``None`` for an unknown face. ``repeat`` is true while the same
    person (or "unknown") is still within the cooldown of their last verdict: the screen
    may show it again, but it is not logged and the door is not opened again.
    ``distance`` is the mean distance of the agreeing votes."""

    person_id: int | None
    distance: float
    votes: int
    repeat: bool


class Voter:
    """Collects recognitions of the decided-on face and says when they agree."""

    def __init__(self, rule: VotingRule) -> None:
        self.rule = rule
        self._votes: deque[Vote] = deque(maxlen=rule.window)
        self._last_verdict: dict[int | None, float] = {}

    @property
    def pending(self) -> int:
        """How many recent recognitions are waiting for agreement."""
        return len(self._votes)

    def reset(self) -> None:
        """Forget the pending recognitions (the cooldowns stay)."""
        self._votes.clear()

    def add(self, vote: Vote) -> Verdict | None:
        """Record a recognition; return a verdict when enough recent ones agree."""
        self._votes.append(vote)
        self._expire(vote.time)
        agreeing = [v for v in self._votes if v.person_id == vote.person_id]
        if len(agreeing) < self.rule.needed:
            return None
        self._votes.clear()
        last = self._last_verdict.get(vote.person_id)
        repeat = last is not None and vote.time - last < self.rule.cooldown
        if not repeat:
            self._last_verdict[vote.person_id] = vote.time
        distance = sum(v.distance for v in agreeing) / len(agreeing)
        return Verdict(vote.person_id, distance, len(agreeing), repeat)

    def forget(self, person_id: int | None) -> None:
        """Drop the cooldown of ``person_id``: their last verdict did not count (a
        liveness check was still running)."""
        self._last_verdict.pop(person_id, None)

    def expire(self, now: float) -> None:
        """Drop recognitions older than the voting time (call when no face is seen)."""
        self._expire(now)

    def _expire(self, now: float) -> None:
        while self._votes and now - self._votes[0].time > self.rule.seconds:
            self._votes.popleft()
