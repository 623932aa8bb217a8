"""One photo or camera frame checked for enrollment: loaded, its faces found and judged
(:class:`CheckedFace`), its face crop encoded for storage; and which files are photos."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from kiosk.domain.faces import FaceResult, FloatArray, ImageArray, ModelInfo
from kiosk.errors import InputError
from kiosk.vision.quality import QualitySettings, assess_photo

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".pgm", ".ppm", ".tif", ".tiff"}


class FaceAnalyzer(Protocol):
    """What enrollment needs of the vision pipeline (``FacePipeline`` is one)."""

    @property
    def model_info(self) -> ModelInfo: ...

    def analyze(self, rgb: ImageArray) -> list[FaceResult]: ...


ImageLoader = Callable[[Path], ImageArray]


def default_loader(max_side: int) -> ImageLoader:
    from kiosk.vision.imageio import load_image

    def load(path: Path) -> ImageArray:
        return load_image(path, max_side)

    return load


@dataclass(frozen=True)
class CheckedFace:
    """One photo or camera frame after the quality check: accepted (with the face) or
    rejected with reasons. Immutable, so it can cross threads."""

    source: str  # a file path, or "camera 3"
    accepted: bool
    reasons: tuple[str, ...]
    quality: float
    yaw: float = 0.0
    pitch: float = 0.0
    embedding: FloatArray | None = None
    chip: Any = None  # RGB uint8 150x150 aligned face (read-only numpy array)
    #: every face found, (x1, y1, x2, y2) in image pixels: the camera capture draws them
    boxes: tuple[tuple[float, float, float, float], ...] = ()
    #: sha256 of the photo file (None for a camera frame): the same photo is stored once
    content_sha256: str | None = None
    #: the person already has this photo (same content): skipped, not a rejection
    already_stored: bool = False
    #: accepted, but it may match less well (amber; stored with the template)
    warnings: tuple[str, ...] = ()

    @property
    def reason_text(self) -> str:
        if self.reasons:
            return "; ".join(self.reasons)
        return "accepted, but " + "; ".join(self.warnings) if self.warnings else "accepted"

    @property
    def name(self) -> str:
        """The file name of a photo, or the camera shot's words."""
        return Path(self.source).name if "/" in self.source else self.source


ALREADY_STORED = "already stored for this person"


def file_sha256(path: Path) -> str | None:
    """The content hash of a photo file (``None`` when it cannot be read: the loader
    then says why)."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    except (OSError, ValueError):  # ValueError: a NUL byte in the path
        return None
    return digest.hexdigest()


def _readonly(array: np.ndarray) -> np.ndarray:
    copy = np.array(array, copy=True)
    copy.flags.writeable = False
    return copy


def checked_from_results(
    source: str, results: Sequence[FaceResult], quality: QualitySettings | None = None
) -> CheckedFace:
    """The quality verdict on the faces found in one photo or frame."""
    report, main = assess_photo(results, quality)
    yaw, pitch = report.measures.get("yaw", 0.0), report.measures.get("pitch", 0.0)
    boxes = tuple((r.face.box.x1, r.face.box.y1, r.face.box.x2, r.face.box.y2) for r in results)
    if not report.ok or main is None:
        return CheckedFace(source, False, report.reasons, report.score, yaw, pitch, boxes=boxes)
    return CheckedFace(
        source,
        True,
        (),
        report.score,
        yaw,
        pitch,
        _readonly(main.embedding),
        _readonly(main.chip),
        boxes,
        warnings=report.warnings,
    )


def chip_jpeg(chip: ImageArray) -> bytes:
    ok, data = cv2.imencode(
        ".jpg",
        cv2.cvtColor(np.ascontiguousarray(chip), cv2.COLOR_RGB2BGR),
        [int(cv2.IMWRITE_JPEG_QUALITY), 95],
    )
    if not ok:
        raise ValueError("could not encode the face crop")
    return bytes(data.tobytes())


def folder_people(folder: Path) -> list[tuple[str, list[Path]]]:
    """``DIR/<name>/<photos>``: (name, photos) per subfolder, in name order."""
    if not folder.is_dir():
        raise InputError(f"{folder} is not a folder: give DIR with one subfolder per person")
    people = []
    for sub in sorted(
        p for p in folder.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))
    ):
        photos = sorted(
            p for p in sub.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
        )
        people.append((sub.name, photos))
    if not people:
        raise InputError(f"{folder} has no subfolders: put each person's photos in DIR/<name>/")
    return people
