"""The 3-D motion test on five facial landmarks: numpy in, numpy out.

The landmarks are MTCNN's five points in image pixels, in its order: the eye on the left
of the image, the eye on the right, the nose tip, the mouth corner on the left, the one
on the right.

A flat picture (a print, a phone or tablet screen), however it is held, tilted or moved,
is one plane in front of the camera: between any two frames its points are related by a
single plane-to-plane mapping, a homography. Four points fix a homography, so the eyes and
the mouth corners of a reference frame, mapped onto those of a later frame, say exactly
where the nose of a flat picture has to be. A live head is not flat: the nose tip stands
some 2 cm in front of the eyes and mouth, so when the head turns, the nose moves sideways
relative to that prediction (parallax). :func:`parallax` is that offset, in the face's own
axes, in units of the eye-to-mouth distance (which, unlike the distance between the eyes,
does not shrink when the head turns). A flat picture gives landmark noise; a live head
turned by some 20 degrees gives 0.1 to 0.2.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import numpy.typing as npt

from kiosk.domain.faces import Box

Points = npt.NDArray[np.floating]  # (5, 2)

LEFT_EYE, RIGHT_EYE, NOSE, MOUTH_LEFT, MOUTH_RIGHT = range(5)
#: the four points of the (nearly) flat part of the face that fix the homography
PLANE = (LEFT_EYE, RIGHT_EYE, MOUTH_LEFT, MOUTH_RIGHT)


def face_axes(points: Points) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], float]:
    """The face's own axes in the image and its size.

    Returns the unit vector from the left eye to the right eye (image x, turned with the
    face), the unit vector from the eyes down to the mouth (perpendicular to it), and the
    eye-to-mouth distance in pixels."""
    p = np.asarray(points, dtype=np.float64)
    x = p[RIGHT_EYE] - p[LEFT_EYE]
    x = x / max(float(np.linalg.norm(x)), 1e-9)
    y = np.array([-x[1], x[0]])
    eyes = (p[LEFT_EYE] + p[RIGHT_EYE]) / 2
    mouth = (p[MOUTH_LEFT] + p[MOUTH_RIGHT]) / 2
    size = float(np.linalg.norm(mouth - eyes))
    return x, y, max(size, 1e-9)


def plane_homography(ref: Points, cur: Points) -> npt.NDArray[np.float64] | None:
    """The homography that maps the reference's eyes and mouth corners onto the current
    frame's (``None`` when the four points are degenerate)."""
    src = np.asarray(ref, dtype=np.float32)[list(PLANE)]
    dst = np.asarray(cur, dtype=np.float32)[list(PLANE)]
    try:
        h = cv2.getPerspectiveTransform(src, dst)
    except cv2.error:
        return None
    if not np.all(np.isfinite(h)) or abs(float(np.linalg.det(h))) < 1e-12:
        return None
    return np.asarray(h, dtype=np.float64)


def parallax(ref: Points, cur: Points) -> tuple[float, float]:
    """How far the nose has moved off the plane of the eyes and mouth since ``ref``.

    Returns (sideways, downwards) in the current face's axes, in eye-to-mouth distances.
    Sideways is positive when the nose moved towards the right of the image, which is a
    head turning to the person's own left when the camera image is not mirrored.
    ``(nan, nan)`` when the points are degenerate."""
    h = plane_homography(ref, cur)
    if h is None:
        return (float("nan"), float("nan"))
    nose = np.asarray(ref, dtype=np.float64)[NOSE]
    q = h @ np.array([nose[0], nose[1], 1.0])
    if abs(q[2]) < 1e-9:
        return (float("nan"), float("nan"))
    predicted = q[:2] / q[2]
    x, y, size = face_axes(cur)
    offset = np.asarray(cur, dtype=np.float64)[NOSE] - predicted
    return (float(offset @ x) / size, float(offset @ y) / size)


def motion(ref: Points, cur: Points) -> float:
    """How much the face moved as a whole between two frames, in eye-to-mouth distances:
    the largest displacement of the four plane points after removing the translation of
    their centre, plus that translation. Large for a tilted, turned, moved or rescaled
    picture; the 3-D test only means something when there was motion."""
    a = np.asarray(ref, dtype=np.float64)[list(PLANE)]
    b = np.asarray(cur, dtype=np.float64)[list(PLANE)]
    _, _, size = face_axes(ref)
    shift = b.mean(axis=0) - a.mean(axis=0)
    shape = (b - b.mean(axis=0)) - (a - a.mean(axis=0))
    return float(np.linalg.norm(shape, axis=1).max() + np.linalg.norm(shift)) / size


