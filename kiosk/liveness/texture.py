"""The texture of the face, not just its landmarks, tested for a plane: numpy in, numpy out.

The five landmarks come from a network that has learnt where a nose usually is: on a flat
picture tilted far (35 to 50 degrees), it puts the nose where a turned head's would be,
and the landmark test of :mod:`kiosk.liveness.geometry` is fooled (measured: 3 of 1,200
made attacks). The pixels are not fooled: every point of a flat picture (a print, a phone
or a tablet) moves with one homography, so the face region of the reference frame, warped
by the best homography, lines up with the turned frame almost perfectly. A live head does
not: the nose, the cheeks and the far side of the face move differently, and a part of
the face turns out of view.

:func:`plane_fit` finds that best homography with OpenCV's ECC image alignment, started
from guesses made from the landmarks, first on the face's coarse shapes and then on its
fine texture, both with the light taken out (a glare spot moving over a tilted picture,
or a change of exposure, changes the brightness smoothly, not the texture), and returns
the correlation of the fine texture. Measured (``python -m tools.liveness.evaluate``): a
flat picture about 0.85 to 0.97, a bent print less (it is not flat), the genuine clips'
heads 0.4 to 0.78 on the frames that counted their turns; and as a head turns further
its fit falls, while a picture's does not.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from kiosk.liveness.geometry import Points, face_axes, plane_homography

GreyArray = npt.NDArray[np.uint8]

#: the face is scaled so that its eyes-to-mouth distance is this many pixels (speed; the
#: correlation does not need more)
WORK_SIZE = 40.0
#: the part of the reference face that must still be in view for a fit
MIN_IN_VIEW = 0.6
#: the band around the head that :func:`surround_motion` compares reaches this many
#: eye-to-mouth distances from the landmarks' centre
SURROUND_REACH = 4.0
#: below this mean local-contrast value the band has no texture to compare
MIN_SURROUND_TEXTURE = 0.15
_CRITERIA = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 60, 1e-5)


def grey(rgb: npt.NDArray[np.uint8]) -> GreyArray:
    return np.asarray(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), dtype=np.uint8)


def plane_fit(ref: GreyArray, ref_points: Points, cur: GreyArray, cur_points: Points) -> float:
    """The correlation of :func:`fit_plane` (``nan`` when there is none)."""
    return fit_plane(ref, ref_points, cur, cur_points).correlation


@dataclass(frozen=True)
class PlaneFit:
    """The best homography found from the reference frame's face to the current frame's
    (``warp``, 3x3, image pixels to image pixels; ``None`` when none was found) and the
    correlation of the face's fine texture under it (``nan`` without one)."""

    correlation: float
    warp: npt.NDArray[np.float64] | None = None


def fit_plane(ref: GreyArray, ref_points: Points, cur: GreyArray, cur_points: Points) -> PlaneFit:
    """How well one homography maps the reference frame's face onto the current frame:
    the correlation coefficient (-1 to 1) of the face region's fine texture (from the
    eyebrows to below the mouth, cheek to cheek) after the best homography found; ``nan``
    when no alignment converges, the points are degenerate or the face is mostly out of
    view.

    The alignment starts from three guesses made from the landmarks (their homography,
    their best affine map and their best similarity) and the best fit is kept, so that
    one guess misled by drifting landmarks does not make a picture look three-dimensional
    (no fit at all counts as a plane in :mod:`kiosk.liveness.challenge`)."""
    ref_points = np.asarray(ref_points, np.float64)
    cur_points = np.asarray(cur_points, np.float64)
    if not (np.all(np.isfinite(ref_points)) and np.all(np.isfinite(cur_points))):
        return PlaneFit(float("nan"))
    # both faces at the same scale, so that the fine texture is the same band in both
    prepared = _reference(ref, ref_points)
    if prepared is None:
        return PlaneFit(float("nan"))
    s, x1, y1, template_c, template_n = prepared
    s_cur = WORK_SIZE / face_axes(cur_points)[2]
    cur_s = _scaled(cur, s_cur)
    # coarse: the face's shapes without the light (a glare spot, the exposure), for a
    # wide basin of convergence; fine: its texture, for the fit
    image_c = _normalized(cur_s, 2.0, 8.0)
    image_n = _normalized(cur_s)
    to_ref = np.linalg.inv(np.diag([s, s, 1.0]))
    to_cur = np.diag([s_cur, s_cur, 1.0])
    shift = np.array([[1.0, 0.0, x1], [0.0, 1.0, y1], [0.0, 0.0, 1.0]])
    best = PlaneFit(float("nan"))
    for guess in _guesses(ref_points, cur_points):
        warp = to_cur @ guess @ to_ref @ shift
        found = _align(template_c, image_c, (warp / warp[2, 2]).astype(np.float32))
        if found is None:
            continue
        refined = _align(template_n, image_n, found)
        chosen = refined if refined is not None else found
        fit = _correlation(template_n, image_n, chosen)
        if not np.isnan(fit) and not fit <= best.correlation:
            # back to full-size pixels: from the reference frame to the current frame
            full = np.linalg.inv(to_cur) @ chosen.astype(np.float64) @ np.linalg.inv(shift)
            full = full @ np.linalg.inv(to_ref)
            best = PlaneFit(fit, full / full[2, 2])
    return best


