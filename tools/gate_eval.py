"""What each enrollment check does to recognition, measured (a script, not a test).

    python -m tools.gate_eval [--faces DIR] [--cache DIR] [--json FILE] [--sets a,b]

Every photo of the development sets in ``../shared/faces`` goes through the real pipeline
once (MTCNN, alignment, the configured network); its main face's embedding and the
measures the enrollment gate judges (face size, detector probability, sharpness,
brightness and contrast, pose, the size of the second-largest face) are cached in
``--cache`` (``.decision-eval-cache`` by default), so a second run takes seconds.

For each check of :mod:`kiosk.vision.quality` at the given limits, the photos it would
refuse are counted (per set), and two questions are answered:

- **as a template, does a refused photo miss more?** Every photo of a person with at least
  two photos serves in turn as a one-photo template; the person's other photos are
  compared with it at the door's threshold. ``miss`` is the share of those genuine pairs
  over the threshold, for templates the check refuses and for templates every check
  passes. ``false`` is the share of pairs with every photo of everyone else under the
  threshold (false matches), for the same two kinds of templates.
- **in a gallery, does keeping them hurt?** The 1:N search the door runs: everyone with at
  least two photos is enrolled from all their photos but one (each photo is the probe
  once per rotation, ``--rotations``), and the people with one photo are the strangers.
  FNIR (mated probes not named as their person) and FPIR (strangers named as someone) are
  measured with the refused photos kept in the gallery and with them left out, over the
  same probes; people left with no template when they are left out count as misses, and
  are counted.

Rates are shown with their counts and one-sided 95 % upper bounds (Clopper-Pearson,
treating pairs as independent, which they are not quite: a person's pairs share a face).
The thresholds are the kiosk's own: :func:`kiosk.vision.matcher.build_gallery` at the
configured ``[vision]`` settings, for the gallery's size.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from kiosk.config import Settings
from kiosk.domain.faces import MatchKind
from kiosk.domain.stats import Rate
from kiosk.errors import KioskError
from kiosk.vision.calibration import operating_point
from kiosk.vision.imageio import read_image
from kiosk.vision.matcher import build_gallery
from kiosk.vision.pipeline import FacePipeline
from kiosk.vision.quality import CAMERA_FRAMES, PHOTO_FILES, QualitySettings, assess_face

SETS = ("lfw_dev", "deepface", "face_recognition", "faceapi_bbt", "orl")
PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png", ".pgm", ".webp"}
#: the measures kept per photo, in this order in the cache
MEASURES = (
    "face_px",
    "probability",
    "sharpness",
    "brightness",
    "contrast",
    "yaw",
    "pitch",
    "roll_deg",
    "second_ratio",
)


def default_faces_dir() -> Path:
    env = os.environ.get("KIOSK_FACES_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared" / "faces"


def photos_of(faces: Path, sets: Sequence[str]) -> list[tuple[str, str, Path]]:
    """(set, person, path) of every photo, people in name order."""
    out = []
    for name in sets:
        root = faces / name
        if not root.is_dir():
            continue
        for person in sorted(p for p in root.iterdir() if p.is_dir() and p.name[0] not in "._"):
            for path in sorted(person.iterdir()):
                if path.is_file() and path.suffix.lower() in PHOTO_SUFFIXES:
                    out.append((name, f"{name}/{person.name}", path))
    return out


@dataclass
class Photos:
    """The main face of each photo: found or not, its embedding and its measures."""

    sets: list[str]
    people: list[str]
    paths: list[str]
    found: np.ndarray  # (N,) bool
    emb: np.ndarray  # (N, 128)
    measures: np.ndarray  # (N, len(MEASURES))

    def measure(self, name: str) -> np.ndarray:
        return self.measures[:, MEASURES.index(name)]


def measure_photos(faces: Path, sets: Sequence[str], cache: Path, settings: Settings) -> Photos:
    """Run the pipeline on every photo not in the cache; return them all."""
    photos = photos_of(faces, sets)
    pipeline: FacePipeline | None = None
    cache.mkdir(parents=True, exist_ok=True)
    file = cache / f"gate-eval-{settings.vision.network}.npz"
    known: dict[str, tuple[bool, np.ndarray, np.ndarray]] = {}
    if file.is_file():
        with np.load(file, allow_pickle=False) as data:
            for k, f, e, m in zip(
                data["keys"], data["found"], data["emb"], data["measures"], strict=True
            ):
                known[str(k)] = (bool(f), e, m)
    dirty = False
    keys = []
    started = time.perf_counter()
    for i, (_, _, path) in enumerate(photos):
        st = path.stat()
        key = f"{path.relative_to(faces)}:{st.st_size}:{st.st_mtime_ns}"
        keys.append(key)
        if key in known:
            continue
        if pipeline is None:
            pipeline = FacePipeline.load(settings.vision)
        known[key] = measure_one(pipeline, path, settings)
        dirty = True
        if i % 100 == 99:  # kept as it goes: an interrupted run resumes
            print(f"  {i + 1}/{len(photos)} photos, {time.perf_counter() - started:.0f} s")
            _save(file, known)
    if dirty:
        _save(file, known)
    return Photos(
        [s for s, _, _ in photos],
        [p for _, p, _ in photos],
        [str(p.relative_to(faces)) for _, _, p in photos],
        np.array([known[k][0] for k in keys]),
        np.stack([known[k][1] for k in keys]).astype(np.float32),
        np.stack([known[k][2] for k in keys]).astype(np.float64),
    )


def _save(file: Path, known: dict[str, tuple[bool, np.ndarray, np.ndarray]]) -> None:
    order = sorted(known)
    tmp = file.with_name(file.stem + ".tmp.npz")
    np.savez(
        tmp,
        keys=np.array(order),
        found=np.array([known[k][0] for k in order]),
        emb=np.stack([known[k][1] for k in order]).astype(np.float32),
        measures=np.stack([known[k][2] for k in order]).astype(np.float64),
    )
    os.replace(tmp, file)


def measure_one(
    pipeline: FacePipeline, path: Path, settings: Settings
) -> tuple[bool, np.ndarray, np.ndarray]:
    """The main (largest) face of one photo, as enrollment sees it."""
    nothing = (False, np.zeros(128, np.float32), np.zeros(len(MEASURES)))
    try:
        rgb = read_image(path, settings.vision.max_image_side).rgb
    except KioskError:
        return nothing
    results = pipeline.analyze(rgb)
    if not results:
        return nothing
    sizes = [min(r.face.box.width, r.face.box.height) for r in results]
    order = np.argsort(sizes)[::-1]
    main = results[int(order[0])]
    second = sizes[int(order[1])] / sizes[int(order[0])] if len(results) > 1 else 0.0
    m = assess_face(main.face, main.chip).measures
    values = [m[name] for name in MEASURES[:-1]] + [second]
    return True, np.asarray(main.embedding, np.float32), np.asarray(values, np.float64)


# --- the checks ---------------------------------------------------------------------------

Check = Callable[[Photos], np.ndarray]


def checks(q: QualitySettings) -> dict[str, tuple[str, Check]]:
    """Each check of the gate at the limits ``q``: (its limit in words, refused mask)."""
    return {
        "size": (f"face < {q.min_face_px:.0f} px", lambda p: p.measure("face_px") < q.min_face_px),
        "probability": (
            f"detector < {q.min_probability}",
            lambda p: p.measure("probability") < q.min_probability,
        ),
        "sharpness": (
            f"sharpness < {q.min_sharpness:g}",
            lambda p: p.measure("sharpness") < q.min_sharpness,
        ),
        "light": (
            f"brightness outside {q.min_brightness:.0f}-{q.max_brightness:.0f} or contrast "
            f"< {q.min_contrast:.0f}",
            lambda p: (
                (p.measure("brightness") < q.min_brightness)
                | (p.measure("brightness") > q.max_brightness)
                | (p.measure("contrast") < q.min_contrast)
            ),
        ),
        "pose": (
            f"|yaw| > {q.max_yaw}, pitch outside {q.pitch_range[0]}-{q.pitch_range[1]}, "
            f"|roll| > {q.max_roll_deg:.0f} deg",
            lambda p: (
                (np.abs(p.measure("yaw")) > q.max_yaw)
                | (p.measure("pitch") < q.pitch_range[0])
                | (p.measure("pitch") > q.pitch_range[1])
                | (np.abs(p.measure("roll_deg")) > q.max_roll_deg)
            ),
        ),
        "second face": (
            f"another face >= {q.background_ratio:g} x the main one",
            lambda p: p.measure("second_ratio") >= q.background_ratio,
        ),
    }


def photo_gate(q: QualitySettings) -> Check:
    """What the gate at ``q`` refuses: the checks that do not only warn, and another face
    of at least ``other_face_ratio`` of the subject's size."""
    every = checks(q)

    def refused(p: Photos) -> np.ndarray:
        out = p.measure("second_ratio") >= q.other_face_ratio
        for name, (_, check) in every.items():
            if name not in q.warn_only and name != "second face":
                out |= check(p)
        if "second face" not in q.warn_only:
            out |= every["second face"][1](p)
        return out

    return refused


