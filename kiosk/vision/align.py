"""Alignment: each face to the chip its embedding network was trained on.

For SFace (:class:`FivePointAligner`): the similarity transform from MTCNN's five points
to the standard 112x112 five-point template. For dlib's network (:class:`Aligner`):
dlib's 5-point landmark model (eye corners and the point under the nose) runs inside
MTCNN's box, shifted and resized towards the box convention dlib's model was trained with
(measured on LFW: centre moved by (-0.03 w, +0.05 h), size 1.14 w x 0.84 h); then dlib's
own chip extraction (least-squares similarity transform to its template, padding 0.25).
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import dlib
import numpy as np

from kiosk.domain.faces import Box, DetectedFace, ImageArray
from kiosk.vision.weights import SHAPE5_FILE, SHAPE5_SHA256, verified_model_file

CHIP_SIZE = 150
CHIP_PADDING = 0.25
# MTCNN box -> dlib detector box convention (measured on LFW).
BOX_SHIFT = (-0.03, 0.05)
BOX_SCALE = (1.14, 0.84)


def dlib_rect(box: Box) -> dlib.rectangle:
    w, h = box.width, box.height
    cx = (box.x1 + box.x2) / 2 + BOX_SHIFT[0] * w
    cy = (box.y1 + box.y2) / 2 + BOX_SHIFT[1] * h
    half_w, half_h = BOX_SCALE[0] * w / 2, BOX_SCALE[1] * h / 2
    return dlib.rectangle(
        round(cx - half_w), round(cy - half_h), round(cx + half_w), round(cy + half_h)
    )


class Aligner:
    def __init__(self) -> None:
        self._predictor = dlib.shape_predictor(str(verified_model_file(SHAPE5_FILE, SHAPE5_SHA256)))

    def landmarks(self, rgb: ImageArray, face: DetectedFace) -> dlib.full_object_detection:
        return self._predictor(rgb, dlib_rect(face.box))

    def align(self, rgb: ImageArray, faces: Sequence[DetectedFace]) -> list[ImageArray]:
        """One 150x150x3 uint8 chip per face."""
        if not faces:
            return []
        rgb = np.ascontiguousarray(rgb)
        shapes = dlib.full_object_detections()
        for face in faces:
            shapes.append(self.landmarks(rgb, face))
        chips = dlib.get_face_chips(rgb, shapes, size=CHIP_SIZE, padding=CHIP_PADDING)
        return [np.asarray(c, dtype=np.uint8) for c in chips]


#: The standard 112x112 five-point template (ArcFace / SFace): the eyes, the nose tip and
#: the mouth corners as seen in the image (left eye is the one on the image's left).
FIVE_POINT_TEMPLATE = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ],
    dtype=np.float64,
)


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The 2x3 least-squares similarity (rotation, uniform scale, shift) that maps the
    points ``src`` onto ``dst`` (Umeyama's closed form, without reflection)."""
    src = np.asarray(src, dtype=np.float64).reshape(-1, 2)
    dst = np.asarray(dst, dtype=np.float64).reshape(-1, 2)
    src_mean, dst_mean = src.mean(0), dst.mean(0)
    s, d = src - src_mean, dst - dst_mean
    cov = d.T @ s / len(src)
    u, sigma, vt = np.linalg.svd(cov)
    sign = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[1, 1] = -1.0
    rotation = u @ sign @ vt
    var = (s * s).sum() / len(src)
    scale = float(np.trace(np.diag(sigma) @ sign) / var) if var > 0 else 1.0
    m = np.zeros((2, 3))
    m[:, :2] = scale * rotation
    m[:, 2] = dst_mean - scale * rotation @ src_mean
    return m


class FivePointAligner:
    """Each face to a ``size`` x ``size`` chip by the similarity that best maps MTCNN's five
    points onto the standard template (the alignment SFace was trained with)."""

    def __init__(self, size: int = 112) -> None:
        self.size = size
        self.template = FIVE_POINT_TEMPLATE * (size / 112.0)

    def align(self, rgb: ImageArray, faces: Sequence[DetectedFace]) -> list[ImageArray]:
        chips = []
        for face in faces:
            m = similarity_transform(face.landmarks, self.template)
            chip = cv2.warpAffine(
                np.ascontiguousarray(rgb),
                m,
                (self.size, self.size),
                flags=cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_CONSTANT,
                borderValue=(0, 0, 0),
            )
            chips.append(np.asarray(chip, dtype=np.uint8))
        return chips
