"""The kiosk's decision policy: which face is decided on, whether the face of this frame is
the one of the last (a track), when enough of its frames are in (the pace), and what they
add up to (the identity of the attempt).

Pure logic over plain values (times in seconds from any monotonic clock, embeddings as
numpy arrays); no Qt, torch or cv2, so every rule can be tested with made-up frames and
measured offline (``python -m tools.decision_eval``) by the same code the kiosk runs.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from kiosk.config import FUSION_METHODS  # how frames add up: fused | mean | vote
from kiosk.domain.faces import Box, FloatArray

#: The region of the frame a face must be in to be decided on, as fractions of the
#: width and height: (left, top, right, bottom).
Region = tuple[float, float, float, float]

FULL_FRAME: Region = (0.0, 0.0, 1.0, 1.0)


#: A face in the next frame is the same face when its centre moved by at most this many
#: face widths and its size changed by at most this factor (people walk up; at one
#: recognition a second a head moves a good part of its width).
TRACK_MAX_SHIFT = 1.0
TRACK_MAX_SCALE = 1.5
#: The next recognition is expected within this many recognition periods (the period
#: wobbles with the load; the promise of a decision in time must hold anyway).
PERIOD_MARGIN = 1.2
#: No frame weighs less than this, however poor its quality: it still counts a little.
MIN_WEIGHT = 0.05


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


def same_face(previous: Box, current: Box) -> bool:
    """Box continuity: is ``current`` (this frame) the face of ``previous`` (an earlier
    frame)? Another person stepping in front, or the decided-on face switching to someone
    else, breaks it."""
    size_prev = math.sqrt(max(previous.area, 1e-6))
    size_cur = math.sqrt(max(current.area, 1e-6))
    if not 1.0 / TRACK_MAX_SCALE <= size_cur / size_prev <= TRACK_MAX_SCALE:
        return False
    (px, py), (cx, cy) = previous.center, current.center
    width = max(previous.width, current.width, 1e-6)
    return math.hypot(cx - px, cy - py) <= TRACK_MAX_SHIFT * width


def same_person(recent: Sequence[FloatArray], embedding: FloatArray, distance: float) -> bool:
    """Embedding continuity: is the face of ``embedding`` (this frame) the face of the
    ``recent`` frames of an attempt? It is when it lies within ``distance`` of the nearest
    of them (the network's distance for two frames of one person: seconds apart, the
    head turning; each frame is compared with the last few, not with the first, so that
    a head turning step by step is followed). ``True`` when there is nothing to compare."""
    if not recent:
        return True
    e = np.asarray(embedding, np.float64)
    nearest = min(float(np.linalg.norm(np.asarray(r, np.float64) - e)) for r in recent)
    return nearest <= distance


@dataclass(frozen=True)
class Recognition:
    """One recognised frame of the face being decided on.

    ``label`` is whom this frame alone names (``None``: unknown or ambiguous) at
    ``distance``; ``quality`` (0..1) weighs the frame in the fused embedding."""

    time: float
    embedding: FloatArray
    quality: float
    label: int | None
    distance: float


@dataclass(frozen=True)
class Identity:
    """What the frames of one attempt add up to: a person (``None``: nobody, or not
    clearly one person) at ``distance`` (the fused embedding's, or the mean of the
    agreeing frames' for a vote), from ``frames`` frames."""

    person_id: int | None
    distance: float
    frames: int


#: an embedding -> (the person it matches or ``None``, the distance); the gallery's
#: search with the configured threshold, or a 1:1 check against one person
Search = Callable[[FloatArray], tuple[int | None, float]]


def fuse(recognitions: Sequence[Recognition], *, weighted: bool = True) -> FloatArray:
    """The mean of the frames' embeddings, each weighed by its quality when ``weighted``,
    scaled to the (weighted) mean length of its parts: averaging shortens a vector, and
    the gallery's distances are measured between vectors of the network's own length."""
    if not recognitions:
        raise ValueError("no frame to fuse")
    emb = np.stack([np.asarray(r.embedding, np.float64) for r in recognitions])
    if weighted:
        w = np.array([max(MIN_WEIGHT, float(r.quality)) for r in recognitions])
    else:
        w = np.ones(len(recognitions))
    w = w / w.sum()
    mean = (w[:, None] * emb).sum(axis=0)
    length = float(np.linalg.norm(mean))
    target = float((w * np.linalg.norm(emb, axis=1)).sum())
    if length > 0.0:
        mean *= target / length
    return mean.astype(np.float32)


def vote(recognitions: Sequence[Recognition]) -> Identity:
    """The person more than half of the frames name on their own; else nobody."""
    n = len(recognitions)
    named = Counter(r.label for r in recognitions if r.label is not None)
    if named:
        label, count = named.most_common(1)[0]
        if 2 * count > n:
            agreeing = [r.distance for r in recognitions if r.label == label]
            return Identity(label, float(np.mean(agreeing)), n)
    return Identity(None, float(np.mean([r.distance for r in recognitions])), n)


def identify(recognitions: Sequence[Recognition], method: str, search: Search) -> Identity:
    """The identity of one attempt from its frames, by ``method``: ``fused`` searches the
    quality-weighted mean of their embeddings, ``mean`` the plain mean, ``vote`` takes
    the person that more than half of the frames name on their own."""
    if method == "vote":
        return vote(recognitions)
    if method not in FUSION_METHODS:
        raise ValueError(f"unknown method {method!r}")
    label, distance = search(fuse(recognitions, weighted=method == "fused"))
    return Identity(label, distance, len(recognitions))


@dataclass(frozen=True)
class DecisionPace:
    """When the frames of an attempt are enough: a decision within ``seconds`` of the
    face's first frame whenever the machine's recognition rate allows, on as many frames
    as fit in that time, at least ``min_frames`` and at most ``max_frames``.

    ``elapsed`` is the time from the attempt's first frame to the current one, ``period``
    the time one recognition takes lately (a frame is decided on about one period after
    it was taken, and the next one a period later)."""

    seconds: float = 1.5
    min_frames: int = 2
    max_frames: int = 5

    def __post_init__(self) -> None:
        if not 1 <= self.min_frames <= self.max_frames:
            raise ValueError("min_frames must be at least 1 and at most max_frames")
        if self.seconds <= 0:
            raise ValueError("the decision time must be positive")

    def ready(self, frames: int, elapsed: float, period: float) -> bool:
        if frames >= self.max_frames:
            return True
        if frames < self.min_frames:
            return False
        # waiting for one more frame would bring the decision past the promised time
        return elapsed + 2.0 * PERIOD_MARGIN * period > self.seconds

    def slow(self, period: float) -> bool:
        """At this period even ``min_frames`` do not fit in ``seconds``: the person has
        to hold still for longer, and staff should know."""
        return self.min_frames * PERIOD_MARGIN * period > self.seconds

    @property
    def rate_needed(self) -> float:
        """The recognition rate (per second) below which :meth:`slow` is true."""
        return self.min_frames * PERIOD_MARGIN / self.seconds


class RateMeter:
    """The recognition period lately: the median time between the ends of two
    recognitions of a face (the slow ones, with alignment and embedding), or of any two
    frames as long as no face has been recognised twice in a row."""

    def __init__(self, window: int = 8) -> None:
        self._faces: deque[float] = deque(maxlen=window)
        self._frames: deque[float] = deque(maxlen=window)
        self._last: tuple[float, bool] | None = None  # (end time, a face was recognised)

    def add(self, done: float, recognised: bool) -> None:
        """A frame was handled at ``done``; ``recognised``: a face was embedded in it."""
        last, self._last = self._last, (done, recognised)
        if last is None or done <= last[0]:
            return
        if recognised and last[1]:
            self._faces.append(done - last[0])
        else:
            self._frames.append(done - last[0])

    @property
    def period(self) -> float | None:
        """Seconds one recognition takes (``None`` before two frames)."""
        periods = self._faces or self._frames
        return statistics.median(periods) if periods else None

    @property
    def samples(self) -> int:
        return len(self._faces or self._frames)
