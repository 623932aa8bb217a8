"""Passive cues from one frame: is the face framed by the straight edges of a picture?

A print, a phone or a tablet held up to the camera puts straight edges around the face
(the paper's edge, the screen's bezel) at a distance of about one face width or two, and
runs along the face's own axes, since the picture is held upright. A live person has a
room behind them, whose straight edges (door frames, shelves) are usually further away
and do not come in pairs around the face.

:func:`border_sides` finds the sides of such a frame (left, right, above, below the
face); the measurement (``python -m tools.liveness.evaluate``) decides how much of it is
trusted (see :data:`BORDER_SIDES_NEEDED`). numpy and OpenCV only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from kiosk.domain.faces import Box, ImageArray
from kiosk.liveness.geometry import LEFT_EYE, RIGHT_EYE, Points

#: sides of a frame around the face that make a frame "found"; measured on the real
#: clips and the made attacks (see the module docstring of tools.liveness.evaluate)
BORDER_SIDES_NEEDED = 3

#: how far from the face a picture's edge is looked for, in face widths from the face's
#: centre: sideways, above and below (a phone held up shows the face near its top)
REACH_SIDE, REACH_UP, REACH_DOWN = 2.2, 2.0, 3.0
#: an edge counts when it is at least this long, in face widths, and within this many
#: degrees of the face's own horizontal or vertical
MIN_LENGTH = 0.6
MAX_ANGLE = 12.0


@dataclass(frozen=True)
class Border:
    """What :func:`border_sides` found: the sides of a frame around the face (a subset of
    ``left``, ``right``, ``top``, ``bottom``, in the image) and the segments, in image
    pixels, that make them."""

    sides: frozenset[str]
    segments: tuple[tuple[float, float, float, float], ...] = ()

    @property
    def count(self) -> int:
        return len(self.sides)


def _face_frame(box: Box, points: Points | None) -> tuple[npt.NDArray[np.float64], float, float]:
    """The face's centre, its roll (radians, from the eyes) and its width in pixels."""
    centre = np.array(box.center, dtype=np.float64)
    roll = 0.0
    if points is not None and np.all(np.isfinite(points)):
        p = np.asarray(points, dtype=np.float64)
        d = p[RIGHT_EYE] - p[LEFT_EYE]
        roll = math.atan2(float(d[1]), float(d[0]))
    return centre, roll, max(float(box.width), 1.0)


def border_sides(rgb: ImageArray, box: Box, points: Points | None = None) -> Border:
    """The straight edges framing the face in ``rgb`` (``box``: the face; ``points``: its
    five landmarks, for the face's roll)."""
    h, w = rgb.shape[:2]
    centre, roll, fw = _face_frame(box, points)
    reach = max(REACH_SIDE, REACH_UP, REACH_DOWN) * fw
    x1, y1 = max(int(centre[0] - reach), 0), max(int(centre[1] - reach), 0)
    x2, y2 = min(int(centre[0] + reach), w), min(int(centre[1] + reach), h)
    if x2 - x1 < 16 or y2 - y1 < 16:
        return Border(frozenset())
    grey = cv2.cvtColor(np.ascontiguousarray(rgb[y1:y2, x1:x2]), cv2.COLOR_RGB2GRAY)
    # work at a fixed scale: about 80 px per face width
    scale = min(1.0, 80.0 / fw)
    if scale < 1.0:
        grey = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    grey = cv2.GaussianBlur(grey, (0, 0), 1.0)
    median = float(np.median(grey))
    edges = cv2.Canny(grey, max(10.0, 0.5 * median), max(30.0, 1.2 * median))
    fws = fw * scale
    lines = cv2.HoughLinesP(
        edges,
        1,
        math.pi / 180,
        threshold=max(15, int(0.3 * fws)),
        minLineLength=MIN_LENGTH * fws,
        maxLineGap=0.06 * fws,
    )
    if lines is None:
        return Border(frozenset())
    # to the face's own axes, in face widths from its centre
    c, s = math.cos(roll), math.sin(roll)
    to_face = np.array([[c, s], [-s, c]])
    sides: set[str] = set()
    kept: list[tuple[float, float, float, float]] = []
    half_w, half_h = 0.5, 0.6  # the box's half width and (about) half height
    for a, b, cc, d in np.asarray(lines, np.float64).reshape(-1, 4):
        p = np.array([[a, b], [cc, d]]) / scale + np.array([x1, y1])
        q = (p - centre) @ to_face.T / fw
        du, dv = q[1] - q[0]
        angle = math.degrees(math.atan2(abs(dv), abs(du)))  # 0: horizontal, 90: vertical
        side = None
        if angle >= 90 - MAX_ANGLE:  # vertical: beside the face, along its height
            u = float(q[:, 0].mean())
            lo, hi = float(q[:, 1].min()), float(q[:, 1].max())
            beside = lo < half_h and hi > -half_h
            if beside and half_w + 0.1 < abs(u) < REACH_SIDE:
                side = "left" if u < 0 else "right"
        elif angle <= MAX_ANGLE:  # horizontal: above or below, across the face
            v = float(q[:, 1].mean())
            lo, hi = float(q[:, 0].min()), float(q[:, 0].max())
            across = lo < half_w and hi > -half_w
            if across and -REACH_UP < v < -(half_h + 0.15):
                side = "top"
            elif across and half_h + 0.3 < v < REACH_DOWN:
                side = "bottom"
        if side is not None:
            sides.add(side)
            kept.append(tuple(float(v) for v in p.ravel()))  # type: ignore[arg-type]
    return Border(frozenset(sides), tuple(kept))
