"""A passive second opinion on the face: a pretrained anti-spoofing network's score.

The score (0: a print or a screen, 1: a live face) comes from a function the composition
root gives the check (``kiosk.vision.antispoof.PassiveScorer.score``: MiniFASNet, about
12 ms a face on one thread); this module only decides what to do with it, and never lets
anyone skip the challenge:

- **deny** an attempt whose face scores *confidently fake*: the mean of its scored frames
  (at least :data:`MIN_FRAMES`) under ``fake_below``. Measured (``python -m
  tools.liveness.passive_eval``): every window of every genuine clip scored 0.43 or more,
  the real attack clips (a phone, a screen replaying real head turns) 0.00;
- it is **not** used to let anyone in: made attacks of every kind, flat prints that fill
  the frame with no edge in view above all, score above 0.8 often enough (see
  docs/measurements/liveness.md) that a high score proves nothing;
- a confidently *real* score (:meth:`PassiveWatch.vouches`) is one more condition before
  one clear head turn may end the check (``one_clear_turn``): it removes a way in, never
  adds one. Without it the check asks for the second turn.

At most :data:`MAX_FRAMES` frames of an attempt are scored, one in :data:`EVERY`: the
score is steady over an attempt, and the check must not slow the door.
"""

from __future__ import annotations

from collections.abc import Callable

from kiosk.domain.faces import Box, ImageArray
from kiosk.domain.liveness import LivenessVerdict

#: the score of one face in one frame: (RGB frame, face box) -> 0..1, real
PassiveScore = Callable[[ImageArray, Box], float]

#: frames scored before the score may deny
MIN_FRAMES = 3
#: frames scored at most per attempt, and one frame in this many
MAX_FRAMES = 8
EVERY = 2

#: what the person at the door is told when a picture was seen (by this or the border cue)
PICTURE_MESSAGE = "A photo or a screen was seen. Please look at the camera yourself."


class PassiveWatch:
    """The scores of one attempt's frames (see the module docstring)."""

    def __init__(self, score: PassiveScore | None, fake_below: float) -> None:
        self.score = score
        self.fake_below = fake_below
        self.scores: list[float] = []
        self._frames = 0

    def add(self, rgb: ImageArray, box: Box) -> float | None:
        """One frame of the face being decided on: its score, when this frame was scored."""
        if self.score is None or len(self.scores) >= MAX_FRAMES:
            return None
        self._frames += 1
        if (self._frames - 1) % EVERY == 0:
            value = float(self.score(rgb, box))
            self.scores.append(value)
            return value
        return None

    def put(self, value: float) -> None:
        """A score already computed (by the caller, one frame in :data:`EVERY`)."""
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
        self._frames = 0
