"""Open-set 1:N evaluation on the development sets in ../shared/faces (a tool, not a test).

    python -m tools.openset [--network sface|dlib] [--splits 10] [--json FILE]

A door runs an open-set search: every face is searched against everyone enrolled, and the
answer is a person or nobody. For each development set (lfw_dev, deepface, orl,
faceapi_bbt, face_recognition) and each of ``--splits`` random splits:

- half of the people with at least 4 photos are enrolled, from 3 of their photos
  ("enroll 3") or from all but one ("enroll all-but-one");
- every other photo of theirs is searched (mated searches): a miss is a false negative
  (rejected, or taken for someone else);
- every photo of every person not enrolled is searched (stranger searches): any match is
  a false positive.

Reported: FNIR and FPIR at the shipped threshold (with counts and 95 % upper bounds), the
FNIR at FPIR 1 % and 0.1 % (thresholds from the pooled stranger searches), and a threshold
sweep; for two ways of scoring a person: the nearest template and the centre of the
templates. ``--gallery-scale`` adds the building-scale test: half of all lfw_dev people
enrolled (people with fewer than 4 photos enrolled from all of theirs), the other half
searched as strangers.

Embeddings are computed once per image and network and cached under the kiosk's cache
folder (``eval/``), so a second run takes seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from kiosk.config import Settings, VisionSettings
from kiosk.domain.stats import Rate
from kiosk.vision.calibration import operating_point
from kiosk.vision.pipeline import FacePipeline
from tools.photo_cache import LOOKS, EmbeddingCache

SETS = ("lfw_dev", "deepface", "orl", "faceapi_bbt", "face_recognition")
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".pgm", ".webp")
SCORINGS = ("nearest", "centre")


def default_faces_dir() -> Path:
    env = os.environ.get("KIOSK_FACES_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared" / "faces"


def people_of(folder: Path) -> dict[str, list[Path]]:
    """``folder/<person>/<photos>``; folders starting with ``_`` are not people."""
    people: dict[str, list[Path]] = {}
    for d in sorted(folder.iterdir()):
        if d.is_dir() and not d.name.startswith("_"):
            photos = sorted(p for p in d.iterdir() if p.suffix.lower() in PHOTO_SUFFIXES)
            if photos:
                people[d.name] = photos
    return people


@dataclass
class Split:
    """One enrollment: the gallery's templates, the mated and the stranger searches."""

    templates: np.ndarray  # (T, 128)
    labels: np.ndarray  # (T,) person index
    mated: np.ndarray  # (M, 128)
    mated_labels: np.ndarray  # (M,)
    strangers: np.ndarray  # (S, 128)
    no_face: int = 0
    people: int = 0


