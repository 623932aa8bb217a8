"""Accuracy on the labelled faces in ../shared/faces (a script, not a test).

    python -m tools.evaluate [--faces DIR] [--json FILE]

Prints, for the shipped threshold and for the pipeline as configured:
- LFW fold 1 (lfw_dev/pairs.txt, 600 pairs): accuracy at the shipped threshold (a pair
  with a missing face counts as wrong), the best threshold on this fold, a 10-fold
  cross-validated accuracy (threshold chosen on 9 tenths, tested on the tenth), and the
  true-accept rate at false-accept rates of 1 % and 0.1 %;
- the 580 labelled pairs of deepface (master.csv, face-recognition-pivot.csv);
- 1:N identification on deepface/, face_recognition/ and orl/: 3 photos enrolled for half
  of the people, every other photo identified: correct, wrong, rejected, and how many
  photos of never-enrolled people were wrongly accepted.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from kiosk.config import Settings
from kiosk.domain.faces import MatchKind
from kiosk.errors import KioskError
from kiosk.vision.calibration import operating_point
from kiosk.vision.imageio import read_image
from kiosk.vision.matcher import Gallery
from kiosk.vision.pipeline import FacePipeline, main_face_index


def default_faces_dir() -> Path:
    env = os.environ.get("KIOSK_FACES_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared" / "faces"


class Embeddings:
    """Main-face embeddings of image files, computed once per file."""

    def __init__(self, pipeline: FacePipeline, max_side: int) -> None:
        self.pipeline = pipeline
        self.max_side = max_side
        self.cache: dict[Path, np.ndarray | None] = {}
        self.missing: list[str] = []

    def get(self, path: Path) -> np.ndarray | None:
        if path not in self.cache:
            emb = None
            try:
                image = read_image(path, self.max_side)
                faces = self.pipeline.detect(image.rgb)
                idx = main_face_index(faces, image.rgb.shape[1], image.rgb.shape[0])
                if idx is not None:
                    emb = self.pipeline.analyze(image.rgb, [faces[idx]])[0].embedding
            except KioskError:
                pass
            if emb is None:
                self.missing.append(str(path))
            self.cache[path] = emb
        return self.cache[path]


def pair_distances(
    emb: Embeddings, pairs: list[tuple[Path, Path, bool]]
) -> tuple[np.ndarray, np.ndarray]:
    """Distance per pair (inf where a face is missing) and the same/different labels."""
    d = np.empty(len(pairs))
    for i, (a, b, _) in enumerate(pairs):
        ea, eb = emb.get(a), emb.get(b)
        d[i] = np.inf if ea is None or eb is None else float(np.linalg.norm(ea - eb))
    return d, np.array([same for *_, same in pairs])


def accuracy(d: np.ndarray, same: np.ndarray, threshold: float | None) -> float:
    assert threshold is not None
    # A missing face (inf) is predicted "different": wrong for a same pair, right otherwise.
    return float(np.mean((d <= threshold) == same))


def best_threshold(d: np.ndarray, same: np.ndarray) -> float:
    finite = np.sort(d[np.isfinite(d)])
    candidates = (finite[:-1] + finite[1:]) / 2 if len(finite) > 1 else finite
    scores = [accuracy(d, same, t) for t in candidates]
    return float(candidates[int(np.argmax(scores))])


def tar_at_far(d: np.ndarray, same: np.ndarray, far: float) -> tuple[float, float]:
    """True-accept rate at the largest threshold whose false-accept rate is <= far."""
    diff = np.sort(d[~same])
    allowed = int(np.floor(far * len(diff)))
    threshold = diff[allowed] - 1e-9 if allowed < len(diff) else np.inf
    return float(np.mean(d[same] <= threshold)), float(threshold)


def lfw_pairs(root: Path) -> list[tuple[Path, Path, bool]]:
    lines = (root / "pairs.txt").read_text().split("\n")[1:]
    pairs = []
    for line in lines:
        f = line.split()
        if len(f) == 3:
            pairs.append(
                (
                    root / f[0] / f"{f[0]}_{int(f[1]):04d}.jpg",
                    root / f[0] / f"{f[0]}_{int(f[2]):04d}.jpg",
                    True,
                )
            )
        elif len(f) == 4:
            pairs.append(
                (
                    root / f[0] / f"{f[0]}_{int(f[1]):04d}.jpg",
                    root / f[2] / f"{f[2]}_{int(f[3]):04d}.jpg",
                    False,
                )
            )
    return pairs


def deepface_pairs(root: Path) -> list[tuple[Path, Path, bool]]:
    by_source: dict[str, Path] = {}
    with (root / "labels.csv").open() as fh:
        for row in csv.DictReader(fh):
            by_source[row["source_file"]] = root / row["image"]
    pairs = []
    for name, col in (("master.csv", "Decision"), ("face-recognition-pivot.csv", "decision")):
        with (root / name).open() as fh:
            for row in csv.DictReader(fh):
                a, b = (
                    by_source.get(Path(row["file_x"]).name),
                    by_source.get(Path(row["file_y"]).name),
                )
                if a and b:
                    pairs.append((a, b, row[col].strip().lower() == "yes"))
    return pairs


def identity_sets(faces: Path) -> dict[str, dict[str, list[Path]]]:
    sets: dict[str, dict[str, list[Path]]] = {}
    for name in ("deepface", "face_recognition", "orl"):
        people: dict[str, list[Path]] = {}
        for d in sorted((faces / name).iterdir()):
            if d.is_dir() and not d.name.startswith("_"):
                photos = sorted(
                    p for p in d.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".pgm")
                )
                if photos:
                    people[d.name] = photos
        sets[name] = people
    return sets


def identification(
    emb: Embeddings, people: dict[str, list[Path]], threshold: float | None, margin: float
) -> dict[str, Any]:
    """Enroll 3 photos for every other person (those with at least 4 photos), identify the rest."""
    names = sorted(people)
    enrolled = [n for n in names[::2] if len(people[n]) >= 4]
    gallery_e: list[np.ndarray] = []
    gallery_l: list[int] = []
    probes: list[tuple[Path, int | None]] = []
    for index, name in enumerate(names):
        photos = people[name]
        if name in enrolled:
            for p in photos[:3]:
                e = emb.get(p)
                if e is not None:
                    gallery_e.append(e)
                    gallery_l.append(index)
            probes += [(p, index) for p in photos[3:]]
        else:
            probes += [(p, None) for p in photos]
    gallery = Gallery(np.stack(gallery_e), gallery_l)
    counts = {
        "correct": 0,
        "wrong": 0,
        "rejected": 0,
        "no_face": 0,
        "unknown_probes": 0,
        "unknown_accepted": 0,
        "enrolled_probes": 0,
    }
    for path, label in probes:
        e = emb.get(path)
        if label is None:
            counts["unknown_probes"] += 1
        else:
            counts["enrolled_probes"] += 1
        if e is None:
            counts["no_face"] += 1
            continue
        m = gallery.search(e[None], threshold, margin)[0]
        accepted = m.kind is MatchKind.MATCH
        if label is None:
            counts["unknown_accepted"] += accepted
        elif not accepted:
            counts["rejected"] += 1
        elif m.label == label:
            counts["correct"] += 1
        else:
            counts["wrong"] += 1
    counts["people_enrolled"] = len(enrolled)
    counts["people_unknown"] = len(names) - len(enrolled)
    return counts


def run(faces: Path, settings: Settings, sweep: bool = False) -> dict[str, Any]:
    v = settings.vision
    # one comparison (a pair) is a gallery of one person at the configured level, as
    # `verify` decides it (two photos, no stranger at a door: the photo curve alone)
    v = replace(v, threshold=operating_point(v, 1, door=False).threshold)
    settings = replace(settings, vision=v)
    assert v.threshold is not None
    t0 = time.perf_counter()
    pipeline = FacePipeline.load(v)
    emb = Embeddings(pipeline, v.max_image_side)
    report: dict[str, Any] = {
        "threshold": v.threshold,
        "flip_average": v.flip_average,
        "device": pipeline.device,
    }

    d, same = pair_distances(emb, lfw_pairs(faces / "lfw_dev"))
    folds = np.arange(len(d)) % 10
    cv_correct = 0
    for k in range(10):
        t = best_threshold(d[folds != k], same[folds != k])
        cv_correct += int(np.sum((d[folds == k] <= t) == same[folds == k]))
    report["lfw_dev"] = {
        "pairs": len(d),
        "missing_face_pairs": int(np.sum(~np.isfinite(d))),
        "accuracy_at_threshold": accuracy(d, same, v.threshold),
        "best_threshold": best_threshold(d, same),
        "accuracy_at_best_threshold": accuracy(d, same, best_threshold(d, same)),
        "accuracy_10fold_cv": cv_correct / len(d),
        "tar_at_far_1pct": tar_at_far(d, same, 0.01)[0],
        "tar_at_far_0.1pct": tar_at_far(d, same, 0.001)[0],
    }
    d2, same2 = pair_distances(emb, deepface_pairs(faces / "deepface"))
    report["deepface_pairs"] = {
        "pairs": len(d2),
        "missing_face_pairs": int(np.sum(~np.isfinite(d2))),
        "accuracy_at_threshold": accuracy(d2, same2, v.threshold),
    }
    report["identification"] = {
        name: identification(emb, people, v.threshold, v.ambiguity_margin)
        for name, people in identity_sets(faces).items()
    }
    if sweep:
        sets = identity_sets(faces)
        report["sweep"] = {
            f"{t:.2f}": {
                "lfw_dev_accuracy": accuracy(d, same, t),
                "deepface_pairs_accuracy": accuracy(d2, same2, t),
                "lfw_far": float(np.mean(d[~same] <= t)),
                "lfw_frr": float(np.mean(d[same] > t)),
                "unknown_accepted": {
                    name: identification(emb, people, t, v.ambiguity_margin)["unknown_accepted"]
                    for name, people in sets.items()
                },
            }
            for t in np.arange(*pipeline.embedder.spec.threshold_range, 0.01)
        }
    report["images_without_face"] = sorted(set(emb.missing))
    report["seconds"] = round(time.perf_counter() - t0, 1)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.evaluate", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--faces", type=Path, default=default_faces_dir())
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--threshold", type=float, help="override the shipped threshold")
    parser.add_argument(
        "--no-flip", action="store_true", help="embed the chip only, not its mirror"
    )
    parser.add_argument("--sweep", action="store_true", help="also tabulate thresholds 0.50-0.65")
    args = parser.parse_args(argv)
    settings = Settings.load()
    vision = settings.vision
    if args.threshold is not None:
        vision = replace(vision, threshold=args.threshold)
    if args.no_flip:
        vision = replace(vision, flip_average=False)
    if not (args.faces / "lfw_dev").is_dir():
        print(
            f"error: {args.faces} holds no lfw_dev folder; set --faces or KIOSK_FACES_DIR",
            file=sys.stderr,
        )
        return 2
    report = run(args.faces, replace(settings, vision=vision), sweep=args.sweep)
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
