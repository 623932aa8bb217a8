"""Alignment: each face to the 150x150 chip the embedding network was trained on.

dlib's 5-point landmark model (eye corners and the point under the nose) runs inside
MTCNN's box, shifted and resized towards the box convention dlib's model was trained with
(measured on LFW: centre moved by (-0.03 w, +0.05 h), size 1.14 w x 0.84 h); then dlib's
own chip extraction (least-squares similarity transform to its template, padding 0.25).
"""

from __future__ import annotations

from collections.abc import Sequence

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