def frontal_offset(points: Points) -> float:
    """The nose's sideways offset from the middle of the eyes and mouth, in eye-to-mouth
    distances: a rough head yaw for a single frame (0 for a frontal face; person-specific
    and fooled by a photo of a turned head, so never a liveness cue on its own)."""
    p = np.asarray(points, dtype=np.float64)
    x, _, size = face_axes(p)
    centre = p[list(PLANE)].mean(axis=0)
    return float((p[NOSE] - centre) @ x) / size


def tilt(ref: Points, cur: Points) -> float:
    """How much the face plane has tilted since ``ref``, free of scale and rotation in
    the image: 1 - (smaller / larger singular value) of the plane homography's local
    linear part at the face centre (1 - cos of the tilt angle for a flat picture)."""
    h = plane_homography(ref, cur)
    if h is None:
        return float("nan")
    c = np.asarray(ref, dtype=np.float64)[list(PLANE)].mean(axis=0)
    q = h @ np.array([c[0], c[1], 1.0])
    w = q[2]
    if abs(w) < 1e-9:
        return float("nan")
    # Jacobian of (h0.x / h2.x, h1.x / h2.x) at c
    jac = (h[:2, :2] * w - np.outer(q[:2], h[2, :2])) / (w * w)
    s = np.linalg.svd(jac, compute_uv=False)
    return float(1.0 - s[1] / max(s[0], 1e-12))


#: the depth of a generic head's five points, in eye-to-mouth distances, towards the
#: camera negative: eyes 0, nose tip 2.5 cm and mouth corners 0.6 cm in front of the eyes
#: for an eye-to-mouth distance of 7 cm
HEAD_DEPTH = np.array([0.0, 0.0, -0.36, -0.09, -0.09])
#: residuals below this (in eye-to-mouth distances) are landmark noise
_NOISE = 0.01


def head_model_gain(ref: Points, cur: Points) -> float:
    """How much better a rigid 3-D head explains ``cur`` than one plane: the log of the
    plane's residual over the head's.

    The head is the reference frame's own five points in the face's axes, given a generic
    head's depths (:data:`HEAD_DEPTH`), seen by a scaled orthographic camera in the pose
    that fits ``cur`` best; the plane is the best homography from the reference's five
    points to ``cur``'s. A turning head fits the head and not the plane (above 0); a
    picture, however tilted, fits the plane and not the head (below 0); a face that did
    not turn fits both (about 0). ``nan`` for degenerate points."""
    a = np.asarray(ref, dtype=np.float64)
    b = np.asarray(cur, dtype=np.float64)
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        return float("nan")
    x, y, size = face_axes(a)
    centred = a - a.mean(axis=0)
    model = np.column_stack([centred @ x / size, centred @ y / size, HEAD_DEPTH])
    model -= model.mean(axis=0)
    target = b - b.mean(axis=0)
    _, _, cur_size = face_axes(b)
    # the best affine camera, then the nearest scaled rotation (rows orthonormal, one scale)
    affine, *_ = np.linalg.lstsq(model, target, rcond=None)  # (3, 2): target = model @ affine
    u, s, vt = np.linalg.svd(affine.T, full_matrices=False)  # affine.T = u diag(s) vt
    rotation = u @ vt
    scale = float(s.mean())
    head_res = target - scale * model @ rotation.T
    head = float(np.sqrt((head_res**2).sum(axis=1).mean())) / cur_size
    h, _ = cv2.findHomography(a.astype(np.float32), b.astype(np.float32), 0)
    if h is None or not np.all(np.isfinite(h)):
        return float("nan")
    q = np.column_stack([a, np.ones(len(a))]) @ h.T
    if np.any(np.abs(q[:, 2]) < 1e-9):
        return float("nan")
    plane_res = b - q[:, :2] / q[:, 2:3]
    plane = float(np.sqrt((plane_res**2).sum(axis=1).mean())) / cur_size
    return math.log((plane + _NOISE) / (head + _NOISE))


def box_offset(points: Points, box: Box) -> float:
    """The nose's sideways offset from the middle of the face's box, in box widths, along
    the face's own horizontal axis. The detector's box follows the face's outline (the
    cheeks, the jaw, the ears): when a head turns, its nose moves towards one side of it;
    a picture's box shrinks around a nose that stays in the middle."""
    p = np.asarray(points, dtype=np.float64)
    x, _, _ = face_axes(p)
    centre = np.array(box.center, dtype=np.float64)
    return float((p[NOSE] - centre) @ x) / max(float(box.width), 1e-9)