def people_with_a_template(photos: Photos, refused: np.ndarray, first: int = 3) -> Rate:
    """Of the lfw_dev people with at least ``first`` photos, enrolled from their first
    ``first``: how many get nothing stored (no face, or every photo refused)."""
    by_person: dict[str, list[int]] = {}
    for i, (s, person) in enumerate(zip(photos.sets, photos.people, strict=True)):
        if s == "lfw_dev":
            by_person.setdefault(person, []).append(i)
    people = [ix[:first] for ix in by_person.values() if len(ix) >= first]
    nothing = sum(not any(photos.found[i] and not refused[i] for i in ix) for ix in people)
    return Rate(nothing, len(people))


# --- the measurements ---------------------------------------------------------------------


def rate_dict(rate: Rate) -> dict[str, Any]:
    return {
        "events": rate.events,
        "trials": rate.trials,
        "rate": rate.value,
        "upper_95": rate.bound,
        "text": rate.text(),
    }


@dataclass
class Population:
    """The photos with a face, with person indices; who is enrolled and who is a stranger."""

    emb: np.ndarray
    person: np.ndarray  # (N,) person index
    enrolled: np.ndarray  # (N,) bool: the person has at least two photos
    index: np.ndarray  # (N,) index into Photos

    @classmethod
    def of(cls, photos: Photos) -> Population:
        idx = np.flatnonzero(photos.found)
        names = [photos.people[i] for i in idx]
        _, person, counts = np.unique(names, return_inverse=True, return_counts=True)
        return cls(photos.emb[idx], person, counts[person] >= 2, idx)


