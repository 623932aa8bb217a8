"""The active challenge: random head moves, named together in the first prompt
(:func:`announce`) and counted one after the other, within a time limit.

Pure logic over (time, landmarks, embedding) per frame; no camera, no models, no Qt.

A move counts when the head turned the asked way, far enough (the nose's parallax off the
plane of the eyes and mouth, :func:`kiosk.liveness.geometry.parallax`, at least
``min_parallax``: about 15 degrees), and the turn was three-dimensional: with the frames'
pixels, the cues of :mod:`kiosk.liveness.evidence` combined by :data:`COMBINATION` (fitted
on measured live turns and made attacks) reach its threshold; with the landmarks alone,
the parallax is large enough for the face plane's tilt. Two frames in a row must count,
after the face was back near where it started. A turn the wrong way fails the attempt,
so that a recording that turns both ways does not answer every challenge. The identity
across the turn is kept by :mod:`kiosk.liveness.identity`.

The moves must be three-dimensional together (``together``: their margins above the
threshold add up to it). Where ``clear_margin`` is set (at the Normal level, by default),
one clear turn is enough: a first move whose two counting frames score that much above the
threshold, with the room around the head measured, ends the challenge when
``clear_allowed`` agrees (the kiosk's check asks the passive model); a first move that
only counts is held a moment and then the next one is asked. Frames are judged at most
about 8 a second (``frame_interval``), the rate the check was measured at.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from kiosk.domain.faces import Box
from kiosk.liveness.evidence import Evidence
from kiosk.liveness.geometry import Points, box_offset, head_model_gain, motion, parallax, tilt
from kiosk.liveness.moves import (
    COMBINATION,
    ChallengeRules,
    ChallengeStatus,
    Move,
    Outcome,
    PixelCues,
    announce,
)

# read from here by callers (the vocabulary lives in kiosk.liveness.moves)
__all__ = [
    "COMBINATION",
    "Challenge",
    "ChallengeRules",
    "ChallengeStatus",
    "Move",
    "Outcome",
    "PixelCues",
    "announce",
]


#: frames this much closer than ``frame_interval`` are still judged: a 25 fps video read
#: at 8 a second has gaps of exactly 0.12 s, a camera's timestamps jitter
_JITTER = 0.01


@dataclass
class _Sample:
    time: float
    side: float  # sideways parallax, positive = the person's own left
    down: float  # downwards parallax, positive = chin down
    tilt: float  # tilt of the plane of eyes and mouth (see geometry.tilt)
    head: float  # geometry.head_model_gain against the last reference frame
    outline: float | None  # the nose's move in the face box, image right positive
    #: the cues of the asked move (measured only on frames that turned the asked way)
    evidence: Evidence | None = None
    #: its combined score (with the frames' pixels), or None
    score: float | None = None


def _room_measured(sample: _Sample) -> bool:
    """The room around the head was measured on this frame (the surroundings cue is a
    number: not a plain wall, not out of view)."""
    e = sample.evidence
    return e is not None and e.surround is not None and bool(np.isfinite(e.surround))


@dataclass
class Challenge:
    """One attempt's challenge. Call :meth:`update` with every frame of the face after
    the prompt is first shown; the first frames given to :meth:`__init__` are the
    reference the moves are measured from."""

    moves: tuple[Move, ...]
    rules: ChallengeRules
    start: float
    baseline: list[Points]
    baseline_box: Box | None = None
    #: whether one clear turn may end the challenge now (``ChallengeRules.clear_margin``
    #: set): the kiosk's check asks the passive model (its score confidently real); None:
    #: the rules alone decide
    clear_allowed: Callable[[], bool] | None = None
    _done: int = 0
    _recent: deque[_Sample] = field(default_factory=lambda: deque(maxlen=8))
    _last_dir: float = 0.0  # sign of the last completed move's axis value
    _last_axis: str = ""
    #: the head was seen not turned the asked way since the current move was asked
    _rested: bool = False
    #: the margins of the moves done (see ChallengeRules.together), and the current one's
    _margins: list[float] = field(default_factory=list)
    _margin: float = float("-inf")
    #: the frames that counted a move, each once (see counted_scores)
    _counted: list[_Sample] = field(default_factory=list)
    #: the time of the last frame judged
    _judged: float | None = None
    #: the first move counted but was not clear: until when it may still become clear
    _held_until: float | None = None
    #: the challenge passed on one clear turn
    clear: bool = False
    #: a clear first turn was seen that ``clear_allowed`` did not let end the challenge
    clear_refused: bool = False
    _status: ChallengeStatus | None = None
    _max_parallax: float = 0.0
    _max_motion: float = 0.0
    _progress: float = 0.0
    _further: bool = False
    _flat_frames: int = 0
    #: the current move was turned far enough after it was asked and did not count yet
    _went_out: bool = False
    #: the combined score of the frames that turned the asked way (with the frames' pixels)
    turned_scores: list[float] = field(default_factory=list)
    #: the cues of every frame that turned the asked way (for the measurement)
    turned: list[Evidence] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.baseline:
            raise ValueError("a challenge needs at least one reference frame")
        self._status = ChallengeStatus(Outcome.PENDING, self.moves[0], 0, len(self.moves), 0.0)

    @property
    def status(self) -> ChallengeStatus:
        assert self._status is not None
        return self._status

    def _measure(self, points: Points) -> tuple[float, float, float]:
        if not np.all(np.isfinite(points)):
            return (float("nan"),) * 3
        values = [(*parallax(ref, points), tilt(ref, points)) for ref in self.baseline]
        side, down, tilted = (float(np.median([v[i] for v in values])) for i in range(3))
        if self.rules.mirrored:
            side = -side
        return side, down, tilted

    def fail(self, time: float, reason: str) -> ChallengeStatus:
        """End the challenge as failed (the identity was lost, for instance)."""
        if self.status.outcome is not Outcome.PENDING:
            return self.status
        return self._end(Outcome.FAILED, time - self.start, reason)

    def update(
        self,
        time: float,
        points: Points,
        pixels: Callable[[], PixelCues] | None = None,
        box: Box | None = None,
    ) -> ChallengeStatus:
        """Take one frame: its landmarks, and (optional) its face box and ``pixels``, which
        measures the pixel cues against the reference frame (see
        :mod:`kiosk.liveness.texture`; called only for frames that turned the asked way).
        Without ``pixels``, moves are judged on the landmarks alone."""
        if self.status.outcome is not Outcome.PENDING:
            return self.status
        elapsed = time - self.start
        rules = self.rules
        if self._judged is not None and time - self._judged < rules.frame_interval - _JITTER:
            # faster than the rate the check was measured at: this frame is not judged
            if elapsed > rules.time_limit:
                return self._end(Outcome.FAILED, elapsed, self._too_slow())
            return self.status
        self._judged = time
        side, down, tilted = self._measure(points)
        if np.isfinite(side) and np.isfinite(down) and np.isfinite(tilted):
            outline = None
            if box is not None and self.baseline_box is not None:
                outline = box_offset(points, box) - box_offset(self.baseline[-1], self.baseline_box)
                if rules.mirrored:
                    outline = -outline
            head = head_model_gain(self.baseline[-1], points)
            sample = _Sample(time, side, down, tilted, head, outline)
            asked = self.moves[self._done]
            if self._axis_values(asked, sample) <= rules.min_parallax:
                self._rested = True  # not (yet) turned the asked way since it was asked
            if self._axis_values(asked, sample) > rules.min_parallax:
                self._weigh(asked, sample, pixels)
            self._recent.append(sample)
            self._max_parallax = max(self._max_parallax, abs(side))
            self._max_motion = max(self._max_motion, motion(self.baseline[0], points))
            result = self._advance(elapsed)
            if result is not None:
                return result
            asked = self.moves[self._done]
            value = self._axis_values(asked, self._recent[-1]) if self._recent else 0.0
            if rules.end_on_return and self._went_out and value < rules.centre:
                # turned and came back without the turn counting: the next try, at once
                return self._end(
                    Outcome.FAILED, elapsed, f"turned {asked.value} and back, not counted"
                )
            self._progress = min(max(value / rules.min_parallax, 0.0), 1.0)
            self._further = self._short_of_counting(asked)
            self._went_out = self._went_out or self._further
        if elapsed > rules.time_limit:
            return self._end(Outcome.FAILED, elapsed, self._too_slow())
        self._status = ChallengeStatus(
            Outcome.PENDING,
            self.moves[self._done],
            self._shown_done,
            len(self.moves),
            elapsed,
            max_parallax=self._max_parallax,
            max_motion=self._max_motion,
            flat_frames=self._flat_frames,
            progress=self._progress,
            further=self._further,
        )
        return self._status

    def _weigh(self, asked: Move, sample: _Sample, pixels: Callable[[], PixelCues] | None) -> None:
        """The cues of a frame that turned the asked way, and whether it counts."""
        value = self._axis_values(asked, sample)
        ratio = value / max(sample.tilt, 1e-3)
        direction = 1.0 if asked in (Move.LEFT, Move.DOWN) else -1.0
        outline = None if sample.outline is None else sample.outline * direction
        if pixels is None:
            sample.evidence = Evidence(value, ratio, sample.head, outline=outline)
        else:
            cues = pixels()
            sample.evidence = Evidence(
                value, ratio, sample.head, cues.plane, cues.surround, outline
            )
            sample.score = self.rules.combination.score(sample.evidence)
            self.turned_scores.append(sample.score)
        self.turned.append(sample.evidence)
        if not self._three_d(asked, sample):
            self._flat_frames += 1

    def _axis_values(self, move: Move, sample: _Sample) -> float:
        """The sample's value along the move's axis, positive in its direction."""
        if move is Move.LEFT:
            return sample.side
        if move is Move.RIGHT:
            return -sample.side
        if move is Move.DOWN:
            return sample.down
        return -sample.down

    def _advance(self, elapsed: float) -> ChallengeStatus | None:
        rules = self.rules
        need = rules.frames_needed
        if len(self._recent) < need:
            return None
        last = list(self._recent)[-need:]
        asked = self.moves[self._done]
        # A clear move the wrong way fails: a recording turning both ways must not pass.
        for other in Move:
            if other is asked or other.is_turn != asked.is_turn:
                continue
            wrong = all(
                self._turned(other, s, rules.min_parallax * 1.25)
                and self._axis_values(other, s) >= rules.min_ratio * s.tilt
                for s in last
            )
            if wrong and self._armed(other):
                return self._end(
                    Outcome.FAILED, elapsed, f"turned {other.value}, asked {asked.value}"
                )
        if self._held_until is not None:
            # the first move counted: it may still become clear while the turn goes on
            self._note_margin(asked, last)
            if self._is_clear(last):
                return self._pass_clear(last, elapsed)
            if elapsed >= self._held_until or not self._turned(asked, last[-1], rules.min_parallax):
                return self._count(asked, [], elapsed)
            return None
        # a turn counts only when it started after the prompt: a turn already under way
        # when the move was asked (a replayed video of the person) does not
        if not (self._rested and self._armed(asked)):
            return None
        if all(
            self._turned(asked, s, rules.min_parallax) and self._three_d(asked, s) for s in last
        ):
            self._note_margin(asked, last)
            if (
                rules.together is not None
                and len(self.moves) > 1
                and self._done == len(self.moves) - 1
                and all(s.score is not None for s in last)  # with the pixel cues
                and sum(self._margins) + self._margin < rules.together
            ):
                return None  # not 3-D enough together yet: the turn may still go further
            if self._done == 0 and rules.clear_margin is not None and len(self.moves) > 1:
                if self._is_clear(last):
                    return self._pass_clear(last, elapsed)
                self._add_counted(last)
                self._held_until = elapsed + rules.hold
                return None
            return self._count(asked, last, elapsed)
        return None

    def _short_of_counting(self, asked: Move) -> bool:
        """The last frames (as many as count a move) turned the asked way past the gate,
        after the prompt, and the move did not count: a little further would help (more
        parallax, more of the head's relief). Not while a counted first move is held."""
        need = self.rules.frames_needed
        if self._held_until is not None or len(self._recent) < need:
            return False
        last = list(self._recent)[-need:]
        turned = all(self._turned(asked, s, self.rules.min_parallax) for s in last)
        return turned and self._rested and self._armed(asked)

    def _count(self, asked: Move, last: list[_Sample], elapsed: float) -> ChallengeStatus | None:
        """The asked move is done: ask the next one (or pass after the last)."""
        self._add_counted(last)
        self._held_until = None
        self._margins.append(self._margin)
        self._margin = float("-inf")
        self._went_out = False
        self._done += 1
        self._last_axis = asked.value
        if self._done == len(self.moves):
            return self._end(Outcome.PASSED, elapsed, "")
        # the next move is asked now: the head is at rest for it unless already turned its
        # way (a turn under way at the prompt does not count)
        latest = self._recent[-1]
        self._rested = self._axis_values(self.moves[self._done], latest) <= self.rules.min_parallax
        self._recent.clear()  # the next move is judged on frames after this one
        return None

    def _is_clear(self, last: list[_Sample]) -> bool:
        """The frames of the first move are a clear 3-D turn: all turned the asked way,
        scored at least ``clear_margin`` above the threshold with the room around the head
        measured (a turn the room could not confirm is never enough alone), and
        ``clear_allowed`` (when given) allows it; a clear turn it did not allow is noted
        (``clear_refused``, cleared if the turn passes as clear later)."""
        margin = self.rules.clear_margin
        if margin is None or self._done != 0:
            return False
        need = self.rules.combination.threshold + margin
        asked = self.moves[0]
        clear = all(
            s.score is not None
            and s.score >= need
            and self._turned(asked, s, self.rules.min_parallax)
            and _room_measured(s)
            for s in last
        )
        if clear and self.clear_allowed is not None and not self.clear_allowed():
            self.clear_refused = True
            return False
        return clear

    def _pass_clear(self, last: list[_Sample], elapsed: float) -> ChallengeStatus:
        self._add_counted(last)
        self._held_until = None
        self._done = 1
        self.clear = True
        self.clear_refused = False
        return self._end(Outcome.PASSED, elapsed, "one clear turn")

    def _turned(self, move: Move, sample: _Sample, threshold: float) -> bool:
        """The sample turned ``move``'s way by more than ``threshold`` (parallax)."""
        return self._axis_values(move, sample) > threshold

    def _three_d(self, move: Move, sample: _Sample) -> bool:
        """The sample's turn was three-dimensional: the combined cues reach the threshold
        (with the pixels); with the landmarks alone, the parallax is large enough for the
        face plane's tilt."""
        if sample.score is not None:
            return sample.score >= self.rules.combination.threshold
        return self._axis_values(move, sample) >= self.rules.min_ratio * sample.tilt

    def _armed(self, move: Move) -> bool:
        """A move in the direction just completed counts again only after the head came
        back near where it started."""
        if self._last_axis != move.value:
            return True
        back = [s for s in self._recent if self._axis_values(move, s) < self.rules.centre]
        if back:
            self._last_axis = ""  # came back: any move may follow
            return True
        return False

    def _note_margin(self, asked: Move, last: list[_Sample]) -> None:
        """The current move's best margin so far: two frames in a row, turned the asked
        way, the lower score above the threshold."""
        turned = (self._turned(asked, s, self.rules.min_parallax) for s in last)
        if all(s.score is not None for s in last) and all(turned):
            low = min(float(s.score) for s in last if s.score is not None)
            self._margin = max(self._margin, low - self.rules.combination.threshold)

    def _add_counted(self, samples: list[_Sample]) -> None:
        """The scores of frames that counted a move, each frame once (a held move's
        frames may count again when it becomes clear)."""
        for s in samples:
            if s.score is not None and not any(s is c for c in self._counted):
                self._counted.append(s)

    @property
    def counted_scores(self) -> list[float]:
        """The combined scores of the frames that counted a move (with the pixels)."""
        return [s.score for s in self._counted if s.score is not None]

    @property
    def prompt(self) -> str:
        """What the screen says now (see :func:`announce`)."""
        return announce(self.moves, min(self._done, len(self.moves) - 1))

    @property
    def _shown_done(self) -> int:
        """The moves done, a held first move included (it counted; it may still become
        clear)."""
        return self._done + (1 if self._held_until is not None else 0)

    def _too_slow(self) -> str:
        if self._held_until is not None:
            return "the time ran out after the first move"
        return f"no head movement {self.moves[self._done].value} in time"

    def _end(self, outcome: Outcome, elapsed: float, reason: str) -> ChallengeStatus:
        self._status = ChallengeStatus(
            outcome,
            None,
            self._shown_done,
            len(self.moves),
            elapsed,
            reason,
            self._max_parallax,
            self._max_motion,
            self._flat_frames,
        )
        return self._status
