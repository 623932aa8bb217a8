"""Step 1a: the photo sets. Of the people with at least 4 photos, every other one (by
name) is enrolled with their first 3; each photo not enrolled is a probe, made into
``FRAMES`` camera frames (moved, turned, scaled, re-lit, blurred, noised, JPEG; one in
four harshly), each frame through the real pipeline.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from kiosk.domain.faces import Box, ImageArray
from kiosk.errors import KioskError
from kiosk.vision.imageio import read_image
from kiosk.vision.pipeline import FacePipeline
from tools.decision_eval.common import (
    ENROLL_PHOTOS,
    FRAME_SIDE,
    FRAMES,
    MIN_PHOTOS,
    PHOTO_SUFFIXES,
    Seen,
    look,
)


@dataclass
class PhotoSet:
    name: str
    people: dict[str, list[Path]]
    enrolled: dict[str, list[Path]] = field(default_factory=dict)  # name -> enroll photos
    probes: list[tuple[str, Path, bool]] = field(default_factory=list)  # (who, photo, mated)

    @property
    def photos(self) -> list[Path]:
        return [p for ps in self.people.values() for p in ps]


def photo_set(root: Path, name: str) -> PhotoSet:
    people: dict[str, list[Path]] = {}
    for folder in sorted((root / name).iterdir()):
        if not folder.is_dir() or folder.name.startswith("_"):
            continue
        photos = sorted(p for p in folder.iterdir() if p.suffix.lower() in PHOTO_SUFFIXES)
        if photos:
            people[f"{name}/{folder.name}"] = photos
    ps = PhotoSet(name, people)
    eligible = [who for who, photos in people.items() if len(photos) >= MIN_PHOTOS]
    for i, who in enumerate(eligible):
        if i % 2 == 0:
            ps.enrolled[who] = people[who][:ENROLL_PHOTOS]
    for who, photos in people.items():
        for p in photos:
            if who in ps.enrolled:
                if p not in ps.enrolled[who]:
                    ps.probes.append((who, p, True))
            else:
                ps.probes.append((who, p, False))
    return ps


def _rng_for(path: Path) -> np.random.Generator:
    seed = int.from_bytes(hashlib.sha256(str(path.name).encode()).digest()[:8], "little")
    return np.random.default_rng(seed)


def camera_frames(rgb: ImageArray, box: Box, rng: np.random.Generator, n: int) -> list[ImageArray]:
    """``n`` camera frames of the face in ``box``: moved, turned, scaled, re-lit, blurred,
    noised and JPEG-compressed at random; every fourth frame harshly."""
    frames = []
    cx, cy = box.center
    fw = max(box.width, 1.0)
    for i in range(n):
        harsh = i % 4 == 3
        scale = rng.uniform(90, 150) / fw
        sx, sy = rng.normal(0.0, 0.06 * fw, 2)
        m = cv2.getRotationMatrix2D((cx + sx, cy + sy), rng.uniform(-6, 6), scale)
        m[:, 2] += (FRAME_SIDE / 2 - (cx + sx), FRAME_SIDE / 2 - (cy + sy))
        img = (
            cv2.warpAffine(
                rgb,
                m,
                (FRAME_SIDE, FRAME_SIDE),
                flags=cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_REPLICATE,
            ).astype(np.float32)
            / 255.0
        )
        gain = rng.uniform(0.65, 1.25)
        gamma = rng.uniform(0.75, 1.35)
        sigma = rng.uniform(0.0, 1.2)
        if harsh:
            kind = rng.integers(3)
            if kind == 0:
                gain = rng.uniform(0.3, 0.45)
            elif kind == 1:
                gain, gamma = rng.uniform(1.5, 1.8), rng.uniform(0.6, 0.8)
            else:
                sigma = rng.uniform(2.5, 4.0)
        img = np.clip(gain * np.power(img, gamma), 0.0, 1.0) * 255.0
        if sigma > 0.3:
            img = cv2.GaussianBlur(img, (0, 0), sigma)
        img = img + rng.normal(0.0, rng.uniform(0.0, 6.0), img.shape)
        img8 = np.clip(img, 0, 255).astype(np.uint8)
        ok, data = cv2.imencode(
            ".jpg",
            cv2.cvtColor(img8, cv2.COLOR_RGB2BGR),
            [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(40, 91))],
        )
        assert ok
        bgr = cv2.imdecode(data, cv2.IMREAD_COLOR)
        assert bgr is not None
        frames.append(np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), np.uint8))
    return frames


def embed_photo_set(pipeline: FacePipeline, ps: PhotoSet, dim: int) -> tuple[Seen, Seen]:
    """(the main face of every photo, the camera frames of every probe photo)."""
    photos = ps.photos
    originals = Seen.empty(len(photos), dim)
    probes = Seen.empty(len(ps.probes) * FRAMES, dim)
    index = {p: i for i, p in enumerate(photos)}
    found: dict[Path, tuple[ImageArray, Box]] = {}
    for i, path in enumerate(photos):
        try:
            image = read_image(path, 1600)
        except KioskError:
            continue
        ok, emb, q, box = look(pipeline, image.rgb, main=True)
        if ok:
            originals.ok[i], originals.emb[i], originals.quality[i] = True, emb, q
            originals.box[i] = (box.x1, box.y1, box.x2, box.y2)
            found[path] = (image.rgb, box)
    for j, (_, path, _) in enumerate(ps.probes):
        if path not in found:
            continue
        rgb, box = found[path]
        for k, frame in enumerate(camera_frames(rgb, box, _rng_for(path), FRAMES)):
            ok, emb, q, fbox = look(pipeline, frame, main=False)
            row = j * FRAMES + k
            probes.time[row] = k
            if ok:
                probes.ok[row], probes.emb[row], probes.quality[row] = True, emb, q
                probes.box[row] = (fbox.x1, fbox.y1, fbox.x2, fbox.y2)
    del index
    return originals, probes
