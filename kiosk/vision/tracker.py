"""Detection for a camera stream: the whole frame now and then, the region around the
face being followed in between.

MTCNN's cost grows with the area it searches. A person at the kiosk moves little between
two frames, so after a full search the next frames are searched only in a square around
the main face's last box (``margin`` times the face's size on each side); the whole frame
is searched again every ``full_every`` seconds, and at once when the face is not found in
its region. A person who walks in is therefore found within ``full_every`` seconds of
being in view, whatever the face being followed does.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from kiosk.domain.faces import Box, DetectedFace, ImageArray


class Detector(Protocol):
    def detect(self, rgb: ImageArray) -> list[DetectedFace]: ...


@dataclass(frozen=True)
class TrackStats:
    """How the frames were searched (for the benchmark and the status line)."""

    full: int
    region: int
    lost: int


def _shift(face: DetectedFace, dx: float, dy: float) -> DetectedFace:
    b = face.box
    return DetectedFace(
        Box(b.x1 + dx, b.y1 + dy, b.x2 + dx, b.y2 + dy),
        face.probability,
        (np.asarray(face.landmarks) + np.array([dx, dy], np.float32)).astype(np.float32),
    )


class FaceTracker:
    """A stateful ``detect``: one tracker per camera stream (not thread-safe)."""

    def __init__(
        self,
        detector: Detector,
        *,
        full_every: float = 0.25,
        margin: float = 0.9,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.detector = detector
        self.full_every = full_every
        self.margin = margin
        self.clock = clock
        self._last: Box | None = None
        self._last_full = -1e9
        self._full = self._region = self._lost = 0

    @property
    def stats(self) -> TrackStats:
        return TrackStats(self._full, self._region, self._lost)

    def reset(self) -> None:
        self._last = None

    def detect(self, rgb: ImageArray) -> list[DetectedFace]:
        now = self.clock()
        h, w = rgb.shape[:2]
        if self._last is None or now - self._last_full >= self.full_every:
            faces = self._full_search(rgb, now)
        else:
            faces = self._region_search(rgb, self._last, w, h)
            if not faces:
                self._lost += 1
                faces = self._full_search(rgb, now)
        self._last = max(faces, key=lambda f: f.box.area).box if faces else None
        return faces

    def _full_search(self, rgb: ImageArray, now: float) -> list[DetectedFace]:
        self._full += 1
        self._last_full = now
        return self.detector.detect(rgb)

    def _region_search(self, rgb: ImageArray, box: Box, w: int, h: int) -> list[DetectedFace]:
        self._region += 1
        side = max(box.width, box.height) * (1.0 + 2.0 * self.margin)
        cx, cy = box.center
        x1, y1 = int(max(0.0, cx - side / 2)), int(max(0.0, cy - side / 2))
        x2, y2 = int(min(float(w), cx + side / 2)), int(min(float(h), cy + side / 2))
        smallest = max(24, int(getattr(self.detector, "min_face_size", 24)))
        if x2 - x1 < smallest or y2 - y1 < smallest:
            return []  # a region too small to hold a face the detector looks for
        crop = np.ascontiguousarray(rgb[y1:y2, x1:x2])
        return [_shift(f, float(x1), float(y1)) for f in self.detector.detect(crop)]
