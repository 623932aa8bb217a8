"""Liveness checks for the kiosk loop: ``observe`` every frame of the face being decided
on, ``assess`` when the votes agree on an allowed person, ``reset`` when the face leaves
or a decision was made (the ``LivenessCheck`` protocol of ``kiosk.services.loop_ports``);
the verdict is :class:`kiosk.domain.liveness.LivenessVerdict`, and mode ``off`` is
:class:`kiosk.domain.liveness.NoLiveness`.

- :class:`ActiveLiveness`: at the first ``assess`` a challenge of random head moves
  starts; while it runs the verdict is *pending* and carries the prompt for the screen;
  it ends live when the moves were made as asked, in time, and three-dimensional (the
  cues of :mod:`kiosk.liveness.evidence` against the last frame before the prompt), by
  the face that was matched (:mod:`kiosk.liveness.identity`), and not live otherwise.
- :class:`PassiveLiveness`: no prompt, passive cues only (the border cue below).

Both also deny when the straight edges of a picture frame the face (``border_check``,
:class:`BorderWatch`): on at least ``BORDER_FRAMES`` frames of the attempt and at least
a third of them.
"""

from __future__ import annotations

import functools
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np

from kiosk.config import LivenessSettings, VisionSettings
from kiosk.domain.faces import Box, FaceResult, FloatArray, ImageArray
from kiosk.domain.liveness import LivenessVerdict, NoLiveness
from kiosk.liveness.challenge import Challenge, ChallengeRules, Move, Outcome, PixelCues
from kiosk.liveness.cues import BORDER_SIDES_NEEDED, Border, border_sides
from kiosk.liveness.geometry import Points
from kiosk.liveness.identity import IdentityTrack
from kiosk.liveness.passive import PICTURE_MESSAGE, PassiveScore, PassiveWatch
from kiosk.liveness.texture import GreyArray, fit_plane, grey, surround_motion

#: What the person at the door is told when the challenge failed.
RETRY_MESSAGE = "Please turn your head as shown."
#: ... and after the last try (``ActiveLiveness.tries``) failed
STAFF_MESSAGE = "The head turn was not recognised. Please see staff."
#: the prompt of a new try starts with this
AGAIN = "Once more: "
#: frames the passive mode looks at before it answers
PASSIVE_FRAMES = 3
#: the prompt says "a little further" once a move has gone this part of the way
FURTHER_FROM = 0.5
#: frames with a picture's frame around the face that end an attempt (and at least a
#: third of the frames seen)
BORDER_FRAMES = 2


class Timed(Protocol):
    """What a check needs of a camera frame (``kiosk.camera.frames.Frame`` has it)."""

    @property
    def time(self) -> float: ...

    @property
    def rgb(self) -> ImageArray: ...


def rules_from(settings: LivenessSettings, level: str = "normal") -> ChallengeRules:
    """The challenge's rules at a security level (``kiosk.domain.operating.LEVELS``'s
    keys): one clear turn may be enough only where :func:`one_clear_turn` says so, and
    only with the border cue and the passive model on (measured: a screen replaying the
    person's real head turns answers one clear turn in 4 of 29 replays by the challenge
    alone, in none of 39 with the border cue; the passive model scores it 0.00)."""
    clear = settings.clear_margin if one_clear_turn(settings, level) else None
    return ChallengeRules(
        pool=tuple(Move(name) for name in settings.move_names),
        count=settings.count,
        time_limit=settings.time_limit_seconds,
        min_parallax=settings.min_parallax,
        centre=settings.min_parallax / 2,
        mirrored=settings.mirrored_camera,
        clear_margin=clear,
        together=settings.clear_margin if settings.clear_margin > 0 else None,
        end_on_return=settings.tries > 1,
    )


@dataclass
class _Seen:
    time: float
    points: Points
    embedding: FloatArray | None
    grey: GreyArray | None = None
    box: Box | None = None


def _pixels(ref: _Seen, image: GreyArray, points: Points) -> PixelCues:
    """The pixel cues of a turned frame against the reference frame."""
    assert ref.grey is not None
    fit = fit_plane(ref.grey, ref.points, image, points)
    return PixelCues(fit.correlation, surround_motion(ref.grey, ref.points, image, fit.warp))


class BorderWatch:
    """Counts the frames of an attempt whose face is framed by a picture's edges."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.seen = 0
        self.framed = 0

    def add(self, border: Border | None) -> None:
        if border is not None:
            self.add_sides(border.count)

    def add_sides(self, sides: int) -> None:
        """One frame whose face had ``sides`` sides of a picture's frame around it."""
        if self.enabled:
            self.seen += 1
            self.framed += sides >= BORDER_SIDES_NEEDED

    @property
    def spoof(self) -> bool:
        return self.framed >= BORDER_FRAMES and 3 * self.framed >= self.seen

    def verdict(self, steps: int = 0, done: int = 0) -> LivenessVerdict:
        return LivenessVerdict(
            False,
            PICTURE_MESSAGE,
            step=done,
            steps=steps,
            detail=f"liveness failed: a picture's edges framed the face on {self.framed} of "
            f"{self.seen} frames",
        )

    def reset(self) -> None:
        self.seen = self.framed = 0


