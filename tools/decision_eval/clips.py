"""Step 1b: the clips of live people (``video/liveness/genuine``), read as the kiosk reads
a camera: about ``CLIP_FPS`` frames a second, the decided-on face of each.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np

from kiosk.domain.faces import Box
from kiosk.vision.pipeline import FacePipeline
from tools.decision_eval.common import CLIP_FPS, Seen, look


def clip_paths(root: Path) -> list[Path]:
    folder = root / "video" / "liveness" / "genuine"
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in {".mp4", ".mpg", ".avi"})


def embed_clip(pipeline: FacePipeline, path: Path, dim: int) -> Seen:
    """The decided-on face about ``CLIP_FPS`` times a second, scaled to at most 640 px."""
    cap = cv2.VideoCapture(str(path))
    native = cap.get(cv2.CAP_PROP_FPS) or 25.0
    rows: list[tuple[float, bool, Any, float, Box]] = []
    next_t, i = 0.0, 0
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        msec = cap.get(cv2.CAP_PROP_POS_MSEC)
        t = msec / 1000.0 if msec and msec > 0 else i / native
        i += 1
        if t + 1e-6 < next_t:
            continue
        next_t = max(next_t + 1.0 / CLIP_FPS, t)
        rgb = np.asarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), np.uint8)
        scale = 640 / max(rgb.shape[:2])
        if scale < 1:
            rgb = np.asarray(
                cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA), np.uint8
            )
        rows.append((t, *look(pipeline, np.ascontiguousarray(rgb), main=False)))
    cap.release()
    seen = Seen.empty(len(rows), dim)
    for r, (t, ok_face, emb, q, box) in enumerate(rows):
        seen.time[r] = t - rows[0][0]
        if ok_face:
            seen.ok[r], seen.emb[r], seen.quality[r] = True, emb, q
            seen.box[r] = (box.x1, box.y1, box.x2, box.y2)
    return seen
