"""A denser geometric cue than the five landmarks: many points tracked on the face.

Points with texture on the reference face (corners of eyebrows, eyes, nostrils, lips,
skin pores, hair at the temples) are followed to the turned frame with pyramidal
Lucas-Kanade optical flow, forwards and back (a point that does not come back to where
it started was lost). One homography is fitted to them (least median of squares): on a
flat picture, a print, a phone or a tablet, every point moves by it and what is left is
tracking noise. On a head turning about its neck, the points nearer the camera (the nose,
the middle of the face) move further the asked way than the plane through the rest, the
cheeks on the far side less: the *relief*.

:func:`relief` returns the middle-of-the-face points' residual along the face's own
horizontal axis, in the asked direction, minus that of the points at the sides, in
eye-to-mouth distances; ``nan`` where too few points could be followed. It needs nothing
around the head: a plain wall does not matter. Its known weakness is the one every
geometric cue shares: a print bent about a vertical axis is three-dimensional too.

Measured against the five-point cues by ``python -m tools.liveness.fit`` (the ``relief``
column of the collected rows): not adopted (docs/measurements/liveness.md, "The tracked
points' relief").
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from kiosk.liveness.geometry import NOSE, Points, face_axes

GreyArray = npt.NDArray[np.uint8]

#: the face is scaled so that its eyes-to-mouth distance is this many pixels
WORK_SIZE = 48.0
#: points followed from the reference face
MAX_POINTS = 160
#: a point that does not come back within this many pixels (at the work size) is lost
MAX_BACK_ERROR = 0.8
#: fewer followed points than this: no measurement
MIN_POINTS = 16
_LK = {
    "winSize": (15, 15),
    "maxLevel": 3,
    "criteria": (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 0.01),
}


def relief(
    ref: GreyArray, ref_points: Points, cur: GreyArray, cur_points: Points, sign: float
) -> float:
    """The face's relief as the head turned from ``ref`` to ``cur`` (see the module
    docstring); ``sign`` +1 when the asked turn moves the nose towards the image's right
    (the person's own left), -1 the other way."""
    ref_points = np.asarray(ref_points, np.float64)
    cur_points = np.asarray(cur_points, np.float64)
    if not (np.all(np.isfinite(ref_points)) and np.all(np.isfinite(cur_points))):
        return float("nan")
    axis_x, axis_y, size = face_axes(ref_points)
    s = WORK_SIZE / size
    a = _scaled(ref, s)
    b = _scaled(cur, s)
    centre = ref_points[NOSE] * s
    h, w = a.shape
    mask = np.zeros((h, w), np.uint8)
    # the face from the eyebrows to the chin, cheek to cheek (not the hair or the ears)
    half_w, half_h = int(1.15 * WORK_SIZE), int(1.35 * WORK_SIZE)
    angle = float(np.degrees(np.arctan2(axis_x[1], axis_x[0])))
    cv2.ellipse(
        mask,
        (int(centre[0]), int(centre[1] - 0.15 * WORK_SIZE)),
        (half_w, half_h),
        angle,
        0,
        360,
        255,
        -1,
    )
    if mask.sum() == 0:
        return float("nan")
    found = cv2.goodFeaturesToTrack(a, MAX_POINTS, 0.005, 3.0, mask=mask, blockSize=5)
    if found is None or len(found) < MIN_POINTS:
        return float("nan")
    p0 = np.asarray(found, np.float32).reshape(-1, 1, 2)
    p1, ok1, _ = cv2.calcOpticalFlowPyrLK(a, b, p0, None, **_LK)  # type: ignore[call-overload]
    if p1 is None:
        return float("nan")
    back, ok2, _ = cv2.calcOpticalFlowPyrLK(b, a, p1, None, **_LK)  # type: ignore[call-overload]
    if back is None:
        return float("nan")
    error = np.linalg.norm((back - p0).reshape(-1, 2), axis=1)
    keep = (ok1.ravel() == 1) & (ok2.ravel() == 1) & (error < MAX_BACK_ERROR)
    if int(keep.sum()) < MIN_POINTS:
        return float("nan")
    src = p0.reshape(-1, 2)[keep].astype(np.float64)
    dst = p1.reshape(-1, 2)[keep].astype(np.float64)
    homography, _ = cv2.findHomography(src, dst, cv2.LMEDS)
    if homography is None or not np.all(np.isfinite(homography)):
        return float("nan")
    mapped = cv2.perspectiveTransform(src.reshape(-1, 1, 2), homography).reshape(-1, 2)
    residual = (dst - mapped) @ axis_x * sign / WORK_SIZE
    # where each point sits on the face: across (eye-to-mouth distances from the nose)
    across = (src - centre) @ axis_x / WORK_SIZE
    middle = np.abs(across) < 0.35
    sides = np.abs(across) > 0.6
    if middle.sum() < 4 or sides.sum() < 4:
        return float("nan")
    return float(np.median(residual[middle]) - np.median(residual[sides]))


def _scaled(img: GreyArray, s: float) -> npt.NDArray[np.uint8]:
    interpolation = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
    return np.asarray(cv2.resize(img, None, fx=s, fy=s, interpolation=interpolation), np.uint8)
