"""Use cases over photo files: embed, verify, identify against a folder of people."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from kiosk.config import VisionSettings
from kiosk.domain.faces import FaceResult, MatchKind
from kiosk.errors import InputError, KioskError
from kiosk.vision.calibration import operating_point
from kiosk.vision.imageio import read_image, too_small
from kiosk.vision.matcher import Gallery, build_gallery
from kiosk.vision.pipeline import FacePipeline, main_face_index

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".pgm", ".ppm", ".tif", ".tiff", ".gif"}


@dataclass(frozen=True)
class PhotoFaces:
    results: list[FaceResult]  # every face, in detection order
    main: int | None  # index of the main face
    scale: float  # pixels of the analysed image per original pixel
    size: tuple[int, int] = (0, 0)  # (width, height) analysed

    @property
    def main_result(self) -> FaceResult | None:
        return None if self.main is None else self.results[self.main]


def analyze_photo(pipeline: FacePipeline, path: str | Path, max_side: int) -> PhotoFaces:
    image = read_image(path, max_side)
    results = pipeline.analyze(image.rgb)
    h, w = image.rgb.shape[:2]
    return PhotoFaces(
        results, main_face_index([r.face for r in results], w, h), image.scale, (w, h)
    )


def no_face_reason(width: int, height: int, min_face: int) -> str:
    """Why no face was found, when the image size already says it."""
    return too_small(width, height, min_face) or (
        "no face found; use a photo where the face is clearly visible"
    )


def _min_face(pipeline: FacePipeline) -> int:
    return int(getattr(getattr(pipeline, "detector", None), "min_face_size", 40))


def main_embedding(pipeline: FacePipeline, path: str | Path, max_side: int) -> FaceResult:
    """The main face of a photo; ``InputError`` when the photo has none."""
    photo = analyze_photo(pipeline, path, max_side)
    if photo.main_result is None:
        w, h = photo.size
        raise InputError(f"{path}: {no_face_reason(w, h, _min_face(pipeline))}")
    return photo.main_result


def embed_photo(pipeline: FacePipeline, path: str, max_side: int) -> dict[str, Any]:
    """One JSON-ready record per photo; a bad file gives an ``error``, never an exception."""
    record: dict[str, Any] = {
        "path": path,
        "faces": 0,
        "embedding": None,
        "box": None,
        "error": None,
    }
    try:
        photo = analyze_photo(pipeline, path, max_side)
    except KioskError as exc:
        record["error"] = str(exc)
        return record
    record["faces"] = len(photo.results)
    main = photo.main_result
    if main is None:
        w, h = photo.size
        reason = no_face_reason(w, h, _min_face(pipeline))
        record["error"] = "no face found" if reason.startswith("no face") else reason
        return record
    record["embedding"] = [float(v) for v in main.embedding]
    record["box"] = main.face.box.scaled(1.0 / photo.scale).as_list()
    return record


def verify_photos(
    pipeline: FacePipeline, a: str, b: str, settings: VisionSettings
) -> dict[str, Any]:
    """Same person or not, by the euclidean distance between the main faces' embeddings."""
    ea = main_embedding(pipeline, a, settings.max_image_side).embedding
    eb = main_embedding(pipeline, b, settings.max_image_side).embedding
    distance = float(np.linalg.norm(ea.astype(np.float64) - eb.astype(np.float64)))
    threshold = operating_point(settings, 1, door=False).threshold  # two photos: a gallery of one
    return {
        "same": distance <= threshold,
        "distance": distance,
        "threshold": round(threshold, 4),
    }


@dataclass
class FolderGallery:
    """``DIR/<name>/<photos>``: every usable photo's main face is a template of <name>."""

    gallery: Gallery
    names: list[str]
    warnings: list[str] = field(default_factory=list)

    @classmethod
    def build(cls, pipeline: FacePipeline, folder: Path, settings: VisionSettings) -> FolderGallery:
        max_side = settings.max_image_side
        if not folder.is_dir():
            raise InputError(f"{folder}: the gallery folder does not exist")
        names: list[str] = []
        embeddings: list[np.ndarray] = []
        labels: list[int] = []
        warnings: list[str] = []
        for person_dir in sorted(
            p for p in folder.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))
        ):
            label = len(names)
            count = 0
            for photo in sorted(person_dir.iterdir()):
                if photo.suffix.lower() not in IMAGE_SUFFIXES:
                    continue
                try:
                    faces = analyze_photo(pipeline, photo, max_side)
                except KioskError as exc:
                    warnings.append(f"skipped {exc}")
                    continue
                if faces.main_result is None:
                    warnings.append(f"skipped {photo}: no face found")
                    continue
                if len(faces.results) > 1:
                    warnings.append(f"{photo}: {len(faces.results)} faces, used the main one")
                embeddings.append(faces.main_result.embedding)
                labels.append(label)
                count += 1
            if count:
                names.append(person_dir.name)
            else:
                warnings.append(f"{person_dir.name}: no usable photo, not in the gallery")
        if not names:
            raise InputError(f"{folder}: no usable photos in <name>/ subfolders")
        emb = np.stack(embeddings) if embeddings else np.zeros((0, 128), np.float32)
        # Labels were assigned per folder, but folders without photos got none: renumber.
        remap = {old: new for new, old in enumerate(sorted(set(labels)))}
        gallery = build_gallery(emb, [remap[x] for x in labels], settings, pipeline.embedder.device)
        return cls(gallery, names, warnings)


def identify_photo(
    pipeline: FacePipeline, gallery: FolderGallery, path: str, settings: VisionSettings
) -> list[dict[str, Any]]:
    """For each face in the photo: the best name (or None), its distance and the kind."""
    photo = analyze_photo(pipeline, path, settings.max_image_side)
    if not photo.results:
        return []
    queries = np.stack([r.embedding for r in photo.results])
    matches = gallery.gallery.search(queries, None, settings.ambiguity_margin)
    rows = []
    for i, (result, match) in enumerate(zip(photo.results, matches, strict=True)):
        name = (
            gallery.names[match.label]
            if match.kind is MatchKind.MATCH and match.label is not None
            else None
        )
        rows.append(
            {
                "path": path,
                "face": i,
                "main": i == photo.main,
                "box": result.face.box.scaled(1.0 / photo.scale).as_list(),
                "name": name,
                "kind": match.kind.value,
                "distance": round(match.distance, 6),
                "threshold": round(match.threshold, 4),
            }
        )
    return rows
