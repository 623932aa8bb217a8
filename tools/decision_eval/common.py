"""What every step shares: the sizes of the protocol (photos enrolled, frames made from a
photo, the clips' rate, the recognition rates), where the face photos are, and what a
camera saw (:class:`Seen`: the decided-on face of each frame, as the kiosk picks it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kiosk.domain.faces import Box, FloatArray, ImageArray
from kiosk.domain.policy import choose_face
from kiosk.vision.pipeline import FacePipeline, main_face_index
from kiosk.vision.quality import assess_face

PHOTO_SETS = ("deepface", "face_recognition", "faceapi_bbt", "orl", "lfw_dev")
PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png", ".pgm", ".webp"}
ENROLL_PHOTOS = 3
MIN_PHOTOS = ENROLL_PHOTOS + 1
FRAMES = 8  # camera frames made from one photo
FRAME_SIDE = 320
CLIP_FPS = 6.0  # the clips are read at this rate; slower rates take every n-th frame
CLIP_ENROLL_SECONDS = 1.5
CLIP_STRIDE = 1.0  # a new attempt every second of a clip
RATES = (1.5, 2.0, 3.0, 6.0)
#: made frames are shown again in turn, up to this many recognitions (a person stays)
CYCLE = 24


def default_faces_dir() -> Path:
    env = os.environ.get("KIOSK_FACES_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[2].parent / "shared" / "faces"


@dataclass
class Seen:
    """The decided-on face of a batch of frames (``ok`` false: no face in that frame)."""

    ok: npt_bool
    emb: FloatArray
    quality: FloatArray
    box: FloatArray
    time: FloatArray

    @classmethod
    def empty(cls, n: int, dim: int) -> Seen:
        return cls(
            np.zeros(n, bool),
            np.zeros((n, dim), np.float32),
            np.zeros(n, np.float32),
            np.zeros((n, 4), np.float32),
            np.zeros(n, np.float64),
        )

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, ok=self.ok, emb=self.emb, quality=self.quality, box=self.box, time=self.time)
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> Seen:
        with np.load(path, allow_pickle=False) as data:
            return cls(data["ok"], data["emb"], data["quality"], data["box"], data["time"])


npt_bool = Any  # numpy bool arrays (numpy's typing has no short name for them)


def look(pipeline: FacePipeline, rgb: ImageArray, main: bool) -> tuple[bool, Any, float, Box]:
    """The face the kiosk decides on (``main``: the photo's main face, as enrollment
    takes it): (found, embedding, quality, box)."""
    faces = pipeline.detect(rgb)
    h, w = rgb.shape[:2]
    boxes = [f.box for f in faces]
    idx = main_face_index(faces, w, h) if main else choose_face(boxes, w, h)
    if idx is None:
        return False, None, 0.0, Box(0, 0, 0, 0)
    result = pipeline.analyze(rgb, [faces[idx]])[0]
    quality = assess_face(result.face, result.chip).score
    return True, result.embedding, float(quality), result.face.box
