"""A passive second opinion on the face: a pretrained anti-spoofing network's score.

The score (0: a print or a screen, 1: a live face) comes from a function the composition
root gives the check (``kiosk.vision.antispoof.PassiveScorer.score``: MiniFASNet, about
11 ms a face on one thread); this module only decides what to do with it. A high score
never lets a face in without a head turn:

- **deny** an attempt whose face scores *confidently fake*: the mean of its scored frames
  (at least :data:`MIN_FRAMES`) under ``fake_below``. Measured (``python -m
  tools.liveness.passive_eval``): every window of every genuine clip scored 0.43 or more,
  the real attack clips (a phone, a screen replaying real head turns) 0.00;
- a high score alone proves nothing: made attacks of every kind, flat prints that fill
  the frame with no edge in view above all, score above 0.8 often enough (see
  docs/liveness-passive.md);
- a confidently *real* score (:meth:`PassiveWatch.vouches`) is one more condition before
  one clear head turn, with the room around the head measured, may end the check in
  place of two turns (``one_clear_turn``). Without it the check asks for the second turn.

A frame is scored at most every :data:`SPACING` seconds, at most :data:`MAX_FRAMES` per
attempt: the score is steady over an attempt, the check must not slow the door, and the
scores span the same 2 s at any camera rate (the rate they were measured at: 8 frames a
second, one in two).
"""

from __future__ import annotations

from collections.abc import Callable

from kiosk.domain.faces import Box, ImageArray
from kiosk.domain.liveness import LivenessVerdict

#: the score of one face in one frame: (RGB frame, face box) -> 0..1, real
PassiveScore = Callable[[ImageArray, Box], float]

#: frames scored before the score may deny (or vouch)
MIN_FRAMES = 3
#: frames scored at most per attempt, and the seconds between two scored frames (with
#: 10 ms of slack for a camera's jittering timestamps)
MAX_FRAMES = 8
SPACING = 0.25
_SLACK = 0.01


class Cadence:
    """Which frames of an attempt are scored: the first, then one at least
    :data:`SPACING` seconds after the last one scored (the kiosk and the evaluation)."""

    def __init__(self) -> None:
        self.last: float | None = None

    def due(self, time: float) -> bool:
        """Whether the frame at ``time`` is to be scored (and, if so, it is counted)."""
        if self.last is not None and time < self.last + SPACING - _SLACK:
            return False
        self.last = time
        return True

    def reset(self) -> None:
        self.last = None


#: what the person at the door is told when a picture was seen (by this or the border cue)
PICTURE_MESSAGE = "A photo or a screen was seen. Please look at the camera yourself."


class PassiveWatch:
    """The scores of one attempt's frames (see the module docstring)."""

    def __init__(self, score: PassiveScore | None, fake_below: float) -> None:
        self.score = score
        self.fake_below = fake_below
        self.scores: list[float] = []
        self._cadence = Cadence()

    def add(self, rgb: ImageArray, box: Box, time: float) -> float | None:
        """One frame of the face being decided on, at ``time`` (seconds): its score, when
        this frame was scored (:class:`Cadence`)."""
        if self.score is None or len(self.scores) >= MAX_FRAMES:
            return None
        if not self._cadence.due(time):
            return None
        value = float(self.score(rgb, box))
        self.scores.append(value)
        return value

    def put(self, value: float) -> None:
        """A score the caller computed (the evaluation, on the frames :class:`Cadence`
        picks); the check's own frames go through :meth:`add`."""
        if len(self.scores) < MAX_FRAMES:
            self.scores.append(float(value))

    def vouches(self, above: float) -> bool:
        """The face scored confidently real: the mean of at least :data:`MIN_FRAMES`
        scored frames at ``above`` or more."""
        mean = self.mean
        return mean is not None and len(self.scores) >= MIN_FRAMES and mean >= above

    @property
    def mean(self) -> float | None:
        return sum(self.scores) / len(self.scores) if self.scores else None

    @property
    def decided(self) -> bool:
        """Enough frames were scored for the score to deny (or there is no score)."""
        return self.score is None or len(self.scores) >= MIN_FRAMES

    @property
    def spoof(self) -> bool:
        mean = self.mean
        return mean is not None and len(self.scores) >= MIN_FRAMES and mean < self.fake_below

    def verdict(self, steps: int = 0, done: int = 0) -> LivenessVerdict:
        return LivenessVerdict(
            False,
            PICTURE_MESSAGE,
            step=done,
            steps=steps,
            detail=f"liveness failed: the passive model scored the face {self.mean:.2f} "
            f"(a picture under {self.fake_below:g}) over {len(self.scores)} frames",
        )

    def note(self) -> str:
        """For the log of a passed or failed check: the passive score, when measured."""
        mean = self.mean
        if mean is None:
            return ""
        return f"; passive model {mean:.2f} over {len(self.scores)} frames"

    def reset(self) -> None:
        self.scores = []
        self._cadence.reset()