#: the reference frame of the challenge under way, prepared once: it is the same frame
#: for every turned frame of a challenge (the frame before the prompt)
_prepared: tuple[object, bytes, tuple[float, int, int, object, object] | None] | None = None


def _reference(
    ref: GreyArray, ref_points: npt.NDArray[np.floating]
) -> tuple[float, int, int, npt.NDArray[np.float32], npt.NDArray[np.float32]] | None:
    """The reference face scaled and normalised (coarse and fine), cut to the face:
    computed once per reference frame and points."""
    global _prepared
    key = ref_points.tobytes()
    cached = _prepared
    if cached is not None and cached[0] is ref and cached[1] == key:
        return cached[2]  # type: ignore[return-value]
    s = WORK_SIZE / face_axes(ref_points)[2]
    ref_s = _scaled(ref, s)
    centre = ref_points.mean(axis=0) * s
    half = 1.1 * WORK_SIZE
    x1, y1 = int(max(centre[0] - half, 0)), int(max(centre[1] - half, 0))
    x2 = int(min(centre[0] + half, ref_s.shape[1]))
    y2 = int(min(centre[1] + 0.9 * half, ref_s.shape[0]))
    value = None
    if x2 - x1 >= 16 and y2 - y1 >= 16:
        template_c = np.ascontiguousarray(_normalized(ref_s, 2.0, 8.0)[y1:y2, x1:x2])
        template_n = np.ascontiguousarray(_normalized(ref_s)[y1:y2, x1:x2])
        value = (s, x1, y1, template_c, template_n)
    _prepared = (ref, key, value)
    return value


_surround: tuple[object, bytes, tuple[float, npt.NDArray[np.bool_], object] | None] | None = None


def _surround_reference(
    ref: GreyArray, ref_points: npt.NDArray[np.floating]
) -> tuple[float, npt.NDArray[np.bool_], npt.NDArray[np.float32]] | None:
    """The band around the reference head and the reference normalised at its scale:
    computed once per reference frame and points."""
    global _surround
    key = ref_points.tobytes()
    cached = _surround
    if cached is not None and cached[0] is ref and cached[1] == key:
        return cached[2]  # type: ignore[return-value]
    s = WORK_SIZE / face_axes(ref_points)[2]
    ref_s = _scaled(ref, s)
    h, w = ref_s.shape
    cx, cy = ref_points[:, 0].mean() * s, ref_points[:, 1].mean() * s
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    dx, dy = (xx - cx) / WORK_SIZE, (yy - cy) / WORK_SIZE
    # the head (face, hair, ears) is about 1.5 eye-to-mouth distances to each side and
    # 2.3 above the landmarks' centre; the band is beyond it, not below (the shoulders)
    head = (dx / 1.7) ** 2 + ((dy + 0.5) / 2.4) ** 2 <= 1.0
    band = (np.abs(dx) <= SURROUND_REACH) & (dy >= -SURROUND_REACH) & (dy <= 0.5) & ~head
    value = None if band.sum() < 200 else (s, band, _normalized(ref_s))
    _surround = (ref, key, value)
    return value