def pair_rates(pop: Population, template: np.ndarray, threshold: float) -> tuple[Rate, Rate]:
    """Genuine pairs over the threshold and impostor pairs under it, for the photos in
    ``template`` (a mask over ``pop``) used as one-photo templates."""
    t = np.flatnonzero(template & pop.enrolled)
    if not len(t):
        return Rate(0, 0), Rate(0, 0)
    d = np.sqrt(np.maximum(((pop.emb[t, None, :] - pop.emb[None, :, :]) ** 2).sum(-1), 0.0))
    same = pop.person[t, None] == pop.person[None, :]
    same[np.arange(len(t)), t] = False  # a photo with itself
    other = pop.person[t, None] != pop.person[None, :]
    misses = int((d[same] > threshold).sum())
    false = int((d[other] <= threshold).sum())
    return Rate(misses, int(same.sum())), Rate(false, int(other.sum()))


@dataclass
class GalleryRun:
    fnir: Rate
    fpir: Rate
    no_template: int  # mated probes whose person had no template left
    threshold: float


def gallery_rates(
    pop: Population, keep: np.ndarray, settings: Settings, rotations: int
) -> GalleryRun:
    """1:N: enrolled people from all their photos but one (rotating), strangers searched;
    only the photos in ``keep`` may be templates."""
    misses = mated = fp = strangers = no_template = 0
    threshold = 0.0
    people = np.unique(pop.person[pop.enrolled])
    members = {int(p): np.flatnonzero(pop.person == p) for p in people}
    stranger_emb = pop.emb[~pop.enrolled]
    for r in range(rotations):
        probes = np.array([m[r % len(m)] for m in members.values()])
        templates = np.ones(len(pop.person), bool)
        templates[probes] = False
        templates &= pop.enrolled & keep
        gallery = build_gallery(
            pop.emb[templates], [int(x) for x in pop.person[templates]], settings.vision
        )
        assert gallery.operating_point is not None
        threshold = gallery.operating_point.threshold
        margin = settings.vision.ambiguity_margin
        have = set(gallery.people)
        for probe, match in zip(probes, gallery.search(pop.emb[probes], None, margin), strict=True):
            mated += 1
            if int(pop.person[probe]) not in have:
                no_template += 1
                misses += 1
            elif match.kind is not MatchKind.MATCH or match.label != int(pop.person[probe]):
                misses += 1
        for match in gallery.search(stranger_emb, None, margin):
            strangers += 1
            fp += match.kind is MatchKind.MATCH
    return GalleryRun(Rate(misses, mated), Rate(fp, strangers), no_template, threshold)