def make_split(
    people: dict[str, list[np.ndarray | None]],
    rng: np.random.Generator,
    enroll: int | None,
    *,
    min_photos: int = 4,
    enroll_small: bool = False,
) -> Split:
    """Half of the people with at least ``min_photos`` photos enrolled from ``enroll``
    photos each (None: all but one); the rest of their photos are mated searches, and every
    photo of everyone else a stranger search. With ``enroll_small``, half of the people
    with fewer photos are enrolled too, from all of theirs (a larger gallery)."""
    names = sorted(people)
    eligible = [n for n in names if len(people[n]) >= min_photos]
    order = rng.permutation(len(eligible))
    enrolled = {eligible[i] for i in order[: max(1, len(eligible) // 2)]}
    if enroll_small:
        small = [n for n in names if len(people[n]) < min_photos]
        pick = rng.permutation(len(small))[: len(small) // 2]
        enrolled |= {small[i] for i in pick}
    t_e: list[np.ndarray] = []
    t_l: list[int] = []
    m_e: list[np.ndarray] = []
    m_l: list[int] = []
    s_e: list[np.ndarray] = []
    no_face = 0
    for label, name in enumerate(names):
        embs = people[name]
        if name in enrolled:
            idx = rng.permutation(len(embs))
            if len(embs) < min_photos:
                n_enroll = len(embs)
            else:
                n_enroll = len(embs) - 1 if enroll is None else enroll
            for i in idx[:n_enroll]:
                if embs[i] is not None:
                    t_e.append(embs[i])  # type: ignore[arg-type]
                    t_l.append(label)
            for i in idx[n_enroll:]:
                if embs[i] is None:
                    no_face += 1
                else:
                    m_e.append(embs[i])  # type: ignore[arg-type]
                    m_l.append(label)
        else:
            for e in embs:
                if e is None:
                    no_face += 1
                else:
                    s_e.append(e)
    return Split(
        np.stack(t_e),
        np.array(t_l),
        np.stack(m_e) if m_e else np.zeros((0, 128), np.float32),
        np.array(m_l, dtype=np.int64),
        np.stack(s_e) if s_e else np.zeros((0, 128), np.float32),
        no_face,
        len(set(t_l)),
    )


def person_distances(
    templates: np.ndarray, labels: np.ndarray, queries: np.ndarray, scoring: str, unit: bool
) -> tuple[np.ndarray, np.ndarray]:
    """(Q, P) distance from each query to each person, and the P person labels.

    ``nearest``: to the person's nearest template; ``centre``: to the mean of the person's
    templates (put back on the unit sphere when the network's embeddings live there)."""
    people = np.unique(labels)
    if scoring == "nearest":
        d = np.sqrt(np.maximum(((queries[:, None, :] - templates[None]) ** 2).sum(-1), 0))
        out = np.full((len(queries), len(people)), np.inf)
        for j, p in enumerate(people):
            out[:, j] = d[:, labels == p].min(1)
        return out, people
    centres = np.stack([templates[labels == p].mean(0) for p in people])
    if unit:
        centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    return np.sqrt(np.maximum(((queries[:, None, :] - centres[None]) ** 2).sum(-1), 0)), people


@dataclass
class Searches:
    """Best and runner-up person distances of the mated and stranger searches."""

    mated_best: np.ndarray
    mated_second: np.ndarray
    mated_right: np.ndarray  # the best person is the right one
    stranger_best: np.ndarray
    stranger_second: np.ndarray
    #: the threshold the shipped settings use for each search (it follows the gallery's
    #: size, which differs between sets)
    mated_t: np.ndarray
    stranger_t: np.ndarray
    no_face: int = 0
    splits: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def empty(cls) -> Searches:
        z = np.zeros(0)
        return cls(z, z, np.zeros(0, bool), z, z, z, z)

    def extend(self, other: Searches) -> Searches:
        def cat(name: str) -> np.ndarray:
            return np.concatenate([getattr(self, name), getattr(other, name)])

        return Searches(
            cat("mated_best"),
            cat("mated_second"),
            cat("mated_right"),
            cat("stranger_best"),
            cat("stranger_second"),
            cat("mated_t"),
            cat("stranger_t"),
            self.no_face + other.no_face,
            self.splits + other.splits,
        )


def search(split: Split, scoring: str, unit: bool, threshold: float) -> Searches:
    def best_two(q: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if len(q) == 0:
            z = np.zeros(0)
            return z, z, np.zeros(0, np.int64)
        d, people = person_distances(split.templates, split.labels, q, scoring, unit)
        order = np.argsort(d, axis=1)
        best = d[np.arange(len(q)), order[:, 0]]
        second = d[np.arange(len(q)), order[:, 1]] if d.shape[1] > 1 else np.full(len(q), np.inf)
        return best, second, people[order[:, 0]]

    mb, ms, who = best_two(split.mated)
    sb, ss, _ = best_two(split.strangers)
    return Searches(
        mb,
        ms,
        who == split.mated_labels,
        sb,
        ss,
        np.full(len(mb), threshold),
        np.full(len(sb), threshold),
        split.no_face,
        [
            {
                "people_enrolled": split.people,
                "templates": len(split.labels),
                "mated": len(split.mated),
                "strangers": len(split.strangers),
                "threshold": round(threshold, 4),
            }
        ],
    )


def accepted(
    best: np.ndarray, second: np.ndarray, threshold: float | np.ndarray, margin: float
) -> np.ndarray:
    """The matcher's rule: a match when the best person is under the threshold and no other
    person is also under it within ``margin`` (ambiguous)."""
    ambiguous = (second <= threshold) & (second - best < margin)
    return (best <= threshold) & ~ambiguous


def rates_at(s: Searches, threshold: float | None, margin: float) -> dict[str, Any]:
    """FNIR and FPIR at one threshold, or (None) at each search's shipped threshold."""
    mt = s.mated_t if threshold is None else threshold
    st = s.stranger_t if threshold is None else threshold
    mated_ok = accepted(s.mated_best, s.mated_second, mt, margin) & s.mated_right
    fp = accepted(s.stranger_best, s.stranger_second, st, margin)
    fnir = Rate(int((~mated_ok).sum()), len(mated_ok))
    fpir = Rate(int(fp.sum()), len(fp))
    shown: Any = (
        round(float(threshold), 4)
        if threshold is not None
        else sorted({round(float(t), 4) for t in np.concatenate([s.mated_t, s.stranger_t])})
    )
    return {
        "threshold": shown,
        "fnir": fnir.value,
        "fnir_count": f"{fnir.events}/{fnir.trials}",
        "fpir": fpir.value,
        "fpir_count": f"{fpir.events}/{fpir.trials}",
        "fpir_upper_95": fpir.bound,
        "fpir_text": fpir.text(),
        "fnir_text": fnir.text(),
    }


def threshold_at_fpir(s: Searches, target: float, margin: float) -> float:
    """The largest threshold whose FPIR over these stranger searches is <= target."""
    candidates = np.unique(np.concatenate([s.stranger_best, s.mated_best]))
    candidates = candidates[np.isfinite(candidates)]
    lo, hi = 0, len(candidates) - 1
    best = 0.0
    n = max(1, len(s.stranger_best))
    while lo <= hi:  # FPIR grows with the threshold: binary search
        mid = (lo + hi) // 2
        t = float(candidates[mid])
        fpir = accepted(s.stranger_best, s.stranger_second, t, margin).sum() / n
        if fpir <= target:
            best, lo = t, mid + 1
        else:
            hi = mid - 1
    return best


def summarize(s: Searches, margin: float, sweep: Iterable[float]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "mated_searches": int(len(s.mated_best)),
        "stranger_searches": int(len(s.stranger_best)),
        "photos_without_face": int(s.no_face),
        "at_threshold": rates_at(s, None, margin),
    }
    for name, target in (("fpir_1pct", 0.01), ("fpir_0.1pct", 0.001)):
        t = threshold_at_fpir(s, target, margin)
        out[name] = rates_at(s, t, margin)
    out["sweep"] = [rates_at(s, float(t), margin) for t in sweep]
    return out


def embed_sets(
    cache: EmbeddingCache, faces: Path, sets: Sequence[str]
) -> dict[str, dict[str, list[np.ndarray | None]]]:
    out: dict[str, dict[str, list[np.ndarray | None]]] = {}
    for name in sets:
        people = people_of(faces / name)
        out[name] = {p: [cache.get(f) for f in photos] for p, photos in people.items()}  # type: ignore[misc]
        cache.save()
    return out


def run(
    faces: Path,
    vision: VisionSettings,
    *,
    splits: int = 10,
    sets: Sequence[str] = SETS,
    gallery_scale: bool = True,
    seed: int = 0,
    look: str = "photo",
) -> dict[str, Any]:
    t0 = time.perf_counter()
    pipeline = FacePipeline.load(vision)
    unit = pipeline.embedder.spec.normalized
    cache = EmbeddingCache(pipeline, vision.max_image_side, faces, look)
    data = embed_sets(cache, faces, sets)
    lo, hi = pipeline.embedder.spec.threshold_range
    sweep = np.round(np.arange(lo, hi + 1e-9, 0.02), 3)
    report: dict[str, Any] = {
        "network": vision.network,
        "model": f"{pipeline.model_info.name} {pipeline.model_info.version}",
        "level": vision.level,
        "explicit_threshold": vision.threshold,
        "ambiguity_margin": vision.ambiguity_margin,
        "splits": splits,
        "seed": seed,
        "look": look,
        "protocols": {},
    }
    protocols: list[tuple[str, int | None, bool, Sequence[str]]] = [
        ("enroll_3", 3, False, sets),
        ("enroll_all_but_one", None, False, sets),
    ]
    if gallery_scale and "lfw_dev" in sets:
        protocols.append(("lfw_gallery_scale_enroll_3", 3, True, ("lfw_dev",)))
    for proto, enroll, small, proto_sets in protocols:
        report["protocols"][proto] = {}
        for scoring in SCORINGS:
            pooled = Searches.empty()
            per_set: dict[str, Any] = {}
            for name in proto_sets:
                total = Searches.empty()
                for k in range(splits):
                    rng = np.random.default_rng([seed, k, SETS.index(name)])
                    split = make_split(data[name], rng, enroll, enroll_small=small)
                    t = operating_point(replace(vision, scoring=scoring), split.people).threshold
                    total = total.extend(search(split, scoring, unit, t))
                per_set[name] = summarize(total, vision.ambiguity_margin, [])
                per_set[name]["people_enrolled_per_split"] = total.splits[0]["people_enrolled"]
                per_set[name]["templates_per_split"] = total.splits[0]["templates"]
                pooled = pooled.extend(total)
            report["protocols"][proto][scoring] = {
                "pooled": summarize(pooled, vision.ambiguity_margin, sweep),
                "sets": per_set,
            }
    report["seconds"] = round(time.perf_counter() - t0, 1)
    return report


def fused_report(
    faces: Path, base: VisionSettings, *, splits: int, sets: Sequence[str], seed: int
) -> dict[str, Any]:
    """SFace and dlib together: each photo is both embeddings side by side, dlib's scaled
    so that the two networks' stranger distances spread alike; a person's score is the
    distance to the centre of their templates in that joint space. Only the FNIR at FPIR
    1 % and 0.1 % is reported (no shipped threshold exists for it)."""
    per_net: dict[str, dict[str, dict[str, list[np.ndarray | None]]]] = {}
    for net in ("sface", "dlib"):
        vision = replace(base, network=net)
        pipeline = FacePipeline.load(vision)
        per_net[net] = embed_sets(
            EmbeddingCache(pipeline, vision.max_image_side, faces), faces, sets
        )
    spread: dict[str, float] = {}
    for net, data in per_net.items():  # the spread of distances between different people
        x = np.stack(
            [e for people in data.values() for v in people.values() for e in v if e is not None]
        )
        sample = x[np.random.default_rng(seed).permutation(len(x))[:600]]
        d = np.sqrt(np.maximum(((sample[:, None] - sample[None]) ** 2).sum(-1), 0))
        spread[net] = float(d[np.triu_indices(len(d), 1)].std())
    weight = spread["sface"] / spread["dlib"]
    joint: dict[str, dict[str, list[np.ndarray | None]]] = {}
    for name in sets:
        joint[name] = {}
        for person, embs in per_net["sface"][name].items():
            other = per_net["dlib"][name][person]
            joint[name][person] = [
                None if a is None or b is None else np.concatenate([a, weight * b])
                for a, b in zip(embs, other, strict=True)
            ]
    out: dict[str, Any] = {"dlib_weight": round(weight, 4), "protocols": {}}
    for proto, enroll, small, proto_sets in (
        ("enroll_3", 3, False, sets),
        ("enroll_all_but_one", None, False, sets),
        ("lfw_gallery_scale_enroll_3", 3, True, ("lfw_dev",)),
    ):
        pooled = Searches.empty()
        for name in proto_sets:
            for k in range(splits):
                rng = np.random.default_rng([seed, k, SETS.index(name)])
                split = make_split(joint[name], rng, enroll, enroll_small=small)
                split.templates = split.templates.astype(np.float32)
                pooled = pooled.extend(search(split, "centre", False, 0.0))
        summary = summarize(pooled, base.ambiguity_margin, [])
        out["protocols"][proto] = {
            "fpir_1pct": summary["fpir_1pct"],
            "fpir_0.1pct": summary["fpir_0.1pct"],
            "mated_searches": summary["mated_searches"],
            "stranger_searches": summary["stranger_searches"],
        }
    return out


def print_table(report: dict[str, Any]) -> None:
    how = (
        f"explicit threshold {report['explicit_threshold']}"
        if report["explicit_threshold"] is not None
        else f"level {report['level']} (threshold follows the gallery's size)"
    )
    print(f"network {report['model']}, {how}, {report['splits']} splits")
    for proto, by_scoring in report["protocols"].items():
        print(f"\n== {proto}")
        for scoring, r in by_scoring.items():
            p = r["pooled"]
            a = p["at_threshold"]
            print(
                f"  {scoring:8s} pooled: FNIR {a['fnir_text']}, FPIR {a['fpir_text']} | "
                f"FNIR {p['fpir_1pct']['fnir']:.3f} at FPIR 1 % (t={p['fpir_1pct']['threshold']}),"
                f" {p['fpir_0.1pct']['fnir']:.3f} at FPIR 0.1 % "
                f"(t={p['fpir_0.1pct']['threshold']})"
            )
            for name, s in r["sets"].items():
                a = s["at_threshold"]
                print(
                    f"      {name:17s} FNIR {a['fnir_count']:>9s} FPIR {a['fpir_count']:>9s} | "
                    f"FNIR@1% {s['fpir_1pct']['fnir']:.3f} FNIR@0.1% {s['fpir_0.1pct']['fnir']:.3f}"
                )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.openset", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--faces", type=Path, default=default_faces_dir())
    parser.add_argument("--network", choices=("sface", "dlib"))
    parser.add_argument("--threshold", type=float, help="an explicit threshold (else the level)")
    parser.add_argument("--level", choices=("normal", "secure", "most-secure"))
    parser.add_argument("--no-flip", action="store_true")
    parser.add_argument("--splits", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--no-gallery-scale", action="store_true")
    parser.add_argument(
        "--look",
        choices=tuple(LOOKS),
        default="photo",
        help="grey-side-light: the photos as a mono camera with side light sees them",
    )
    parser.add_argument(
        "--fuse", action="store_true", help="also SFace and dlib together (FNIR at FPIR only)"
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    vision = Settings.load().vision
    if args.network:
        vision = replace(vision, network=args.network)
    if args.threshold is not None:
        vision = replace(vision, threshold=args.threshold)
    if args.level is not None:
        vision = replace(vision, level=args.level)
    if args.no_flip:
        vision = replace(vision, flip_average=False)
    if not (args.faces / "lfw_dev").is_dir():
        print(f"error: {args.faces} holds no lfw_dev folder; set --faces", file=sys.stderr)
        return 2
    report = run(
        args.faces,
        vision,
        splits=args.splits,
        sets=[s for s in args.sets.split(",") if s],
        gallery_scale=not args.no_gallery_scale,
        seed=args.seed,
        look=args.look,
    )
    print_table(report)
    if args.fuse:
        report["fused"] = fused_report(
            args.faces,
            vision,
            splits=args.splits,
            sets=[s for s in args.sets.split(",") if s],
            seed=args.seed,
        )
        print(f"\n== SFace + dlib fused (dlib weight {report['fused']['dlib_weight']})")
        for proto, r in report["fused"]["protocols"].items():
            print(
                f"  {proto:28s} FNIR {r['fpir_1pct']['fnir']:.3f} at FPIR 1 %, "
                f"{r['fpir_0.1pct']['fnir']:.3f} at FPIR 0.1 %"
            )
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