def surround_motion(
    ref: GreyArray, ref_points: Points, cur: GreyArray, warp: npt.NDArray[np.float64] | None
) -> float:
    """Does what surrounds the face stay where it was, or move with the face?

    A live head turns in front of a room that stays still (the kiosk's camera is fixed);
    a picture's own background (the rest of the photo, the paper, the screen) moves
    with the face, by the face's homography ``warp`` (from :func:`fit_plane`). Over a band
    around the head (beside and above it, where the room is seen past the hair and ears),
    the texture of the reference frame is correlated with the current frame's where it
    was (still) and where the face's homography takes it (moved). Returns still minus
    moved: above 0 when the surroundings stayed while the face moved, below 0 when they
    moved with it; ``nan`` when there is no homography, too little of the band in view, or
    no texture to compare (a plain wall: it says nothing)."""
    if warp is None or not np.all(np.isfinite(warp)):
        return float("nan")
    ref_points = np.asarray(ref_points, np.float64)
    prepared = _surround_reference(ref, ref_points)
    if prepared is None:
        return float("nan")
    s, band, ref_n = prepared
    cur_s = _scaled(cur, s)
    scale = np.diag([s, s, 1.0])
    moved_warp = (scale @ warp @ np.linalg.inv(scale)).astype(np.float32)
    h, w = ref_n.shape
    cur_n = _normalized(cur_s)
    flags = cv2.INTER_LINEAR + cv2.WARP_INVERSE_MAP
    moved = cv2.warpPerspective(cur_n, moved_warp, (w, h), flags=flags)
    inside = cv2.warpPerspective(np.ones_like(cur_n), moved_warp, (w, h), flags=flags) > 0.999
    keep = band & inside
    if keep.sum() < 200 or float(np.abs(ref_n[keep]).mean()) < MIN_SURROUND_TEXTURE:
        return float("nan")
    still = _corr(ref_n[keep], cur_n[keep])
    follow = _corr(ref_n[keep], np.asarray(moved, np.float32)[keep])
    return still - follow


def _corr(a: npt.NDArray[np.float32], b: npt.NDArray[np.float32]) -> float:
    a = a - a.mean()
    b = b - b.mean()
    denominator = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float((a * b).sum()) / denominator if denominator > 0 else 0.0


def _scaled(img: GreyArray, s: float) -> npt.NDArray[np.float32]:
    interpolation = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
    return np.asarray(cv2.resize(img, None, fx=s, fy=s, interpolation=interpolation), np.float32)


def _guesses(ref: Points, cur: Points) -> list[npt.NDArray[np.float64]]:
    """Homographies from the reference's landmarks to the current ones: the plane's
    (eyes and mouth corners), the best affine map and the best similarity (all five)."""
    out = []
    h = plane_homography(ref, cur)
    if h is not None:
        out.append(h)
    src, dst = ref.astype(np.float32), cur.astype(np.float32)
    for estimate in (cv2.estimateAffine2D, cv2.estimateAffinePartial2D):
        m, _ = estimate(src, dst, method=cv2.LMEDS)
        if m is not None and np.all(np.isfinite(m)):
            out.append(np.vstack([m, [0.0, 0.0, 1.0]]))
    return out


def _correlation(
    template: npt.NDArray[np.float32], image: npt.NDArray[np.float32], warp: npt.NDArray[np.float32]
) -> float:
    """The correlation of the template with the image under ``warp``, over the part of
    the face that is still in view (a picture held close leaves it)."""
    size = (template.shape[1], template.shape[0])
    flags = cv2.INTER_LINEAR + cv2.WARP_INVERSE_MAP
    warped = cv2.warpPerspective(image, warp, size, flags=flags)
    inside = cv2.warpPerspective(np.ones_like(image), warp, size, flags=flags) > 0.999
    if inside.mean() < MIN_IN_VIEW:
        return float("nan")
    a = template[inside] - template[inside].mean()
    b = warped[inside] - warped[inside].mean()
    denominator = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float((a * b).sum()) / denominator if denominator > 0 else float("nan")


def _normalized(
    img: npt.NDArray[np.float32], smooth: float = 1.0, sigma: float = 3.0
) -> npt.NDArray[np.float32]:
    """Local contrast normalisation of the smoothed image (pixel noise out): minus the
    local mean, over the local spread."""
    img = np.asarray(cv2.GaussianBlur(img, (0, 0), smooth), dtype=np.float32)
    high = img - cv2.GaussianBlur(img, (0, 0), sigma)
    spread = np.sqrt(cv2.GaussianBlur(high * high, (0, 0), sigma)) + 2.0
    return np.asarray(high / spread, dtype=np.float32)


def _align(
    template: npt.NDArray[np.float32], image: npt.NDArray[np.float32], warp: npt.NDArray[np.float32]
) -> npt.NDArray[np.float32] | None:
    """ECC's homography from the template to the image, starting at ``warp``."""
    try:
        _, found = cv2.findTransformECC(
            template,
            image,
            warp.copy(),
            cv2.MOTION_HOMOGRAPHY,
            _CRITERIA,
            np.full(image.shape, 255, np.uint8),
            3,
        )
    except cv2.error:
        return None
    return np.asarray(found, dtype=np.float32)
