"""How long training a site head takes (a benchmark, not a test; run it on a quiet
machine).

    python -m tools.adapt_bench [--people 100] [--photos 10] [--views 4] [--device cpu|cuda]
                                [--json FILE]

Builds a site of ``people`` x ``photos`` aligned chips from the development photos (the
sets have too few people with ten photos, so each synthetic person is one real person's
photos, repeated with small random changes where they run out), then times the stages
``kiosk adapt`` runs: embedding the photos' augmentations, the leave-people-out
measurement (one head per fold) and the final head. The issue's target: a few minutes on
the CPU for 100 people x 10 photos.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from kiosk.config import Settings
from kiosk.vision.adapt import AdaptConfig, Views, augment_chip, augmented_views, fit, site_curve
from kiosk.vision.embedder import resolve_device
from kiosk.vision.imageio import read_image
from kiosk.vision.pipeline import FacePipeline, main_face_index
from tools.openset import default_faces_dir, people_of


def site_chips(
    pipeline: FacePipeline, faces: Path, people: int, photos: int, seed: int = 0
) -> tuple[list[np.ndarray], np.ndarray]:
    rng = np.random.default_rng(seed)
    chips: list[np.ndarray] = []
    labels: list[int] = []
    person = 0
    for name in ("orl", "lfw_dev", "deepface", "faceapi_bbt", "face_recognition"):
        for files in people_of(faces / name).values():
            if person >= people:
                break
            own = []
            for f in files[:photos]:
                rgb = read_image(f, 1600).rgb
                found = pipeline.detect(rgb)
                idx = main_face_index(found, rgb.shape[1], rgb.shape[0])
                if idx is not None:
                    own.append(pipeline.align(rgb, [found[idx]])[0])
            if len(own) < 2:
                continue
            while len(own) < photos:
                own.append(augment_chip(own[len(own) % max(1, len(own))], rng))
            chips += own[:photos]
            labels += [person] * photos
            person += 1
    return chips, np.array(labels)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.adapt_bench")
    parser.add_argument("--faces", type=Path, default=default_faces_dir())
    parser.add_argument("--people", type=int, default=100)
    parser.add_argument("--photos", type=int, default=10)
    parser.add_argument("--views", type=int, default=4)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    vision = replace(Settings.load().vision, device=args.device)
    pipeline = FacePipeline.load(vision)
    device = resolve_device(args.device)
    chips, labels = site_chips(pipeline, args.faces, args.people, args.photos)
    base = pipeline.embed(chips)
    config = AdaptConfig()
    times: dict[str, Any] = {
        "people": int(len(np.unique(labels))),
        "photos": len(chips),
        "views": args.views,
        "device": str(device),
    }
    t = time.perf_counter()
    extra = augmented_views(chips, pipeline.embed, args.views)
    times["augment_s"] = round(time.perf_counter() - t, 2)
    views = Views(base, labels, extra)
    t = time.perf_counter()
    site_curve(views, config, folds=args.folds, device=device)
    times["site_measure_s"] = round(time.perf_counter() - t, 2)
    t = time.perf_counter()
    _, report = fit(views, config, device=device)
    times["final_head_s"] = round(time.perf_counter() - t, 2)
    times["best_epoch"] = report.get("best_epoch")
    times["total_s"] = round(
        times["augment_s"] + times["site_measure_s"] + times["final_head_s"], 2
    )
    print(json.dumps(times, indent=1))
    if args.json:
        args.json.write_text(json.dumps(times, indent=2))
    return 0 if times["people"] == args.people else 1


if __name__ == "__main__":
    sys.exit(main())
