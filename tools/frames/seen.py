"""The faces the kiosk decides on in every real clip of ``../shared/faces/video``, and who
each clip shows (a script's data step, cached).

Clips are read as the kiosk reads a camera: about ``CLIP_FPS`` frames a second, scaled
to at most 640 px, MTCNN looking for door-sized faces (``[vision] kiosk_min_face_size``),
the face decided on chosen as the kiosk's loop chooses it (the largest in the region).
The photo sets' embeddings (each photo's main face, and 8 camera-like frames made from
each probe photo) are :mod:`tools.decision_eval`'s, in the same cache.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

from kiosk.config import VisionSettings
from kiosk.vision.pipeline import FacePipeline
from tools.decision_eval import (
    PHOTO_SETS,
    Seen,
    _dim,
    cache_dir,
    embed_clip,
    embed_photo_set,
    photo_set,
)

VIDEO_SUFFIXES = {".mp4", ".mpg", ".avi", ".gif", ".webm", ".mov"}

#: Clips whose people have photos in the photo sets (``set/folder``): those clips are no
#: strangers to a gallery that holds them. Every other clip shows someone in no photo set.
#: The Hamilton clip ends on its audience: from 7 s the face decided on is Barack Obama's
#: (looked at; 0.96-0.99 from his photos' centre, 1.27-1.31 from Lin-Manuel Miranda's).
CLIP_PEOPLE: dict[str, tuple[str, ...]] = {
    "hamilton_clip": (
        "face_recognition/lin_manuel_miranda",
        "face_recognition/alex_lacamoire",
        "face_recognition/obama",
    ),
    "3ddfa_obama": ("face_recognition/obama",),
}


@dataclass(frozen=True)
class Clip:
    stem: str
    path: Path
    people: tuple[str, ...]  # who of the photo sets it shows (empty: nobody enrolled-able)


def clips(faces: Path) -> list[Clip]:
    """Every clip of a live person: ``video/*`` and ``video/liveness/genuine/*`` (the
    attack clips show pictures of people, not people: they are the liveness check's)."""
    video = faces / "video"
    paths = [p for p in sorted(video.iterdir()) if p.suffix.lower() in VIDEO_SUFFIXES]
    genuine = video / "liveness" / "genuine"
    paths += [p for p in sorted(genuine.iterdir()) if p.suffix.lower() in VIDEO_SUFFIXES]
    return [Clip(p.stem, p, CLIP_PEOPLE.get(p.stem, ())) for p in paths]


def kiosk_pipeline(vision: VisionSettings) -> FacePipeline:
    """The kiosk's detector settings (door-sized faces), on the CPU."""
    return FacePipeline.load(
        replace(vision, min_face_size=vision.kiosk_min_face_size, device="cpu")
    )


def clip_cache(cache: Path, stem: str) -> Path:
    return cache / f"kiosk-clip.{stem}.npz"


def embed_everything(vision: VisionSettings, faces: Path, base: Path) -> Path:
    """Fill the cache (the photo sets with the photo detector, the clips with the
    kiosk's); returns the cache folder of this network's weights."""
    photos = FacePipeline.load(replace(vision, device="cpu"))
    cache = cache_dir(base, photos)
    dim = _dim(photos)
    for name in PHOTO_SETS:
        orig, made = cache / f"{name}.photos.npz", cache / f"{name}.frames.npz"
        if orig.is_file() and made.is_file():
            continue
        t0 = time.monotonic()
        originals, probes = embed_photo_set(photos, photo_set(faces, name), dim)
        originals.save(orig)
        probes.save(made)
        print(f"{name}: embedded ({time.monotonic() - t0:.0f} s)", file=sys.stderr, flush=True)
    kiosk = kiosk_pipeline(vision)
    for clip in clips(faces):
        out = clip_cache(cache, clip.stem)
        if out.is_file():
            continue
        t0 = time.monotonic()
        seen = embed_clip(kiosk, clip.path, dim)
        seen.save(out)
        print(
            f"{clip.path.name}: {len(seen.ok)} frames, {int(seen.ok.sum())} with a face "
            f"({time.monotonic() - t0:.0f} s)",
            file=sys.stderr,
            flush=True,
        )
    return cache


def load_clip(cache: Path, stem: str) -> Seen:
    return Seen.load(clip_cache(cache, stem))
