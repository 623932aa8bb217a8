"""Does a site-adapted head beat the plain embedding? (a tool, not a test)

    python -m tools.adapt_eval [--splits 10] [--seed 0] [--variants none,photo,noise]
                               [--kind linear|mlp] [--json FILE]

The open-set protocol of ``tools/openset.py`` (its splits, searches and rates), on the
development sets ORL, faceapi_bbt, deepface and the LFW fold-1 people: in each random
split half of the people with 4 photos or more are enrolled ("enroll 3": from 3 photos;
"enroll all-but-one"), and

- the plain network is measured as the kiosk runs it (people scored by the centre of
  their photos, the level's threshold for the gallery's size);
- a head is trained on the enrolled people's enrollment photos ONLY (early stopping on one
  held-out enrollment photo per person, then trained again on all of them), and the same
  searches are made through it: the enrolled people's other photos (mated searches) and
  every photo of everyone never enrolled (strangers, never seen in training). Its
  threshold is chosen as the kiosk would choose it: from the enrolled people's own
  leave-people-out distances (``kiosk.vision.adapt.site_curve``), at the same level.

Reported per protocol and variant (augmentation: ``none``; ``photo``: random crops,
brightness, blur and JPEG of the aligned chips, embedded again; ``noise``: the same number
of views made in embedding space; ``photo_simsiam``: ``photo`` plus the SimSiam term on the
same photos' views without their labels), per set and pooled: FNIR at FPIR 1 % and 0.1 %
(thresholds from the pooled stranger searches) and at the kiosk's own operating point,
with counts and 95 % bounds; and over the splits (each split's sets pooled) the mean and
spread of FNIR at FPIR 1 % and 0.1 %.

Embeddings of photos and of their augmentations are cached under the kiosk's cache folder
(``eval/``), so a second run only trains.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import zlib
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from kiosk.config import Settings, VisionSettings
from kiosk.domain.faces import DetectedFace
from kiosk.vision.adapt import AdaptConfig, Views, augment_chip, fit, noise_views, site_curve
from kiosk.vision.calibration import operating_point
from kiosk.vision.head import head_operating_point
from kiosk.vision.pipeline import FacePipeline
from kiosk.vision.weights import cache_dir
from tools.openset import (
    SETS,
    Searches,
    Split,
    default_faces_dir,
    make_split,
    people_of,
    rates_at,
    search,
    summarize,
    threshold_at_fpir,
)
from tools.photo_cache import EmbeddingCache, PhotoCache

EVAL_SETS = ("orl", "faceapi_bbt", "deepface", "lfw_dev")
VARIANTS = ("none", "photo", "noise", "photo_simsiam")
MIN_PHOTOS = 4  # tools.openset enrolls people with at least this many photos
AUGMENTATIONS = 8  # augmented views per photo kept in the cache
PROTOCOLS: tuple[tuple[str, int | None], ...] = (("enroll_3", 3), ("enroll_all_but_one", None))
D = 128


class AugmentCache(PhotoCache):
    """Embeddings of ``AUGMENTATIONS`` augmentations of each photo's main-face chip."""

    ARRAY = "views"
    SHAPE = (AUGMENTATIONS, D)

    def __init__(self, pipeline: FacePipeline, max_side: int, faces: Path) -> None:
        info = pipeline.model_info
        name = f"augment{AUGMENTATIONS}-{info.name}-{info.version}-{info.checksum[:12]}.npz"
        super().__init__(pipeline, max_side, faces, cache_dir() / "eval" / name)

    def compute(self, rgb: np.ndarray, face: DetectedFace, key: str) -> np.ndarray:
        chip = self.pipeline.align(rgb, [face])[0]
        rng = np.random.default_rng(zlib.crc32(key.encode()))
        chips = [augment_chip(chip, rng) for _ in range(AUGMENTATIONS)]
        return self.pipeline.embed(chips)


def load_sets(
    pipeline: FacePipeline, vision: VisionSettings, faces: Path, sets: Sequence[str]
) -> dict[str, dict[str, list[np.ndarray | None]]]:
    """Per set and person, one row per photo: the photo's embedding followed by the
    embeddings of its augmentations (zeros for people never enrolled), or None without a
    face. ``make_split`` only stacks rows, so the augmentations follow their photo."""
    emb = EmbeddingCache(pipeline, vision.max_image_side, faces)
    aug = AugmentCache(pipeline, vision.max_image_side, faces)
    out: dict[str, dict[str, list[np.ndarray | None]]] = {}
    for name in sets:
        people = people_of(faces / name)
        rows: dict[str, list[np.ndarray | None]] = {}
        for n, (person, photos) in enumerate(people.items()):
            rows[person] = []
            for photo in photos:
                e = emb.get(photo)
                if e is None:
                    rows[person].append(None)
                    continue
                views = aug.get(photo) if len(photos) >= MIN_PHOTOS else None
                if views is None:
                    views = np.zeros((AUGMENTATIONS, D), np.float32)
                rows[person].append(np.concatenate([e, views.reshape(-1)]).astype(np.float32))
            if n % 20 == 19:
                emb.save()
                aug.save()
        emb.save()
        aug.save()
        out[name] = rows
    return out


