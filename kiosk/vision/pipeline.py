"""Detect -> align -> embed, loaded once and reused for every image or frame."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from kiosk.config import VisionSettings
from kiosk.domain.faces import Box, DetectedFace, FaceResult, FloatArray, ImageArray, ModelInfo
from kiosk.vision.detector import FaceDetector
from kiosk.vision.embedder import Embedder, resolve_device
from kiosk.vision.networks import ChipAligner
from kiosk.vision.tracker import FaceTracker


def main_face_index(
    faces: Sequence[DetectedFace], width: int, height: int, region: Box | None = None
) -> int | None:
    """The face the kiosk decides on: the largest face, counting only the part of its box
    inside the image (or ``region``), weighted again by that fraction so a bystander cut
    off by the border does not win over the subject with a larger, partly invisible box."""
    bounds = region or Box(0.0, 0.0, float(width), float(height))
    best, best_score = None, 0.0
    for i, face in enumerate(faces):
        box = face.box
        inside = Box(
            max(box.x1, bounds.x1),
            max(box.y1, bounds.y1),
            min(box.x2, bounds.x2),
            min(box.y2, bounds.y2),
        )
        if box.area <= 0 or inside.area <= 0:
            continue
        fraction = inside.area / box.area
        score = inside.area * fraction * fraction
        if score > best_score:
            best, best_score = i, score
    return best


@dataclass(frozen=True)
class StageTimes:
    detect_ms: float
    align_ms: float
    embed_ms: float


class FacePipeline:
    """The recognition core. Build it with :meth:`load` (slow: loads the models)."""

    def __init__(self, detector: FaceDetector, aligner: ChipAligner, embedder: Embedder) -> None:
        self.detector = detector
        self.aligner = aligner
        self.embedder = embedder
        self.last_times = StageTimes(0.0, 0.0, 0.0)

    @classmethod
    def load(cls, settings: VisionSettings | None = None) -> FacePipeline:
        settings = settings or VisionSettings()
        device = resolve_device(settings.device)
        embedder = Embedder(
            device,
            flip_average=settings.flip_average,
            precision=settings.precision,
            network_key=settings.network,
        )
        return cls(
            FaceDetector(device, settings.min_face_size, settings.min_face_probability),
            embedder.spec.make_aligner(),
            embedder,
        )

    @property
    def device(self) -> str:
        return self.embedder.device.type

    @property
    def model_info(self) -> ModelInfo:
        return self.embedder.model_info

    def detect(self, rgb: ImageArray) -> list[DetectedFace]:
        return self.detector.detect(rgb)

    def align(self, rgb: ImageArray, faces: Sequence[DetectedFace]) -> list[ImageArray]:
        return self.aligner.align(rgb, faces)

    def embed(self, chips: Sequence[ImageArray]) -> FloatArray:
        return self.embedder.embed(chips)

    main_face_index = staticmethod(main_face_index)

    def analyze(
        self, rgb: ImageArray, faces: Sequence[DetectedFace] | None = None
    ) -> list[FaceResult]:
        """Every face in the image, aligned and embedded (``faces``: skip detection)."""
        t0 = time.perf_counter()
        found = self.detect(rgb) if faces is None else list(faces)
        t1 = time.perf_counter()
        chips = self.align(rgb, found)
        t2 = time.perf_counter()
        embeddings = self.embed(chips)
        t3 = time.perf_counter()
        self.last_times = StageTimes((t1 - t0) * 1e3, (t2 - t1) * 1e3, (t3 - t2) * 1e3)
        return [FaceResult(f, c, e) for f, c, e in zip(found, chips, embeddings, strict=True)]

    def analyze_main(
        self, rgb: ImageArray, region: Box | None = None
    ) -> tuple[FaceResult | None, int]:
        """Only the main face embedded (cheaper for the kiosk); returns it and the face count."""
        faces = self.detect(rgb)
        idx = main_face_index(faces, rgb.shape[1], rgb.shape[0], region)
        if idx is None:
            return None, len(faces)
        return self.analyze(rgb, [faces[idx]])[0], len(faces)


class StreamPipeline:
    """The pipeline for one camera stream: detection follows the main face between full
    searches (:class:`kiosk.vision.tracker.FaceTracker`); the rest is the pipeline's."""

    def __init__(self, pipeline: FacePipeline, tracker: FaceTracker) -> None:
        self.pipeline = pipeline
        self.tracker = tracker

    @property
    def device(self) -> str:
        return self.pipeline.device

    @property
    def model_info(self) -> ModelInfo:
        return self.pipeline.model_info

    def detect(self, rgb: ImageArray) -> list[DetectedFace]:
        return self.tracker.detect(rgb)

    def analyze(
        self, rgb: ImageArray, faces: Sequence[DetectedFace] | None = None
    ) -> list[FaceResult]:
        return self.pipeline.analyze(rgb, faces)


def load_stream(settings: VisionSettings) -> StreamPipeline:
    """The kiosk's pipeline: MTCNN looking for faces down to the size a door needs
    (``kiosk_min_face_size``, not the photos' ``min_face_size``), following the face
    between full searches."""
    from dataclasses import replace

    pipeline = FacePipeline.load(replace(settings, min_face_size=settings.kiosk_min_face_size))
    return StreamPipeline(pipeline, FaceTracker(pipeline.detector))


def torch_threads() -> int:
    return torch.get_num_threads()
