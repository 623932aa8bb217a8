"""Detection for a camera stream: the whole frame now and then, the region around the
face being followed in between.

MTCNN's cost grows with the area it searches. A person at the kiosk moves little between
two frames, so after a full search the next frames first ask MTCNN's last stage alone
(O-Net, on the last box squared and cut to 48x48: the box and the five points in this
frame) and, when that does not find the face where it was, search a square around the
main face's last box (``margin`` times the face's size on each side, scaled so the face
is about ``region_face`` pixels); the whole frame is searched again every ``full_every``
seconds, and at once when the face is not found in its region. A person who walks in is
therefore found within ``full_every`` seconds of being in view, whatever the face being
followed does.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np

from kiosk.domain.faces import Box, DetectedFace, ImageArray


class Detector(Protocol):
    min_face_size: int

    def detect(self, rgb: ImageArray, min_face_size: int | None = None) -> list[DetectedFace]: ...

    def refine(self, rgb: ImageArray, box: Box) -> DetectedFace | None: ...


@dataclass(frozen=True)
class TrackStats:
    """How the frames were searched (for the benchmark and the status line)."""

    full: int
    region: int
    lost: int
    refined: int = 0  # region frames answered by MTCNN's last stage alone


def _overlap(a: Box, b: Box) -> float:
    inter = Box(max(a.x1, b.x1), max(a.y1, b.y1), min(a.x2, b.x2), min(a.y2, b.y2)).area
    union = a.area + b.area - inter
    return inter / union if union > 0 else 0.0


def _scale_shift(face: DetectedFace, k: float, dx: float, dy: float) -> DetectedFace:
    """A face found in a region (scaled by 1/k) in the frame's coordinates."""
    b = face.box
    return DetectedFace(
        Box(b.x1 * k + dx, b.y1 * k + dy, b.x2 * k + dx, b.y2 * k + dy),
        face.probability,
        (np.asarray(face.landmarks) * k + np.array([dx, dy], np.float32)).astype(np.float32),
    )


class FaceTracker:
    """A stateful ``detect``: one tracker per camera stream (not thread-safe)."""

    def __init__(
        self,
        detector: Detector,
        *,
        full_every: float = 0.25,
        margin: float = 0.5,
        region_face: int = 100,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.detector = detector
        self.full_every = full_every
        self.margin = margin
        self.region_face = region_face
        self.clock = clock
        self._last: Box | None = None
        self._last_full = -1e9
        self._full = self._region = self._lost = self._refined = 0

    @property
    def stats(self) -> TrackStats:
        return TrackStats(self._full, self._region, self._lost, self._refined)

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
        # MTCNN's last stage alone on the last box: enough while the face moves less than
        # about a tenth of its size between frames
        found = self.detector.refine(rgb, box)
        if found is not None and _overlap(found.box, box) >= 0.5:
            self._refined += 1
            return [found]
        side = max(box.width, box.height) * (1.0 + 2.0 * self.margin)
        cx, cy = box.center
        x1, y1 = int(max(0.0, cx - side / 2)), int(max(0.0, cy - side / 2))
        x2, y2 = int(min(float(w), cx + side / 2)), int(min(float(h), cy + side / 2))
        smallest = max(24, int(self.detector.min_face_size))
        if x2 - x1 < smallest or y2 - y1 < smallest:
            return []  # a region too small to hold a face the detector looks for
        crop: np.ndarray = np.ascontiguousarray(rgb[y1:y2, x1:x2])
        size = max(box.width, box.height)
        scale = min(1.0, self.region_face / size) if size > 0 else 1.0
        if scale < 1.0:
            # the face is searched at about region_face pixels: MTCNN's last stage sees a
            # 48-pixel face whatever its size, so its points are as precise, for half the
            # work on a face that fills the frame
            crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        faces = self.detector.detect(
            np.ascontiguousarray(crop), max(12, int(round(0.5 * size * scale)))
        )
        return [_scale_shift(f, 1.0 / scale, float(x1), float(y1)) for f in faces]