def evaluate(
    photos: Photos,
    q: QualitySettings,
    settings: Settings,
    rotations: int,
    photo_q: QualitySettings = PHOTO_FILES,
) -> dict[str, Any]:
    """Each check at the limits ``q`` (every one refusing), then the photo files' gate
    ``photo_q`` as shipped."""
    pop = Population.of(photos)
    # the door's threshold for a gallery the size of the enrolled population
    n_enrolled = len(np.unique(pop.person[pop.enrolled]))
    pair_threshold = operating_point(settings.vision, n_enrolled).threshold
    every = checks(q)
    refused_all = np.zeros(len(pop.person), bool)
    masks = {}
    for name, (_, check) in every.items():
        masks[name] = check(photos)[pop.index]
        refused_all |= masks[name]
    passing = ~refused_all
    refused_all_photos = np.zeros(len(photos.paths), bool)
    for _, check in every.values():
        refused_all_photos |= check(photos)
    pass_miss, pass_false = pair_rates(pop, passing, pair_threshold)
    baseline = gallery_rates(pop, np.ones(len(pop.person), bool), settings, rotations)
    sets = sorted(set(photos.sets), key=SETS.index)
    rows = []
    for name, (limit, _) in every.items():
        refused = masks[name]
        per_set = {
            s: int(refused[np.array([photos.sets[i] == s for i in pop.index])].sum()) for s in sets
        }
        miss, false = pair_rates(pop, refused, pair_threshold)
        without = gallery_rates(pop, ~refused, settings, rotations)
        rows.append(
            {
                "check": name,
                "limit": limit,
                "refused": int(refused.sum()),
                "refused_per_set": per_set,
                "pairs_miss_refused": rate_dict(miss),
                "pairs_false_refused": rate_dict(false),
                "gallery_fnir_without": rate_dict(without.fnir),
                "gallery_fpir_without": rate_dict(without.fpir),
                "gallery_no_template_without": without.no_template,
            }
        )
    gate = gallery_rates(pop, passing, settings, rotations)
    close = photos.measure("second_ratio")[pop.index] >= photo_q.other_face_ratio
    close_miss, close_false = pair_rates(pop, close, pair_threshold)
    close_without = gallery_rates(pop, ~close, settings, rotations)
    rows.append(
        {
            "check": "second face, close",
            "limit": f"another face >= {photo_q.other_face_ratio:g} x the main one",
            "refused": int(close.sum()),
            "refused_per_set": {
                s: int(close[np.array([photos.sets[i] == s for i in pop.index])].sum())
                for s in sets
            },
            "pairs_miss_refused": rate_dict(close_miss),
            "pairs_false_refused": rate_dict(close_false),
            "gallery_fnir_without": rate_dict(close_without.fnir),
            "gallery_fpir_without": rate_dict(close_without.fpir),
            "gallery_no_template_without": close_without.no_template,
        }
    )
    photo_refused = photo_gate(photo_q)(photos)
    photo_pass = ~photo_refused[pop.index]
    photo_run = gallery_rates(pop, photo_pass, settings, rotations)
    photo_miss, photo_false = pair_rates(pop, photo_pass, pair_threshold)
    refused_miss, refused_false = pair_rates(pop, ~photo_pass, pair_threshold)
    return {
        "photos": len(photos.paths),
        "photos_with_face": int(photos.found.sum()),
        "photos_per_set": {s: photos.sets.count(s) for s in sets},
        "people_enrolled": n_enrolled,
        "strangers": int((~pop.enrolled).sum()),
        "rotations": rotations,
        "pair_threshold": round(pair_threshold, 4),
        "gallery_threshold": round(baseline.threshold, 4),
        "limits": {f.name: getattr(q, f.name) for f in fields(q)},
        "passing_all": int(passing.sum()),
        "pairs_miss_passing": rate_dict(pass_miss),
        "pairs_false_passing": rate_dict(pass_false),
        "gallery_fnir_all": rate_dict(baseline.fnir),
        "gallery_fpir_all": rate_dict(baseline.fpir),
        "gallery_fnir_gate": rate_dict(gate.fnir),
        "gallery_fpir_gate": rate_dict(gate.fpir),
        "gallery_no_template_gate": gate.no_template,
        "checks": rows,
        "photo_gate": {
            "refuses": sorted(set(every) - set(photo_q.warn_only)) + ["second face, close"],
            "warns": sorted(photo_q.warn_only),
            "refused": int((~photo_pass).sum()),
            "pairs_miss_refused": rate_dict(refused_miss),
            "pairs_false_refused": rate_dict(refused_false),
            "pairs_miss_kept": rate_dict(photo_miss),
            "pairs_false_kept": rate_dict(photo_false),
            "gallery_fnir": rate_dict(photo_run.fnir),
            "gallery_fpir": rate_dict(photo_run.fpir),
            "gallery_no_template": photo_run.no_template,
            "lfw3_nothing_stored": rate_dict(people_with_a_template(photos, photo_refused)),
            "lfw3_nothing_stored_camera_limits": rate_dict(
                people_with_a_template(photos, refused_all_photos)
            ),
        },
    }


