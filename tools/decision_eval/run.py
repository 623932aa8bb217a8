"""The command: fill the cache, build the attempts, run every rule, print the report
(``python -m tools.decision_eval``; the package's docstring says what is measured).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

import tools.decision_eval
from kiosk.config import Settings
from kiosk.domain.faces import FloatArray
from kiosk.errors import KioskError
from kiosk.vision.matcher import build_gallery
from kiosk.vision.pipeline import FacePipeline
from tools.decision_eval.attempts import Data
from tools.decision_eval.cache import cache_dir, embed_all
from tools.decision_eval.common import CLIP_FPS, FRAMES, default_faces_dir
from tools.decision_eval.report import report, summarize
from tools.decision_eval.rules import effective_threshold, evaluate

DESCRIPTION = (tools.decision_eval.__doc__ or "").split("\n\n")[0]


def _stacked(gallery: tuple[list[FloatArray], list[int]]) -> tuple[FloatArray, list[int]]:
    emb, labels = gallery
    return np.asarray(emb, np.float32).reshape(len(labels), -1), labels


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.decision_eval", description=DESCRIPTION)
    parser.add_argument("--faces", type=Path, default=default_faces_dir(), help="../shared/faces")
    parser.add_argument(
        "--cache",
        type=Path,
        default=Path(".decision-eval-cache"),
        help="where embeddings are kept between runs (default .decision-eval-cache)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--quick", action="store_true", help="a quarter of the attempts")
    parser.add_argument("--embed-only", action="store_true", help="only fill the cache")
    args = parser.parse_args(argv)
    if not (args.faces / "lfw_dev").is_dir():
        print(f"error: no face photos at {args.faces} (use --faces)", file=sys.stderr)
        return 2
    logging.getLogger("kiosk").setLevel(logging.WARNING)
    try:
        settings = Settings.load()
    except KioskError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    pipeline = FacePipeline.load(settings.vision)
    cache = cache_dir(args.cache, pipeline)
    t0 = time.monotonic()
    embed_all(pipeline, args.faces, cache)
    if args.embed_only:
        return 0
    data = Data(args.faces, cache, args.quick)
    results = summarize(evaluate(data, settings, args.quick))
    out = {
        "model": f"{pipeline.model_info.name} {pipeline.model_info.version}",
        "threshold": settings.vision.threshold,
        "level": settings.vision.level,
        "threshold_all_in_one_gallery": round(
            effective_threshold(
                build_gallery(*_stacked(data.galleries["all"]), settings.vision), settings
            ),
            4,
        ),
        "ambiguity_margin": settings.vision.ambiguity_margin,
        "decision": asdict(settings.decision),
        "frames_per_photo": FRAMES,
        "clip_fps": CLIP_FPS,
        "people_enrolled": {k: len(set(v[1])) for k, v in data.galleries.items() if "but" not in k},
        "attempts": len(data.trials),
        "seconds": round(time.monotonic() - t0),
        "results": results,
    }
    print(
        f"{out['model']}, level {settings.vision.level}, threshold of the all-in-one gallery "
        f"{out['threshold_all_in_one_gallery']}, attempts {len(data.trials)}"
    )
    print(report(results))
    if args.json:
        args.json.write_text(json.dumps(out, indent=1) + "\n")
    return 0
