"""Measure the distance curves the kiosk's operating point is chosen from (a tool).

    python -m tools.calibrate [--network sface|dlib] [--out kiosk/vision/calibration]

For every development set in ../shared/faces (lfw_dev, deepface, orl, faceapi_bbt,
face_recognition), every person is enrolled from up to 3 of their photos, keeping one back
when they have fewer than 4 (their person score is the distance to the centre of those
templates, or to the nearest one), and:

- every photo of every OTHER person of the same set is compared with them: impostor
  comparisons, the chance that one enrolled person is matched by one stranger's photo;
- every other photo of theirs is compared with them: genuine comparisons.

The file written per network and scoring keeps the smallest impostor distances (the tail
a door's threshold lives in), the count of all impostor comparisons, and the sorted
genuine distances. ``kiosk.domain.operating`` turns them into a threshold for a gallery
size and a security level, and the security page into figures with counts.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from kiosk.config import Settings
from kiosk.vision.matcher import SCORINGS
from kiosk.vision.pipeline import FacePipeline
from tools.openset import SETS, EmbeddingCache, default_faces_dir, embed_sets

TAIL = 4000
ENROLL = 3


def curves(
    data: dict[str, dict[str, list[np.ndarray | None]]], scoring: str, unit: bool, seed: int
) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    impostor: list[np.ndarray] = []
    genuine: list[np.ndarray] = []
    per_set: dict[str, dict[str, int]] = {}
    for name, people in data.items():
        embs = [
            np.stack([e for e in v if e is not None])
            for v in people.values()
            if any(e is not None for e in v)
        ]
        probes = np.concatenate(embs)
        owner = np.concatenate([np.full(len(e), i) for i, e in enumerate(embs)])
        n_imp = n_gen = 0
        for i, e in enumerate(embs):
            order = rng.permutation(len(e))
            k = min(ENROLL, max(1, len(e) - 1))  # keep a photo back for a genuine search
            enrolled, rest = e[order[:k]], e[order[k:]]
            others = probes[owner != i]
            if scoring == "centre":
                c = enrolled.mean(0)
                if unit:
                    c = c / np.linalg.norm(c)
                d_imp = np.linalg.norm(others - c, axis=1)
                d_gen = np.linalg.norm(rest - c, axis=1)
            else:
                d_imp = np.linalg.norm(others[:, None] - enrolled[None], axis=2).min(1)
                d_gen = (
                    np.linalg.norm(rest[:, None] - enrolled[None], axis=2).min(1)
                    if len(rest)
                    else np.zeros(0)
                )
            impostor.append(d_imp)
            genuine.append(d_gen)
            n_imp += len(d_imp)
            n_gen += len(d_gen)
        per_set[name] = {"people": len(embs), "impostor": n_imp, "genuine": n_gen}
    imp = np.sort(np.concatenate(impostor))
    gen = np.sort(np.concatenate(genuine))
    return {
        "scoring": scoring,
        "enrolled_photos": ENROLL,
        "impostor_comparisons": int(len(imp)),
        "impostor_tail": [round(float(x), 4) for x in imp[:TAIL]],
        # beyond the tail: how many impostor distances are <= t on a 0.01 grid
        "impostor_grid": [
            [round(float(t), 2), int(np.searchsorted(imp, t, side="right"))]
            for t in np.arange(0.0, 2.0001, 0.01)
        ],
        "genuine": [round(float(x), 4) for x in gen],
        "sets": per_set,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.calibrate", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--faces", type=Path, default=default_faces_dir())
    parser.add_argument("--network", choices=("sface", "dlib"), action="append")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).resolve().parents[1] / "kiosk/vision/calibration"
    )
    args = parser.parse_args(argv)
    if not (args.faces / "lfw_dev").is_dir():
        print(f"error: {args.faces} holds no lfw_dev folder; set --faces", file=sys.stderr)
        return 2
    base = Settings.load().vision
    for network in args.network or ["sface", "dlib"]:
        vision = replace(base, network=network, device="cpu")
        pipeline = FacePipeline.load(vision)
        unit = pipeline.embedder.spec.normalized
        cache = EmbeddingCache(pipeline, vision.max_image_side, args.faces)
        data = embed_sets(cache, args.faces, SETS)
        for scoring in SCORINGS:
            out: dict[str, Any] = {
                "network": network,
                "model": f"{pipeline.model_info.name} {pipeline.model_info.version}",
                "measured": datetime.now(UTC).strftime("%Y-%m-%d"),
                "command": "python -m tools.calibrate",
                **curves(data, scoring, unit, args.seed),
            }
            args.out.mkdir(parents=True, exist_ok=True)
            path = args.out / f"{network}-{scoring}.json"
            path.write_text(json.dumps(out, separators=(",", ":")) + "\n")
            print(
                f"{path}: {out['impostor_comparisons']:,} impostor and {len(out['genuine']):,} "
                f"genuine comparisons; smallest impostor distances {out['impostor_tail'][:5]}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
