"""What the vision layer hands out: faces, embeddings, matches."""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]
ImageArray = npt.NDArray[np.uint8]  # H x W x 3, RGB


@dataclass(frozen=True)
class Box:
    """Face box in pixels of the image it was found in (x to the right, y down)."""

    x1: float
    y1: float
    x2: float
    y2: float

    @property
    def width(self) -> float:
        return self.x2 - self.x1

    @property
    def height(self) -> float:
        return self.y2 - self.y1

    @property
    def area(self) -> float:
        return max(0.0, self.width) * max(0.0, self.height)

    @property
    def center(self) -> tuple[float, float]:
        return ((self.x1 + self.x2) / 2, (self.y1 + self.y2) / 2)

    def clipped(self, width: int, height: int) -> Box:
        return Box(
            min(max(self.x1, 0.0), width),
            min(max(self.y1, 0.0), height),
            min(max(self.x2, 0.0), width),
            min(max(self.y2, 0.0), height),
        )

    def scaled(self, factor: float) -> Box:
        return Box(self.x1 * factor, self.y1 * factor, self.x2 * factor, self.y2 * factor)

    def as_list(self) -> list[float]:
        return [round(self.x1, 1), round(self.y1, 1), round(self.x2, 1), round(self.y2, 1)]


@dataclass(frozen=True)
class DetectedFace:
    """One face found by the detector.

    ``landmarks`` are MTCNN's five points (left eye, right eye, nose tip, left and right
    mouth corner, as seen in the image), shape (5, 2), in image pixels.
    """

    box: Box
    probability: float
    landmarks: FloatArray


@dataclass(frozen=True)
class FaceResult:
    """A detected face with its aligned 150x150 chip and its 128-d embedding."""

    face: DetectedFace
    chip: ImageArray
    embedding: FloatArray


@dataclass(frozen=True)
class ModelInfo:
    """Identifies the network that produced an embedding; stored with every template."""

    name: str
    version: str
    checksum: str  # sha256 of the weight file


class MatchKind(enum.Enum):
    MATCH = "match"
    UNKNOWN = "unknown"
    AMBIGUOUS = "ambiguous"  # two different people are both close: not a match


@dataclass(frozen=True)
class Match:
    """The answer of a 1:N search for one face.

    ``label`` is the gallery's label of the best person (``None`` when the gallery is
    empty); ``distance`` the euclidean distance to that person's nearest template;
    ``runner_up`` the distance to the nearest template of any other person.
    """

    kind: MatchKind
    label: int | None
    distance: float
    runner_up: float | None
    threshold: float

    @property
    def is_match(self) -> bool:
        return self.kind is MatchKind.MATCH
