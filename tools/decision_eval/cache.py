"""Step 2: every embedding the evaluation needs, computed once and kept in the cache
folder (one subfolder per network checksum), so that the later steps run in seconds.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from kiosk.vision.pipeline import FacePipeline
from tools.decision_eval.clips import clip_paths, embed_clip
from tools.decision_eval.common import PHOTO_SETS
from tools.decision_eval.photos import embed_photo_set, photo_set


def cache_dir(base: Path, pipeline: FacePipeline) -> Path:
    return base / pipeline.model_info.checksum[:12]


def embed_all(pipeline: FacePipeline, faces: Path, cache: Path, quick: bool = False) -> None:
    """Compute (or find in ``cache``) every embedding the evaluation needs."""
    dim = _dim(pipeline)
    for name in PHOTO_SETS:
        ps = photo_set(faces, name)
        orig_path, probe_path = cache / f"{name}.photos.npz", cache / f"{name}.frames.npz"
        if orig_path.is_file() and probe_path.is_file():
            continue
        t0 = time.monotonic()
        originals, probes = embed_photo_set(pipeline, ps, dim)
        originals.save(orig_path)
        probes.save(probe_path)
        print(
            f"{name}: {len(ps.photos)} photos, {len(ps.probes)} probes "
            f"({time.monotonic() - t0:.0f} s)",
            file=sys.stderr,
            flush=True,
        )
    for path in clip_paths(faces):
        out = cache / f"clip.{path.stem}.npz"
        if out.is_file():
            continue
        t0 = time.monotonic()
        seen = embed_clip(pipeline, path, dim)
        seen.save(out)
        print(
            f"{path.name}: {len(seen.ok)} frames, {int(seen.ok.sum())} with a face "
            f"({time.monotonic() - t0:.0f} s)",
            file=sys.stderr,
            flush=True,
        )


def _dim(pipeline: FacePipeline) -> int:
    size = pipeline.embedder.chip_size
    return int(pipeline.embed([np.zeros((size, size, 3), np.uint8)]).shape[1])