def base_split(split: Split) -> Split:
    """The split with only the photos' own embeddings."""
    return replace(
        split,
        templates=split.templates[:, :D],
        mated=split.mated[:, :D],
        strangers=split.strangers[:, :D],
    )


def head_views(split: Split, variant: str, per_photo: int, seed: int) -> Views:
    base = split.templates[:, :D]
    if variant == "none":
        extra = np.zeros((len(base), 0, D), np.float32)
    elif variant == "photo":
        extra = split.templates[:, D:].reshape(len(base), AUGMENTATIONS, D)[:, :per_photo]
    elif variant == "noise":
        extra = noise_views(base, split.labels, per_photo, scale=0.5, seed=seed)
    elif variant == "photo_simsiam":
        # the SimSiam term's unlabelled photos: the same enrollment photos and their
        # augmentations without their labels (the development sets hold no separate
        # unlabelled frames of a site)
        extra = split.templates[:, D:].reshape(len(base), AUGMENTATIONS, D)[:, :per_photo]
        unlabelled = np.concatenate([base[:, None], extra], axis=1)
        return Views(base, split.labels, extra, unlabelled)
    else:
        raise ValueError(variant)
    return Views(base, split.labels, extra)


def per_split_fnir(
    per_split: list[Searches], margin: float
) -> dict[str, dict[str, float | list[float]]]:
    out: dict[str, dict[str, float | list[float]]] = {}
    for name, target in (("fpir_1pct", 0.01), ("fpir_0.1pct", 0.001)):
        values = [
            float(rates_at(s, threshold_at_fpir(s, target, margin), margin)["fnir"])
            for s in per_split
        ]
        out[name] = {
            "fnir_mean": round(float(np.mean(values)), 5),
            "fnir_std": round(float(np.std(values, ddof=1)) if len(values) > 1 else 0.0, 5),
            "fnir_per_split": [round(v, 5) for v in values],
        }
    return out


def run(
    faces: Path,
    vision: VisionSettings,
    *,
    splits: int,
    seed: int,
    sets: Sequence[str],
    variants: Sequence[str],
    config: AdaptConfig,
    per_photo: int,
    folds: int,
    protocols: Sequence[tuple[str, int | None]] = PROTOCOLS,
    log: Any = print,
) -> dict[str, Any]:
    t0 = time.perf_counter()
    pipeline = FacePipeline.load(vision)
    data = load_sets(pipeline, vision, faces, sets)
    margin = vision.ambiguity_margin
    report: dict[str, Any] = {
        "network": vision.network,
        "model": f"{pipeline.model_info.name} {pipeline.model_info.version}",
        "level": vision.level,
        "splits": splits,
        "seed": seed,
        "sets": list(sets),
        "head": {k: v for k, v in vars(config).items()},
        "augmented_views_per_photo": per_photo,
        "site_curve_folds": folds,
        # without the site measurement (--folds 0) a head has no operating point of its own
        "head_operating_point_measured": folds > 0,
        "protocols": {},
    }
    for proto, enroll in protocols:
        names = ["plain", *[f"head_{v}" for v in variants]]
        pooled = {n: Searches.empty() for n in names}
        per_set = {n: {s: Searches.empty() for s in sets} for n in names}
        split_pool = {n: [Searches.empty() for _ in range(splits)] for n in names}
        epochs: dict[str, list[int]] = {n: [] for n in names}
        for k in range(splits):
            for name in sets:
                rng = np.random.default_rng([seed, k, SETS.index(name)])
                split = make_split(data[name], rng, enroll, min_photos=MIN_PHOTOS)
                plain = base_split(split)
                t = operating_point(replace(vision, scoring="centre"), split.people).threshold
                results = {"plain": search(plain, "centre", True, t)}
                for v in variants:
                    cfg = replace(
                        config,
                        seed=seed * 1000 + k,
                        simsiam_weight=1.0 if v == "photo_simsiam" else 0.0,
                    )
                    views = head_views(split, v, per_photo, cfg.seed)
                    head, info = fit(views, cfg)
                    epochs[f"head_{v}"].append(int(info.get("best_epoch", 0)))
                    if folds > 0:
                        measure = site_curve(views, cfg, folds=folds)
                        curve = measure.head.curve(vision.network + "+head", report["model"])
                        ht = head_operating_point(curve, vision, split.people).threshold
                    else:  # not measured (tuning runs): the plain threshold, meaningless
                        ht = t
                    project = _projector(head)
                    projected = replace(
                        plain,
                        templates=project(plain.templates),
                        mated=project(plain.mated),
                        strangers=project(plain.strangers),
                    )
                    results[f"head_{v}"] = search(projected, "centre", True, ht)
                for n, r in results.items():
                    per_set[n][name] = per_set[n][name].extend(r)
                    pooled[n] = pooled[n].extend(r)
                    split_pool[n][k] = split_pool[n][k].extend(r)
            log(f"{proto}: split {k + 1}/{splits} done ({time.perf_counter() - t0:.0f} s)")
        report["protocols"][proto] = {
            n: {
                "pooled": _brief(summarize(pooled[n], margin, [])),
                "over_splits": per_split_fnir(split_pool[n], margin),
                "sets": {s: _brief(summarize(per_set[n][s], margin, [])) for s in sets},
                "best_epochs": epochs[n] or None,
            }
            for n in names
        }
    report["seconds"] = round(time.perf_counter() - t0, 1)
    return report


