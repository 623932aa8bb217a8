"""Measure the camera-frame distance curve the door's threshold is also chosen from.

    python -m tools.frames.calibrate [--faces DIR] [--cache DIR] [--out DIR]
                                     [--without-clips] [--seed N]

The photo curve (``tools/calibrate.py``) compares development *photos* with people
enrolled from photos. A door decides on *camera frames*: moving, smaller, compressed,
lit by whatever light there is, and they sit closer to everyone than photos do (a stage
clip of two strangers came within 1.04-1.06 of a person enrolled from three photos,
under the photo threshold for a small gallery). This curve is measured on what the kiosk
decides on, an attempt of a few frames, against people enrolled from photos as an admin
enrolls them:

- **made frames**: every probe photo of the development sets as 8 camera frames (moved,
  turned, scaled, re-lit, blurred, noised, JPEG; one in four harshly:
  :func:`tools.decision_eval.camera_frames`), compared with every other person of its
  set;
- **clips**: every real clip of a live person in ``video/`` (the Hamilton stage clip and
  the liveness clips, read as the kiosk reads a camera), an attempt starting every
  second, compared with every person of every photo set the clip does not show.

An attempt is its first ``ATTEMPT_FRAMES`` frames with a face (the most the kiosk's vote
counts), and its distance to a person is the one the vote decides on: the distance that
a majority of its frames are within (a stranger is named only when more than half of
his frames are under the threshold for the same person). People are enrolled from up to
3 photos, one kept back when they have fewer than 4 (its made frames are the genuine
attempts), and scored by the centre of their templates.

Writes ``<network>-<scoring>-frames.json`` beside the photo curves;
:func:`kiosk.domain.operating.choose_covering` takes the stricter threshold of the two.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from kiosk.config import Settings
from kiosk.domain.operating import DistanceCurve
from kiosk.vision.calibration import distance_curve
from kiosk.vision.pipeline import FacePipeline
from tools.decision_eval import FRAMES, PHOTO_SETS, Seen, default_faces_dir, photo_set
from tools.frames.seen import clips, embed_everything, load_clip

ENROLL = 3
TAIL = 4000
#: the most frames of one attempt the kiosk's vote counts (``[decision] max_frames``)
ATTEMPT_FRAMES = 5
#: an attempt needs at least this many frames with a face (``[decision] min_frames``)
MIN_FRAMES = 2
#: a clip's attempts: one starting every this many seconds, its frames within WINDOW
STRIDE = 1.0
WINDOW = 1.5
POPULATION = "camera frames"
#: distances at which the share of impostor comparisons is shown per face size and quality
PROBES = (1.0, 1.05, 1.10)
#: the distance at which strangers' attempts per enrolled person are counted (hubs)
HUB_AT = 1.10
WIDTH_BINS = ((0, 80), (80, 120), (120, 200), (200, 10_000))
QUALITY_BINS = ((0.0, 0.5), (0.5, 0.7), (0.7, 0.85), (0.85, 1.01))


@dataclass
class Person:
    key: str  # "set/folder"
    centre: np.ndarray  # the mean of the enrolled templates, on the unit sphere
    templates: np.ndarray  # (k, dim) the enrolled photos' embeddings
    kept_back: list[int] = field(default_factory=list)  # probe indexes of its set


@dataclass
class Attempt:
    source: str  # "made:<set>" or "clip:<stem>"
    frames: np.ndarray  # (n, dim), n <= ATTEMPT_FRAMES
    start: float = 0.0  # seconds into the clip (clips)
    width: float = 0.0  # the face's median width, pixels of the frame
    quality: float = 0.0  # the frames' median quality score (``kiosk.vision.quality``)


def _attempt(source: str, seen: Seen, rows: list[int], start: float = 0.0) -> Attempt:
    widths = seen.box[rows, 2] - seen.box[rows, 0]
    return Attempt(
        source,
        seen.emb[rows],
        start,
        float(np.median(widths)) if rows else 0.0,
        float(np.median(seen.quality[rows])) if rows else 0.0,
    )


def majority_distance(frames: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """(P,) for each person, the distance a majority of ``frames`` are within: the vote
    names that person at a threshold only if this distance is under it."""
    d = np.linalg.norm(frames[:, None, :] - centres[None, :, :], axis=2)
    return np.sort(d, axis=0)[len(frames) // 2]


def enroll(faces: Path, cache: Path, seed: int) -> dict[str, dict[str, Person]]:
    """Everyone of every photo set, enrolled from up to ``ENROLL`` photos (as
    ``tools/calibrate.py``), per set."""
    rng = np.random.default_rng(seed)
    out: dict[str, dict[str, Person]] = {}
    for name in PHOTO_SETS:
        ps = photo_set(faces, name)
        originals = Seen.load(cache / f"{name}.photos.npz")
        row = {p: i for i, p in enumerate(ps.photos)}
        probe_of = {path: j for j, (_, path, _) in enumerate(ps.probes)}
        people: dict[str, Person] = {}
        for who, photos in ps.people.items():
            usable = [p for p in photos if originals.ok[row[p]]]
            if not usable:
                continue
            order = rng.permutation(len(usable))
            k = min(ENROLL, max(1, len(usable) - 1))
            chosen = [usable[i] for i in order[:k]]
            centre = np.mean([originals.emb[row[p]] for p in chosen], axis=0)
            centre = centre / np.linalg.norm(centre)
            rest = [probe_of[p] for p in (usable[i] for i in order[k:]) if p in probe_of]
            templates = np.stack([originals.emb[row[p]] for p in chosen]).astype(np.float32)
            people[who] = Person(who, centre.astype(np.float32), templates, rest)
        out[name] = people
    return out


def made_attempts(faces: Path, cache: Path, name: str) -> list[tuple[str, Attempt]]:
    """(whose photo, the attempt) for every probe photo of set ``name``."""
    ps = photo_set(faces, name)
    frames = Seen.load(cache / f"{name}.frames.npz")
    out = []
    for j, (who, _path, _mated) in enumerate(ps.probes):
        rows = [r for r in range(j * FRAMES, (j + 1) * FRAMES) if frames.ok[r]]
        rows = rows[:ATTEMPT_FRAMES]
        out.append((who, _attempt(f"made:{name}", frames, rows if len(rows) >= MIN_FRAMES else [])))
    return out


def clip_attempts(seen: Seen, source: str) -> list[Attempt]:
    """An attempt starting every ``STRIDE`` seconds: its first frames with a face within
    ``WINDOW`` seconds."""
    out = []
    end = float(seen.time[-1]) if len(seen.time) else 0.0
    start = 0.0
    while start <= end:
        rows = [
            i for i in range(len(seen.ok)) if seen.ok[i] and start <= seen.time[i] < start + WINDOW
        ][:ATTEMPT_FRAMES]
        if len(rows) >= MIN_FRAMES:
            out.append(_attempt(source, seen, rows, start))
        start += STRIDE
    return out


@dataclass
class Measured:
    """Impostor attempt distances per source (so a source can be left out), and the
    genuine ones."""

    impostor: dict[str, np.ndarray]
    genuine: np.ndarray
    #: per attempt: (source, face width, quality, its comparisons, its nearest impostor
    #: distance, and how many of its comparisons are within each of ``PROBES``)
    attempts: list[tuple[str, float, float, int, float, tuple[int, ...]]] = field(
        default_factory=list
    )

    #: per enrolled person: [stranger attempts compared, within HUB_AT]
    per_person: dict[str, list[int]] = field(default_factory=dict)

    def count(self, keys: Sequence[str], d: np.ndarray) -> None:
        for key, within in zip(keys, d <= HUB_AT, strict=True):
            tally = self.per_person.setdefault(key, [0, 0])
            tally[0] += 1
            tally[1] += int(within)

    def add(self, attempt: Attempt, d: np.ndarray) -> None:
        self.attempts.append(
            (
                attempt.source,
                attempt.width,
                attempt.quality,
                len(d),
                float(d.min()) if len(d) else float("inf"),
                tuple(int((d <= t).sum()) for t in PROBES),
            )
        )

    def curve(self, network: str, model: str, without: Sequence[str] = ()) -> DistanceCurve:
        imp = np.sort(
            np.concatenate([d for s, d in self.impostor.items() if s not in set(without)])
        )
        return DistanceCurve(
            network=network,
            scoring="centre",
            model=model,
            impostor_comparisons=int(len(imp)),
            impostor_tail=tuple(float(x) for x in imp[:TAIL]),
            genuine=tuple(float(x) for x in np.sort(self.genuine)),
            impostor_grid=_grid(imp),
            population=POPULATION,
        )


def _grid(imp: np.ndarray) -> tuple[tuple[float, int], ...]:
    return tuple(
        (round(float(t), 2), int(np.searchsorted(imp, t, side="right")))
        for t in np.arange(0.0, 2.0001, 0.01)
    )


def measure(
    faces: Path, cache: Path, seed: int, *, with_clips: bool = True
) -> tuple[Measured, dict[str, dict[str, Person]]]:
    people = enroll(faces, cache, seed)
    impostor: dict[str, list[np.ndarray]] = {}
    genuine: list[float] = []
    measured = Measured({}, np.zeros(0))
    for name in PHOTO_SETS:
        keys = list(people[name])
        centres = np.stack([people[name][k].centre for k in keys])
        kept = {j: who for who, p in people[name].items() for j in p.kept_back}
        for j, (who, attempt) in enumerate(made_attempts(faces, cache, name)):
            if len(attempt.frames) == 0:
                continue
            d = majority_distance(attempt.frames, centres)
            others = np.array([k != who for k in keys])
            impostor.setdefault(attempt.source, []).append(d[others])
            measured.add(attempt, d[others])
            measured.count([k for k in keys if k != who], d[others])
            if kept.get(j) == who:
                genuine.append(float(d[keys.index(who)]))
    if with_clips:
        everyone = [p for s in people.values() for p in s.values()]
        centres = np.stack([p.centre for p in everyone])
        for clip in clips(faces):
            others = np.array([p.key not in clip.people for p in everyone])
            for attempt in clip_attempts(load_clip(cache, clip.stem), f"clip:{clip.stem}"):
                d = majority_distance(attempt.frames, centres)
                impostor.setdefault(attempt.source, []).append(d[others])
                measured.add(attempt, d[others])
                measured.count([p.key for p in everyone if p.key not in clip.people], d[others])
    measured.impostor = {s: np.concatenate(v) for s, v in impostor.items()}
    measured.genuine = np.asarray(genuine, np.float64)
    return measured, people


def breakdown(measured: Measured, photos: DistanceCurve) -> list[str]:
    """The share of impostor comparisons within ``PROBES`` per face width and quality,
    per kind of source, beside the photo curve's: where frames sit closer to everyone."""
    lines = []
    shares = ", ".join(
        f"{1e4 * photos.impostors_within(t) / photos.impostor_comparisons:.1f}" for t in PROBES
    )
    probes = "/".join(f"{t:g}" for t in PROBES)
    lines.append(f"impostor comparisons within {probes}, per 10,000; development photos: {shares}")
    for kind in ("made", "clip"):
        rows = [a for a in measured.attempts if a[0].startswith(kind)]
        for label, index, bins in (("face width px", 1, WIDTH_BINS), ("quality", 2, QUALITY_BINS)):
            for lo, hi in bins:
                part = [a for a in rows if lo <= a[index] < hi]
                n = sum(a[3] for a in part)
                if not n:
                    continue
                within = [sum(a[5][i] for a in part) for i in range(len(PROBES))]
                nearest = min(a[4] for a in part)
                lines.append(
                    f"  {kind:4} {label} {lo:g}-{hi:g}: {len(part):,} attempts, {n:,} "
                    f"comparisons; {', '.join(f'{1e4 * w / n:.1f}' for w in within)}; "
                    f"nearest {nearest:.3f}"
                )
    counts = sorted(measured.per_person.items(), key=lambda kv: -kv[1][1])
    total = sum(v[1] for _, v in counts)
    compared = sum(v[0] for _, v in counts)
    if total:
        top = ", ".join(f"{k} {v[1]} of {v[0]:,}" for k, v in counts[:5])
        lines.append(
            f"strangers' attempts within {HUB_AT:g} of an enrolled person: {total:,} of "
            f"{compared:,} ({1e4 * total / compared:.1f} per 10,000); most: {top}; "
            f"the 5 most drew {sum(v[1] for _, v in counts[:5]) / total:.0%} of them, "
            f"{len([1 for _, v in counts if v[1]])} of {len(counts)} people drew any"
        )
    return lines