def print_table(report: dict[str, Any]) -> None:
    print(
        f"{report['photos']} photos ({report['photos_with_face']} with a face), "
        f"{report['people_enrolled']} people enrolled, {report['strangers']} stranger photos, "
        f"{report['rotations']} rotations; door threshold {report['pair_threshold']} "
        f"(pairs), {report['gallery_threshold']} (gallery)"
    )
    print(
        f"templates passing every check ({report['passing_all']}): pairs missed "
        f"{report['pairs_miss_passing']['text']}, false {report['pairs_false_passing']['text']}"
    )
    print(
        f"gallery with every photo: FNIR {report['gallery_fnir_all']['text']}, "
        f"FPIR {report['gallery_fpir_all']['text']}"
    )
    print(
        f"gallery with only photos passing every check: FNIR "
        f"{report['gallery_fnir_gate']['text']}, FPIR {report['gallery_fpir_gate']['text']} "
        f"({report['gallery_no_template_gate']} probes of people left with no template)"
    )
    print()
    header = (
        "| check | limit | refused | as templates: pairs missed | as templates: false matches "
        "| gallery without them: FNIR | FPIR | no template |"
    )
    print(header)
    print("|" + "---|" * 8)
    for row in report["checks"]:
        per_set = ", ".join(f"{s} {n}" for s, n in row["refused_per_set"].items() if n)
        print(
            f"| {row['check']} | {row['limit']} | {row['refused']} ({per_set or 'none'}) "
            f"| {row['pairs_miss_refused']['text']} | {row['pairs_false_refused']['text']} "
            f"| {row['gallery_fnir_without']['text']} | {row['gallery_fpir_without']['text']} "
            f"| {row['gallery_no_template_without']} |"
        )


def print_gate(report: dict[str, Any]) -> None:
    g = report["photo_gate"]
    print()
    print(
        f"photo files' gate as shipped: refuses {', '.join(g['refuses'])}; "
        f"warns of {', '.join(g['warns'])}"
    )
    print(
        f"  refused {g['refused']} photos; as templates they miss "
        f"{g['pairs_miss_refused']['text']} of genuine pairs (kept ones: "
        f"{g['pairs_miss_kept']['text']}), false matches {g['pairs_false_refused']['text']} "
        f"(kept: {g['pairs_false_kept']['text']})"
    )
    print(
        f"  gallery of the kept photos: FNIR {g['gallery_fnir']['text']}, FPIR "
        f"{g['gallery_fpir']['text']} ({g['gallery_no_template']} probes of people left "
        "with no template)"
    )
    print(
        f"  lfw_dev people with 3+ photos, enrolled from their first 3, with nothing stored: "
        f"{g['lfw3_nothing_stored']['text']} (every check refusing: "
        f"{g['lfw3_nothing_stored_camera_limits']['text']})"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.gate_eval", description=__doc__)
    parser.add_argument("--faces", type=Path, default=default_faces_dir())
    parser.add_argument("--cache", type=Path, default=Path(".decision-eval-cache"))
    parser.add_argument("--json", type=Path, help="also write the report as JSON here")
    parser.add_argument("--sets", default=",".join(SETS), help="comma-separated photo sets")
    parser.add_argument("--rotations", type=int, default=3)
    args = parser.parse_args(argv)
    if not args.faces.is_dir():
        print(f"gate_eval: {args.faces} is not a folder (give --faces)", file=sys.stderr)
        return 2
    sets = [s for s in args.sets.split(",") if s]
    unknown = [s for s in sets if s not in SETS]
    if unknown:
        print(f"gate_eval: unknown set {unknown[0]!r} (known: {', '.join(SETS)})", file=sys.stderr)
        return 2
    settings = Settings()
    q = CAMERA_FRAMES
    photos = measure_photos(args.faces, sets, args.cache, settings)
    report = evaluate(photos, q, settings, args.rotations)
    report["date"] = datetime.now(UTC).isoformat(timespec="seconds")
    report["machine"] = f"{platform.node()} {platform.machine()}, {os.cpu_count()} CPUs"
    report["load"] = os.getloadavg()
    print_table(report)
    print_gate(report)
    print(f"\n{report['date']}, {report['machine']}, load {report['load']}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1, default=sorted))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