def _projector(head: Any) -> Any:
    import torch

    def project(x: np.ndarray) -> np.ndarray:
        if len(x) == 0:
            return x
        with torch.no_grad():
            return head(torch.from_numpy(np.asarray(x, np.float32))).numpy()

    return project


def _brief(summary: dict[str, Any]) -> dict[str, Any]:
    keep = ("threshold", "fnir", "fnir_count", "fnir_text", "fpir", "fpir_count", "fpir_text")
    out = {k: summary[k] for k in ("mated_searches", "stranger_searches")}
    for key in ("at_threshold", "fpir_1pct", "fpir_0.1pct"):
        out[key] = {k: summary[key][k] for k in keep}
    return out


def print_table(report: dict[str, Any]) -> None:
    print(
        f"\n{report['model']}, level {report['level']}, {report['splits']} splits "
        f"(seed {report['seed']}), head {report['head']['kind']}"
    )
    for proto, by_variant in report["protocols"].items():
        print(f"\n== {proto}")
        print(
            f"  {'':12s} {'FNIR@FPIR1%':>12s} {'FNIR@FPIR0.1%':>14s} "
            f"{'splits: mean±sd @1%':>20s} {'@0.1%':>14s}   at the kiosk's operating point"
        )
        for n, r in by_variant.items():
            p, o = r["pooled"], r["over_splits"]
            a = p["at_threshold"]
            if n != "plain" and not report["head_operating_point_measured"]:
                a = {"fnir_count": "not measured", "fpir_count": "not measured (--folds 0)"}
            print(
                f"  {n:12s} {p['fpir_1pct']['fnir_count']:>12s} "
                f"{p['fpir_0.1pct']['fnir_count']:>14s}"
                f" {o['fpir_1pct']['fnir_mean']:>11.4f}±{o['fpir_1pct']['fnir_std']:.4f}"
                f" {o['fpir_0.1pct']['fnir_mean']:>7.4f}±{o['fpir_0.1pct']['fnir_std']:.4f}"
                f"   FNIR {a['fnir_count']}, FPIR {a['fpir_count']}"
            )
            for s, v in r["sets"].items():
                a = v["at_threshold"]
                if n != "plain" and not report["head_operating_point_measured"]:
                    a = {"fnir_count": "-", "fpir_count": "-"}
                print(
                    f"      {s:12s} {v['fpir_1pct']['fnir_count']:>8s} "
                    f"{v['fpir_0.1pct']['fnir_count']:>14s}"
                    f"   at the operating point: FNIR {a['fnir_count']}, FPIR {a['fpir_count']}"
                )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.adapt_eval", description=(__doc__ or "").split("\n")[0]
    )
    parser.add_argument("--faces", type=Path, default=default_faces_dir())
    parser.add_argument("--splits", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sets", default=",".join(EVAL_SETS))
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--protocols", default=",".join(p for p, _ in PROTOCOLS))
    parser.add_argument("--kind", choices=("linear", "mlp"), default=AdaptConfig.kind)
    parser.add_argument("--margin", type=float, default=AdaptConfig.margin)
    parser.add_argument("--pos-margin", type=float, default=AdaptConfig.pos_margin)
    parser.add_argument("--weight-decay", type=float, default=AdaptConfig.weight_decay)
    parser.add_argument("--lr", type=float, default=AdaptConfig.lr)
    parser.add_argument("--no-refit", action="store_true")
    parser.add_argument("--views", type=int, default=4, help="augmented views per photo")
    parser.add_argument(
        "--folds", type=int, default=5, help="folds of the site curve (0: not measured)"
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    vision = Settings.load().vision
    if not (args.faces / "lfw_dev").is_dir():
        print(f"error: {args.faces} holds no lfw_dev folder; set --faces", file=sys.stderr)
        return 2
    variants = [v for v in args.variants.split(",") if v]
    if any(v not in VARIANTS for v in variants) or not 0 <= args.views <= AUGMENTATIONS:
        print(
            f"error: variants are {', '.join(VARIANTS)}; --views 0..{AUGMENTATIONS}",
            file=sys.stderr,
        )
        return 2
    config = AdaptConfig(
        kind=args.kind,
        margin=args.margin,
        pos_margin=args.pos_margin,
        weight_decay=args.weight_decay,
        lr=args.lr,
        refit=not args.no_refit,
    )
    wanted = [p for p in args.protocols.split(",") if p]
    report = run(
        args.faces,
        vision,
        splits=args.splits,
        seed=args.seed,
        sets=[s for s in args.sets.split(",") if s],
        variants=variants,
        config=config,
        per_photo=args.views,
        folds=args.folds,
        protocols=[p for p in PROTOCOLS if p[0] in wanted],
        log=lambda line: print(line, file=sys.stderr, flush=True),
    )
    print_table(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
