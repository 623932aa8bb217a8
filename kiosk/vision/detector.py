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

    def refine(self, rgb: ImageArray, box: Box) -> DetectedFace | None:
        """MTCNN's last stage alone on a face's last box: its box and five points in this
        frame when it is still there (probability at least ``min_probability``), else
        ``None``. The same network, on the same kind of input (a squared box cut to 48x48),
        as the last stage of a full search, for a fraction of its cost."""
        from facenet_pytorch.models.utils.detect_face import bbreg, imresample, rerec

        h, w = rgb.shape[:2]
        with self._lock, torch.inference_mode():
            square = rerec(torch.tensor([[box.x1, box.y1, box.x2, box.y2, 1.0]]))[0]
            x1, y1 = int(max(0.0, float(square[0]))), int(max(0.0, float(square[1])))
            x2, y2 = int(min(float(w), float(square[2]))), int(min(float(h), float(square[3])))
            if x2 - x1 < 12 or y2 - y1 < 12:
                return None
            crop = torch.from_numpy(np.ascontiguousarray(rgb[y1:y2, x1:x2])).permute(2, 0, 1)
            data = (imresample(crop[None].float(), (48, 48)) - 127.5) * 0.0078125
            reg, points, prob = self._mtcnn.onet(data)
            score = float(prob[0, 1])
            if score < max(self.min_probability, float(self._mtcnn.thresholds[2])):
                return None
            bw, bh = float(x2 - x1), float(y2 - y1)
            xs = bw * points[0, :5] + x1
            ys = bh * points[0, 5:10] + y1
            found = bbreg(torch.tensor([[x1, y1, x2 - 1, y2 - 1, score]], dtype=torch.float32), reg)
            fx1, fy1, fx2, fy2 = (float(v) for v in found[0, :4])
        return DetectedFace(
            Box(fx1, fy1, fx2, fy2),
            score,
            np.stack([xs.numpy(), ys.numpy()], axis=1).astype(np.float32),
        )