def write(measured: Measured, network: str, model: str, out: Path, note: str) -> Path:
    curve = measured.curve(network, model)
    sources = _kinds(measured)
    data: dict[str, Any] = {
        "network": network,
        "model": model,
        "population": POPULATION,
        "measured": datetime.now(UTC).strftime("%Y-%m-%d"),
        "command": "python -m tools.frames.calibrate" + note,
        "scoring": "centre",
        "decided_on": (
            f"an attempt of up to {ATTEMPT_FRAMES} frames (at least {MIN_FRAMES}): the "
            "distance a majority of its frames are within"
        ),
        "enrolled_photos": ENROLL,
        "impostor_comparisons": curve.impostor_comparisons,
        "impostor_sources": sources,
        "impostor_tail": [round(x, 4) for x in curve.impostor_tail],
        "impostor_grid": [[t, c] for t, c in curve.impostor_grid],
        "genuine": [round(x, 4) for x in curve.genuine],
    }
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{network}-centre-frames.json"
    path.write_text(json.dumps(data, separators=(",", ":")) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.frames.calibrate", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--faces", type=Path, default=default_faces_dir())
    parser.add_argument("--cache", type=Path, default=Path(".decision-eval-cache"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--without-clips", action="store_true", help="made frames only")
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).resolve().parents[2] / "kiosk/vision/calibration"
    )
    args = parser.parse_args(argv)
    if not (args.faces / "lfw_dev").is_dir():
        print(f"error: {args.faces} holds no lfw_dev folder; set --faces", file=sys.stderr)
        return 2
    vision = replace(Settings.load().vision, network="sface", scoring="centre")
    cache = embed_everything(vision, args.faces, args.cache)
    model_info = FacePipeline.load(replace(vision, device="cpu")).model_info
    measured, _ = measure(args.faces, cache, args.seed, with_clips=not args.without_clips)
    print("\n".join(breakdown(measured, distance_curve("sface", "centre"))))
    note = " --without-clips" if args.without_clips else ""
    path = write(measured, "sface", f"{model_info.name} {model_info.version}", args.out, note)
    curve = measured.curve("sface", "")
    print(
        f"{path}: {curve.impostor_comparisons:,} impostor attempt comparisons "
        f"({', '.join(f'{k} {v:,}' for k, v in _kinds(measured).items())}), "
        f"{len(curve.genuine):,} genuine; smallest {[round(x, 3) for x in curve.impostor_tail[:5]]}"
    )
    return 0


def _kinds(measured: Measured) -> dict[str, int]:
    out: dict[str, int] = {}
    for s, d in measured.impostor.items():
        out[s.split(":")[0]] = out.get(s.split(":")[0], 0) + len(d)
    return out


if __name__ == "__main__":
    raise SystemExit(main())
