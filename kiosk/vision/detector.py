"""Face detection with facenet-pytorch's MTCNN (weights inside the installed package)."""

from __future__ import annotations

import threading

import numpy as np
import torch

from kiosk.domain.faces import Box, DetectedFace, ImageArray
from kiosk.errors import ModelFileError


class FaceDetector:
    """Every face in an RGB image, with its box, probability and five landmarks."""

    def __init__(
        self, device: torch.device, min_face_size: int = 40, min_probability: float = 0.9
    ) -> None:
        try:
            from facenet_pytorch import MTCNN
        except ImportError as exc:
            raise ModelFileError(
                "the face detector (facenet-pytorch) is not installed; install it with: "
                "pip install --no-deps facenet-pytorch==2.6.0 (or run `make setup`)"
            ) from exc
        try:
            self._mtcnn = MTCNN(
                keep_all=True, min_face_size=min_face_size, device=device, post_process=False
            )
        except (OSError, RuntimeError) as exc:
            raise ModelFileError(
                f"cannot load the MTCNN weights of facenet-pytorch ({exc}); reinstall it with: "
                "pip install --force-reinstall --no-deps facenet-pytorch==2.6.0"
            ) from exc
        self.min_probability = min_probability
        self.min_face_size = min_face_size
        self._lock = threading.Lock()  # min_face_size is set per call on the shared MTCNN

    def detect(self, rgb: ImageArray, min_face_size: int | None = None) -> list[DetectedFace]:
        """Every face of at least ``min_face_size`` pixels (default: the detector's)."""
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ValueError("detect() wants an H x W x 3 uint8 RGB array")
        smallest = self.min_face_size if min_face_size is None else int(min_face_size)
        if min(rgb.shape[:2]) < smallest:
            # No face this small is looked for; MTCNN's image pyramid would be empty and
            # facenet-pytorch fails with "torch.cat(): expected a non-empty list".
            return []
        with self._lock, torch.inference_mode():
            self._mtcnn.min_face_size = smallest
            try:
                boxes, probs, points = self._mtcnn.detect(np.ascontiguousarray(rgb), landmarks=True)
            finally:
                self._mtcnn.min_face_size = self.min_face_size
        if boxes is None:
            return []
        faces = []
        for box, prob, pts in zip(boxes, probs, points, strict=True):
            if prob is None or float(prob) < self.min_probability:
                continue
            faces.append(
                DetectedFace(
                    Box(*(float(v) for v in box)), float(prob), np.asarray(pts, dtype=np.float32)
                )
            )
        return faces
