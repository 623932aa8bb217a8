"""The challenge's vocabulary: the moves a person is asked for and how the first prompt
names them (:func:`announce`), the rules a level sets (:class:`ChallengeRules`), and what
a challenge answers (:class:`Outcome`, :class:`ChallengeStatus`). Plain values; the
counting is :mod:`kiosk.liveness.challenge`'s.
"""

from __future__ import annotations

import enum
import itertools
import random
from dataclasses import dataclass

from kiosk.liveness.evidence import Combination

#: The fitted combination of the 3-D cues (``python -m tools.liveness.fit``; the fit data
#: and the operating point are in the README's "Liveness" section).
COMBINATION = Combination(
    weights=(4.3791, 2.2318, 0.9489, -3.0044, 9.5788, 0.0000),
    bias=-0.0913,
    threshold=2.8145,
)


@dataclass(frozen=True)
class PixelCues:
    """The cues measured on a frame's pixels (see :mod:`kiosk.liveness.evidence`)."""

    plane: float
    surround: float


class Move(enum.Enum):
    """A head movement, in the person's own terms (their own left)."""

    LEFT = "left"
    RIGHT = "right"
    UP = "up"
    DOWN = "down"

    @property
    def prompt(self) -> str:
        return f"Turn your head {self.value}" if self.is_turn else f"Tilt your head {self.value}"

    @property
    def further_prompt(self) -> str:
        """The prompt when the head moved the right way, but not far enough yet."""
        verb = "Turn" if self.is_turn else "Tilt"
        return f"{verb} your head a little further {self.value}"

    @property
    def is_turn(self) -> bool:
        return self in (Move.LEFT, Move.RIGHT)


def announce(moves: tuple[Move, ...], done: int) -> str:
    """What the screen says while ``moves[done]`` is asked. At the first move, every move
    in order ("Turn your head left, then right"): the person reads one prompt and makes
    the moves one after the other, instead of stopping to read a second one; after it,
    the move that is left ("Now turn your head right"). Nothing is given away by showing
    them together: a replay must still match the order, and a picture following the
    prompt is asked the same moves."""
    current = moves[done]
    if done > 0:
        return "Now " + current.prompt[0].lower() + current.prompt[1:]
    words = current.prompt
    for before, move in itertools.pairwise(moves):
        if move.is_turn == before.is_turn:
            words += f", then {move.value}"
        else:
            words += f", then {'turn' if move.is_turn else 'tilt'} it {move.value}"
    return words


@dataclass(frozen=True)
class ChallengeRules:
    """The numbers of a challenge (from ``LivenessSettings``).

    ``min_parallax`` is the nose's offset from the face plane, in eye-to-mouth distances,
    that counts as a move (a live head turned by about 15 degrees; a flat picture stays
    within a few hundredths). ``mirrored`` says the camera image is mirrored, which swaps
    what the person's left is in the image."""

    pool: tuple[Move, ...] = (Move.LEFT, Move.RIGHT)
    count: int = 2
    time_limit: float = 6.0
    min_parallax: float = 0.12
    #: with the landmarks alone (no frames given), a turn counts only when its parallax is
    #: at least this times the tilt of the face plane (1 - cos of the angle)
    min_ratio: float = 0.6
    #: with the frames, a turned frame counts when the combined cues reach its threshold
    combination: Combination = COMBINATION
    centre: float = 0.06
    frames_needed: int = 2
    mirrored: bool = False
    #: one clear turn is enough: when the first move's two frames both score at least
    #: this much (log-odds) above the combination's threshold, the challenge passes
    #: without the other moves (``None``: every move is asked). A first move that counts
    #: but is not clear is held while the turn goes on, at most ``hold`` seconds and
    #: until the head is no longer turned the asked way, then the next move is asked.
    clear_margin: float | None = None
    hold: float = 0.5
    #: the moves together must be as three-dimensional as one clear turn: their margins
    #: (each move's best two frames in a row, the lower score of the two, above the
    #: threshold) must add up to at least this, or the last move goes on being watched
    #: until they do (``None``: off; landmarks alone: not applied). Measured: two bent
    #: prints that answered both turns just above the threshold are stopped by it.
    together: float | None = None
    #: the frames judged are at least this far apart (seconds): the check's rates were
    #: measured at 8 frames a second, and "two frames in a row" means the same at a
    #: camera of 30 (a faster camera would give a picture more tries a second)
    frame_interval: float = 0.12
    #: a move asked, turned past ``min_parallax`` and brought back near the start
    #: (under ``centre``) without counting ends the challenge at once as failed, so that
    #: the next try (``ActiveLiveness.tries``) is asked at once instead of at the time
    #: limit; off when there is no next try (the rest of the time is then the retry)
    end_on_return: bool = False

    def __post_init__(self) -> None:
        if not self.pool or self.count < 1 or self.time_limit <= 0:
            raise ValueError("a challenge needs at least one move and a time limit above 0")
        if not 0 < self.centre < self.min_parallax:
            raise ValueError("centre must be between 0 and min_parallax")

    def draw(self, rng: random.Random) -> tuple[Move, ...]:
        """Moves drawn at random, never the same move twice in a row (when the pool has
        more than one). Measured: every made attack that passed a challenge had drawn a
        repeated move (``left, left``): a picture tilted one way can fake the same turn
        twice, while a turn each way runs into the wrong-way rule."""
        moves: list[Move] = []
        for _ in range(self.count):
            options = [m for m in self.pool if not moves or m is not moves[-1]] or list(self.pool)
            moves.append(rng.choice(options))
        return tuple(moves)


class Outcome(enum.Enum):
    PENDING = "pending"
    PASSED = "passed"
    FAILED = "failed"


@dataclass(frozen=True)
class ChallengeStatus:
    """Where a challenge stands. ``move`` is the move being asked (while pending);
    ``reason`` says why it failed, for the log; ``elapsed`` is seconds since the start."""

    outcome: Outcome
    move: Move | None
    done: int
    total: int
    elapsed: float
    reason: str = ""
    max_parallax: float = 0.0
    max_motion: float = 0.0
    #: frames that turned the asked way but were not three-dimensional enough
    flat_frames: int = 0
    #: how far the latest frame went the asked way, as a fraction of what counts (0 to 1)
    progress: float = 0.0
    #: the last frames turned the asked way far enough, after the prompt, and the move
    #: still did not count (not 3-D enough yet, or not together): a further turn helps
    further: bool = False