def frame_border(enabled: bool, frame: Timed, face: FaceResult) -> Border | None:
    """The border cue of one kiosk frame (None when switched off)."""
    if not enabled:
        return None
    return border_sides(frame.rgb, face.face.box, face.face.landmarks)


class ActiveLiveness:
    """Random head moves after the match (see the module's docstring).

    ``rng`` draws the moves (``random.SystemRandom()`` by default: an attacker must not
    be able to predict them). ``identity_threshold`` is the embedding network's distance
    under which two frames of one attempt show the same face (``Network.same_face`` of
    ``kiosk.vision.networks``); ``None`` compares no embeddings, only the face box's
    continuity."""

    def __init__(
        self,
        settings: LivenessSettings,
        rng: random.Random | None = None,
        *,
        identity_threshold: float | None = None,
        level: str = "normal",
        passive: PassiveScore | None = None,
        passive_denies: bool = True,
    ) -> None:
        self.settings = settings
        self._passive = PassiveWatch(
            passive if settings.passive_model else None, settings.passive_fake_below
        )
        #: deny on a confidently fake passive score (False: the evaluation counts it apart)
        self.passive_denies = passive_denies
        #: the tries in force (:func:`tries_in_force`)
        self.tries = tries_in_force(settings, self._passive.score is not None)
        self.rules = rules_from(replace(settings, tries=self.tries), level)
        self.rng = rng or random.SystemRandom()
        self.identity_threshold = identity_threshold
        self._before: deque[_Seen] = deque(maxlen=3)  # the frames before the prompt
        self._challenge: Challenge | None = None
        self._identity: IdentityTrack | None = None
        self._border = BorderWatch(settings.border_check)
        self._recent: deque[_Seen] = deque(maxlen=3)  # the latest frames, at any time
        self._try = 1  # the challenge being answered (a new one after a failed one)
        self._failed: list[str] = []  # what each failed try measured, for the log
        self._no_retry = False  # another face took over: no next try

    # -- the protocol -------------------------------------------------------------

    def observe(self, frame: Timed, face: FaceResult) -> None:
        border = frame_border(self.settings.border_check, frame, face)
        self._passive.add(frame.rgb, face.face.box, frame.time)
        self.observe_points(
            frame.time, face.face.landmarks, face.embedding, border, grey(frame.rgb), face.face.box
        )

    def assess(self) -> LivenessVerdict:
        c = self._challenge
        watches = (self._border, self._passive) if self.passive_denies else (self._border,)
        for watch in watches:
            if watch.spoof:
                return (
                    watch.verdict() if c is None else watch.verdict(c.status.total, c.status.done)
                )
        if self._challenge is None:
            if not self._before:
                return LivenessVerdict(False, RETRY_MESSAGE, detail="no face seen")
            self._start()
        assert self._challenge is not None
        status = self._challenge.status
        if status.outcome is Outcome.PASSED:
            what = "passed on one clear turn" if self._challenge.clear else "passed"
            return LivenessVerdict(
                True, step=status.done, steps=status.total, detail=self._detail(what)
            )
        if status.outcome is Outcome.FAILED:
            detail = self._detail(f"liveness failed: {status.reason}")
            if self._try < self.tries and not self._no_retry and self._recent:
                # a new random challenge at once, from where the head is now
                self._failed.append(detail)
                self._try += 1
                self._before = deque(self._recent, maxlen=3)
                self._start()
                return self.assess()
            return LivenessVerdict(
                False,
                STAFF_MESSAGE if self._try > 1 else RETRY_MESSAGE,
                step=status.done,
                steps=status.total,
                detail=detail,
            )
        move = status.move
        assert move is not None
        # half way there, or turned far enough but not yet three-dimensional enough: a
        # little further helps
        further = status.further or FURTHER_FROM <= status.progress < 1.0
        prompt = move.further_prompt if further else self._challenge.prompt
        return LivenessVerdict(
            False,
            pending=True,
            prompt=AGAIN + prompt[0].lower() + prompt[1:] if self._try > 1 else prompt,
            move=move.value,
            step=status.done,
            steps=status.total,
        )

    def _start(self) -> None:
        """A challenge drawn at random, measured from the frames in ``_before``; the face's
        identity is followed from the first challenge's frames across every try."""
        seen = list(self._before)
        if self._identity is None:
            self._identity = IdentityTrack(
                [s.points for s in seen],
                [s.embedding for s in seen if s.embedding is not None],
                [s.time for s in seen],
                self.identity_threshold,
            )
        self._challenge = Challenge(
            self.rules.draw(self.rng),
            self.rules,
            seen[-1].time,
            [s.points for s in seen],
            seen[-1].box,
            clear_allowed=self._clear_allowed,
        )

    def _clear_allowed(self) -> bool:
        """One clear turn may end the check: at the first try only (a second try is
        measured from wherever the head was when the first failed, often mid-turn, where
        a print once scored a clear turn: seed 82, attempt 1756), and when the passive
        model scored the face confidently real (``passive_clear_above``); without the
        model, never."""
        return self._try == 1 and self._passive_vouches()

    def _passive_vouches(self) -> bool:
        return self._passive.vouches(self.settings.passive_clear_above)

    def reset(self) -> None:
        self._before.clear()
        self._recent.clear()
        self._challenge = None
        self._identity = None
        self._border.reset()
        self._passive.reset()
        self._try = 1
        self._failed = []
        self._no_retry = False

    def abandon(self) -> LivenessVerdict | None:
        """The face left before the challenge ended: the failed verdict (what was asked
        and measured so far), or None when no challenge was running."""
        c = self._challenge
        if c is None or c.status.outcome is not Outcome.PENDING:
            return None
        return LivenessVerdict(
            False,
            RETRY_MESSAGE,
            step=c.status.done,
            steps=c.status.total,
            detail=self._detail("liveness failed: the face left before the moves were done"),
        )

    # -- without the camera's types (the evaluation, tests) -------------------------

    def observe_points(
        self,
        time: float,
        points: Points,
        embedding: FloatArray | None = None,
        border: Border | None = None,
        image: GreyArray | None = None,
        box: Box | None = None,
        passive: float | None = None,
    ) -> None:
        """One frame of the face: its time, its five landmarks, its embedding (or None),
        the border cue (or None when not measured), the frame in grey (or None: the
        moves are then judged on the landmarks alone, without the pixel cues), the
        detector's face box (or None) and the passive model's score of the frame when the
        caller scored it (on the frames :class:`kiosk.liveness.passive.Cadence` picks;
        :meth:`observe` scores the frames itself)."""
        self._border.add(border)
        if passive is not None and self.settings.passive_model:
            self._passive.put(passive)
        points = np.asarray(points, np.float64)
        if np.all(np.isfinite(points)):
            self._recent.append(_Seen(time, points, embedding, image, box))
        if self._challenge is None:
            self._before.append(_Seen(time, points, embedding, image, box))
            return
        if self._identity is not None:
            changed = self._identity.observe(time, points, embedding)
            if changed:
                self._no_retry = True  # another face: no next try for it
                self._challenge.fail(time, changed)
                return
        ref = self._before[-1] if self._before else None
        pixels: Callable[[], PixelCues] | None = None
        if image is not None and ref is not None and ref.grey is not None:
            pixels = functools.partial(_pixels, ref, image, points)
        self._challenge.update(time, points, pixels, box)

    @property
    def challenge(self) -> Challenge | None:
        """The running (or ended) challenge, for what it measured; None before the prompt."""
        return self._challenge

    @property
    def tries_used(self) -> int:
        """The challenges asked so far in this attempt (1 before the prompt)."""
        return self._try

    @property
    def moves(self) -> tuple[Move, ...]:
        """The moves of the running challenge (empty before it starts)."""
        return self._challenge.moves if self._challenge is not None else ()

    def _detail(self, what: str) -> str:
        c = self._challenge
        assert c is not None
        s = c.status
        asked = ", ".join(m.value for m in c.moves)
        flat = f"; {s.flat_frames} turned frames not 3-D enough" if s.flat_frames else ""
        if c.turned_scores:
            flat += f"; 3-D score of the turned frames up to {max(c.turned_scores):.1f}"
            flat += f" (counts from {self.rules.combination.threshold:.1f})"
        measured = [e.surround for e in c.turned if e.surround is not None]
        blind = sum(1 for v in measured if not np.isfinite(v))
        if blind:
            # the strongest cue had nothing to measure (a plain wall, the band out of
            # view): staff can tell a site problem from a person's
            flat += f"; room around the face unmeasurable on {blind} of {len(measured)} frames"
        text = (
            f"{what}; asked {asked}; done {s.done}/{s.total} in {s.elapsed:.1f} s; "
            f"max parallax {s.max_parallax:.2f}, max motion {s.max_motion:.2f}{flat}"
        )
        text += self._passive.note()
        if self._failed:  # the tries before this one, in order
            earlier = " | ".join(f"try {i}: {d}" for i, d in enumerate(self._failed, start=1))
            text = f"try {self._try} of {self.tries}: {text} | {earlier}"
        return text


class PassiveLiveness:
    """Passive cues only, no prompt: not live when a picture's edges frame the face
    (:class:`BorderWatch`), live otherwise once ``PASSIVE_FRAMES`` frames were seen.

    The 3-D motion test is not used without a prompt: measured on the genuine clips, a
    live person who is not asked to move shows no head turn in 75 % of 6-second windows
    (``SpontaneousMotion`` in ``tools/liveness/evaluate.py``). So this mode stops the
    pictures whose edges are in view, not a picture held so close that they are not:
    use ``active`` where that matters."""

    def __init__(self, settings: LivenessSettings, passive: PassiveScore | None = None) -> None:
        self.settings = settings
        self._frames = 0
        self._border = BorderWatch(settings.border_check)
        self._passive = PassiveWatch(
            passive if settings.passive_model else None, settings.passive_fake_below
        )

    def observe(self, frame: Timed, face: FaceResult) -> None:
        border = frame_border(self.settings.border_check, frame, face)
        self._passive.add(frame.rgb, face.face.box, frame.time)
        self.observe_points(frame.time, face.face.landmarks, face.embedding, border)

    def observe_points(
        self,
        time: float,
        points: Points,
        embedding: FloatArray | None = None,
        border: Border | None = None,
    ) -> None:
        self._border.add(border)
        self._frames += 1

    def assess(self) -> LivenessVerdict:
        if self._border.spoof:
            return self._border.verdict()
        if self._passive.spoof:
            return self._passive.verdict()
        if self._frames < PASSIVE_FRAMES or not self._passive.decided:
            return LivenessVerdict(False, pending=True)
        clear = self._border.seen - self._border.framed
        return LivenessVerdict(
            True,
            detail=f"no picture's frame around the face on {clear} of {self._border.seen}"
            + self._passive.note(),
        )

    def abandon(self) -> LivenessVerdict | None:
        """Nothing is asked in this mode: a face that leaves before enough frames were
        seen just ends the attempt (None)."""
        return None

    def reset(self) -> None:
        self._frames = 0
        self._border.reset()
        self._passive.reset()


#: The security levels at which one clear turn may end the check (the others always ask
#: for ``count`` moves). Measured (docs/measurements/liveness.md): one turn counted at the
#: 3-D threshold let 4 of 386 made attacks in, one clear turn 1 of 4,800 (a phone), one
#: clear turn with a confidently real passive score 0 of 3,600; only at Normal.
ONE_CLEAR_TURN_LEVELS = frozenset({"normal"})


def liveness_level(vision: VisionSettings) -> str:
    """The security level the liveness check follows: the configured one, or ``custom``
    for an explicit threshold (a choice of one's own, which asks every move)."""
    return "custom" if vision.threshold is not None else vision.level


def one_clear_turn(settings: LivenessSettings, level: str) -> bool:
    """Whether one clear turn may be enough at a security level (``normal``, ``secure``,
    ``most-secure``, ``custom``): where ``one_clear_turn`` is on (the default), at the
    levels of :data:`ONE_CLEAR_TURN_LEVELS`, with ``clear_margin`` above 0, the border cue
    and the passive model on; the check then also asks the passive model's score to be
    confidently real, at the first try (:meth:`ActiveLiveness._clear_allowed`), or it
    asks the second turn."""
    return (
        settings.one_clear_turn
        and level in ONE_CLEAR_TURN_LEVELS
        and settings.clear_margin > 0
        and settings.border_check
        and settings.passive_model
    )


def tries_in_force(settings: LivenessSettings, passive: bool) -> int:
    """The challenges one attempt may answer: ``tries``, but a second one only with a cue
    that tells a replayed recording from a person on (the border cue, or the passive
    model: ``passive``). Measured: a screen replaying the person's real turns answers two
    turns with two tries in 5 of 20 replays by the challenge alone (with one try, in none
    of 29); both cues deny it."""
    return settings.tries if settings.border_check or passive else 1


def make_liveness(
    settings: LivenessSettings,
    rng: random.Random | None = None,
    *,
    identity_threshold: float | None = None,
    level: str = "normal",
    passive: PassiveScore | None = None,
) -> ActiveLiveness | PassiveLiveness | NoLiveness:
    """The check for the configured mode (``identity_threshold``: the embedding network's
    distance under which two frames of one attempt show the same face, for keeping the
    identity across the challenge; ``level``: the recognition's security level)."""
    if settings.mode == "active":
        return ActiveLiveness(
            settings, rng, identity_threshold=identity_threshold, level=level, passive=passive
        )
    if settings.mode == "passive":
        return PassiveLiveness(settings, passive)
    return NoLiveness()
