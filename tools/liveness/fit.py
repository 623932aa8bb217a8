"""Fit the liveness check's combination of 3-D cues on measured frames.

``python -m tools.liveness.fit collect --out DIR [--attempts N --seed S --workers 2]``
measures the cues of :mod:`kiosk.liveness.evidence` on every turned frame:

- genuine: the head turns of the genuine clips in ``<faces>/video/liveness/genuine``
  (found by the single-frame yaw, as in :mod:`tools.liveness.evaluate`), each frame of a
  turn against the frames at rest before it, in the turn's direction;
- attacks: made attacks (:mod:`tools.liveness.attacks`) held up for the whole time limit
  while one move is asked, each frame against the last frame before the prompt, in the
  asked direction. The seed of these attacks is for fitting only: the attacks that the
  README reports come from another seed.

``python -m tools.liveness.fit fit --data DIR`` fits a logistic regression, live head
against picture, on the frames whose parallax passes the gate, and reports it
leave-one-clip-out: each genuine clip is scored by a fit that did not see it. It prints
the weights and the operating point for :data:`kiosk.liveness.challenge.COMBINATION`.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import random
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kiosk.config import LivenessSettings, VisionSettings
from kiosk.liveness.evidence import CUES, Combination, Evidence
from kiosk.liveness.geometry import box_offset, head_model_gain, parallax, tilt
from kiosk.liveness.texture import fit_plane, surround_motion
from kiosk.vision.pipeline import FacePipeline
from tools.liveness.attacks import (
    Attacker,
    AttackKind,
    Camera,
    CameraEffects,
    Strategy,
    background,
    make_medium,
)
from tools.liveness.frames import (
    Photo,
    Seen,
    attack_photos,
    background_of,
    faces_dir,
    find_turns,
    look,
    person_of,
    read_clip_cached,
    same_person_threshold,
)
from tools.liveness.made import KINDS, STRATEGIES
from tools.liveness.relief import relief

#: pixel cues are measured on frames whose parallax in the asked direction is at least this
PIXELS_FROM = 0.04
FPS = 8.0


@dataclass
class Row:
    """One turned frame: where it comes from and its cues."""

    label: int  # 1 live head, 0 picture
    group: str  # the clip (genuine) or the attack's kind
    attempt: str  # the turn or the attack attempt
    index: int  # frame number within the turn or attempt
    time: float  # seconds since the turn or the prompt started
    parallax: float
    tilt: float
    head: float
    plane: float | None
    surround: float | None
    outline: float | None
    peak: float = 0.0  # genuine: the turn's single-frame yaw peak
    #: the tracked points' relief (tools.liveness.relief), measured, not in the combination
    relief: float | None = None

    def evidence(self) -> Evidence:
        ratio = self.parallax / max(self.tilt, 0.01) if self.tilt == self.tilt else 0.0
        return Evidence(self.parallax, ratio, self.head, self.plane, self.surround, self.outline)


def cues(refs: list[Seen], cur: Seen, sign: float) -> Row:
    """The cues of ``cur`` against the reference frames, in the direction ``sign`` (+1:
    the nose towards the image's right, the person's own left)."""
    values = [(parallax(r.points, cur.points)[0], tilt(r.points, cur.points)) for r in refs]
    side = float(np.median([v[0] for v in values])) * sign
    tilted = float(np.median([v[1] for v in values]))
    ref = refs[-1]
    head = head_model_gain(ref.points, cur.points)
    plane = surround = outline = depth = None
    if side >= PIXELS_FROM and ref.grey is not None and cur.grey is not None:
        fit = fit_plane(ref.grey, ref.points, cur.grey, cur.points)
        plane = fit.correlation
        surround = surround_motion(ref.grey, ref.points, cur.grey, fit.warp)
        depth = relief(ref.grey, ref.points, cur.grey, cur.points, sign)
    if ref.box is not None and cur.box is not None:
        outline = (box_offset(cur.points, cur.box) - box_offset(ref.points, ref.box)) * sign
    return Row(0, "", "", 0, 0.0, side, tilted, head, plane, surround, outline, relief=depth)


# --- genuine ---------------------------------------------------------------------------


def genuine_rows(clips: dict[str, list[Seen]], min_peak: float) -> list[Row]:
    rows: list[Row] = []
    skipped = 0
    for name, seen in clips.items():
        for k, turn in enumerate(find_turns(name, seen, min_peak=min_peak)):
            refs = seen[turn.rest : turn.start]
            if not refs:  # no frame at rest before the turn: nothing to measure it from
                skipped += 1
                continue
            sign = 1.0 if turn.direction == "left" else -1.0
            t0 = refs[-1].time
            for i, cur in enumerate(seen[turn.start : turn.end + 1]):
                row = cues(refs, cur, sign)
                row.label, row.group, row.attempt = 1, name, f"{name}#{k}"
                row.index, row.time, row.peak = i, cur.time - t0, turn.peak
                rows.append(row)
    if skipped:
        print(f"genuine: {skipped} turns skipped (no frame at rest before them)")
    return rows


def load_clips(pipeline: FacePipeline, root: Path, cache: Path, kind: str) -> dict[str, list[Seen]]:
    """The clips of ``root/video/liveness/<kind>`` through the pipeline (cached)."""
    return {
        path.name: read_clip_cached(pipeline, path, FPS, cache)
        for path in sorted((root / "video" / "liveness" / kind).glob("*"))
        if path.suffix.lower() in (".mp4", ".mpg", ".avi", ".webm", ".mov", ".gif")
    }


# --- attacks ---------------------------------------------------------------------------

_WORKER: dict[str, Any] = {}


def _init_worker(faces: Path) -> None:
    import torch

    torch.set_num_threads(1)
    pipeline = FacePipeline.load(VisionSettings(device="cpu"))
    _WORKER["pipeline"] = pipeline
    _WORKER["photos"] = attack_photos(faces, pipeline)
    _WORKER["threshold"] = same_person_threshold()


def record_attack(
    pipeline: FacePipeline,
    photo: Photo,
    kind: AttackKind,
    strategy: Strategy,
    rng: random.Random,
    move: str,
    seconds: float,
    threshold: float,
    attempt: str,
) -> list[Row] | None:
    """One made attack answering ``move`` for ``seconds``: the cues of each frame after
    the prompt; None when its first frames were not recognised as the photo's person."""
    size = (480, 360)
    camera = Camera(*size, fov_deg=rng.uniform(55, 75))
    medium = make_medium(photo.rgb, photo.face, kind, rng)
    attacker = Attacker(camera, medium, strategy, rng)
    scene = background(size[0], size[1], rng, photo.rgb if rng.random() < 0.3 else None)
    effects = CameraEffects(rng, size[0], size[1])
    refs: list[Seen] = []
    t, near = 0.0, None
    for _ in range(3):
        pose = attacker.pose(t, None, 0.0)
        seen = look(pipeline, effects(camera.render(medium, pose, scene), t, pose), t, True, near)
        if seen is None or seen.embedding is None:
            return None
        if float(np.linalg.norm(seen.embedding - photo.template)) > threshold:
            return None
        refs.append(seen)
        near = seen.box
        t += 1.0 / FPS
    since = t - 1.0 / FPS
    sign = 1.0 if move == "left" else -1.0
    rows = []
    i = 0
    while t - since <= seconds:
        pose = attacker.pose(t, move, since)
        seen = look(pipeline, effects(camera.render(medium, pose, scene), t, pose), t, False, near)
        if seen is not None:
            near = seen.box
            row = cues(refs, seen, sign)
            row.group, row.attempt, row.index, row.time = kind.value, attempt, i, t - since
            rows.append(row)
        i += 1
        t += 1.0 / FPS
    return rows


def _attack_task(task: tuple[int, int, float]) -> list[Row]:
    index, seed, seconds = task
    rng = random.Random(seed)
    kind = KINDS[index % len(KINDS)]
    while True:
        strategy = rng.choice(STRATEGIES)
        rows = record_attack(
            _WORKER["pipeline"],
            rng.choice(_WORKER["photos"]),
            kind,
            strategy,
            rng,
            rng.choice(("left", "right")),
            seconds,
            _WORKER["threshold"],
            f"{kind.value}#{index}:{strategy.value}",
        )
        if rows is not None:
            return rows


# --- the fit ---------------------------------------------------------------------------


def logistic(x: np.ndarray, y: np.ndarray, weight: np.ndarray, l2: float = 1e-2) -> np.ndarray:
    """Weighted logistic regression by Newton's method; returns (bias, weights...) for
    standardised features ``x`` (an intercept column is added)."""
    a = np.column_stack([np.ones(len(x)), x])
    beta = np.zeros(a.shape[1])
    penalty = np.full(a.shape[1], l2)
    penalty[0] = 0.0
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-np.clip(a @ beta, -30, 30)))
        grad = a.T @ (weight * (p - y)) + penalty * beta
        hess = (a * (weight * p * (1 - p))[:, None]).T @ a + np.diag(penalty)
        step = np.linalg.solve(hess, grad)
        beta -= step
        if float(np.abs(step).max()) < 1e-8:
            break
    return beta


#: the sign each cue's weight must have: more of it says a live head (+1) or a picture
#: (-1). A cue whose fitted weight comes out the other way is left out and the rest refitted:
#: with a few dozen attacks past the gate, a reversed weight is the fit leaning on a
#: coincidence of this sample, not on what the cue measures
SIGNS = {"parallax": 1, "ratio": 1, "head": 1, "plane": -1, "surround": 1, "outline": 1}


def fit_combination(
    rows: list[Row], gate: float, l2: float = 1.0, drop: tuple[str, ...] = ()
) -> Combination:
    """The logistic combination on the gated frames (each class weighted to total 1 and
    each turn or attempt equally within its class: a long turn is not worth more), with
    every weight of its cue's sign (:data:`SIGNS`)."""
    while True:
        combo = _fit(rows, gate, l2, drop)
        wrong = [c for c, w in zip(CUES, combo.weights, strict=True) if w * SIGNS[c] < 0]
        if not wrong:
            return combo
        drop = (*drop, *wrong)


def _fit(rows: list[Row], gate: float, l2: float, drop: tuple[str, ...]) -> Combination:
    use = [r for r in rows if r.parallax >= gate and r.plane is not None]
    keep = [i for i, c in enumerate(CUES) if c not in drop]
    x = np.array([r.evidence().features() for r in use])[:, keep]
    y = np.array([r.label for r in use], float)
    per_attempt: dict[str, int] = {}
    for r in use:
        per_attempt[r.attempt] = per_attempt.get(r.attempt, 0) + 1
    w = np.array([1.0 / per_attempt[r.attempt] for r in use])
    for label in (0, 1):
        w[y == label] /= w[y == label].sum()
    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-9
    beta = logistic((x - mean) / std, y, w * len(use), l2)
    kept = beta[1:] / std
    bias = float(beta[0] - (kept * mean).sum())
    weights = np.zeros(len(CUES))
    weights[keep] = kept
    return Combination(tuple(float(v) for v in weights), bias, 0.0)


def best_pair(frames: list[tuple[int, float]]) -> float:
    """The highest score that two frames in a row both reach (a move counts on two)."""
    frames = sorted(frames)
    best = -math.inf
    for (i, a), (j, b) in zip(frames, frames[1:], strict=False):
        if j == i + 1:
            best = max(best, min(a, b))
    return best


def pair_scores(rows: list[Row], combo: Combination, gate: float) -> dict[str, float]:
    """Per turn or attempt: the highest score two gated frames in a row reach."""
    frames: dict[str, list[tuple[int, float]]] = {}
    for r in rows:
        if r.parallax > gate and r.plane is not None:
            frames.setdefault(r.attempt, []).append((r.index, combo.score(r.evidence())))
    return {k: best_pair(v) for k, v in frames.items()}


def operating_point(attacks: list[Row], combo: Combination, gate: float, margin: float) -> float:
    """The threshold: ``margin`` above the highest score two frames in a row of any fit
    attack reached."""
    scores = [v for v in pair_scores(attacks, combo, gate).values() if math.isfinite(v)]
    return max(scores, default=0.0) + margin


def run_fit(args: argparse.Namespace) -> int:
    rows: list[Row] = []
    for path in sorted(args.data.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            rows.append(Row(**json.loads(line)))
    genuine = [r for r in rows if r.label == 1 and r.peak >= args.min_peak]
    attacks = [r for r in rows if r.label == 0]
    gated_g = [r for r in genuine if r.parallax > args.gate]
    gated_a = [r for r in attacks if r.parallax > args.gate]
    print(
        f"fit data: {len(gated_g)} genuine frames past the gate (parallax > {args.gate}) in "
        f"{len({r.attempt for r in gated_g})} turns of "
        f"{len({r.group for r in gated_g})} clips; {len(gated_a)} attack frames past it in "
        f"{len({r.attempt for r in gated_a})} of {len({r.attempt for r in attacks})} attempts"
    )
    combo = fit_combination(genuine + attacks, args.gate, args.l2, tuple(args.drop))
    tau = operating_point(attacks, combo, args.gate, args.margin)
    combo = Combination(combo.weights, combo.bias, tau)
    print(
        "weights:",
        dict(zip(CUES, (round(w, 3) for w in combo.weights), strict=True)),
        f"bias {combo.bias:.3f}, threshold {tau:.3f}",
    )
    attack_best = sorted(pair_scores(attacks, combo, args.gate).values())
    print(
        f"  fit attacks: highest two-in-a-row score {attack_best[-1]:.2f} "
        f"(threshold = that + {args.margin}); next {[round(v, 2) for v in attack_best[-5:-1]]}"
    )
    in_sample = pair_scores(genuine, combo, args.gate)
    # leave one person out: each clip's turns scored by a fit (and threshold) made without
    # any clip of its person (two clips of one man must not judge each other)
    held: dict[str, Combination] = {}
    held_scores: dict[str, float] = {}
    for person in sorted({person_of(r.group) for r in genuine}):
        others = [r for r in genuine if person_of(r.group) != person]
        c = fit_combination(others + attacks, args.gate, args.l2, tuple(args.drop))
        c = Combination(c.weights, c.bias, operating_point(attacks, c, args.gate, args.margin))
        theirs = [r for r in genuine if person_of(r.group) == person]
        for clip in {r.group for r in theirs}:
            held[clip] = c
        for k, v in pair_scores(theirs, c, args.gate).items():
            held_scores[k] = v - c.threshold
    for label, low, high in (("deliberate", 0.15, 9.0), ("15-25 degrees", 0.10, 0.15)):
        names = sorted({r.attempt for r in genuine if low <= r.peak < high})
        ok_in = sum(in_sample.get(n, -math.inf) >= tau for n in names)
        ok_held = sum(held_scores.get(n, -math.inf) >= 0 for n in names)
        print(
            f"  {label} turns counted: {ok_held}/{len(names)} leave-one-person-out, "
            f"{ok_in}/{len(names)} in-sample"
        )
        for n in names:
            print(
                f"    {n:28s} held-out margin {held_scores.get(n, -math.inf):7.2f}   "
                f"in-sample {in_sample.get(n, -math.inf) - tau:7.2f}"
            )
    relief_report(genuine, attacks, args.gate)
    if args.held_out:

        def as_dict(c: Combination) -> dict[str, Any]:
            return {"weights": list(c.weights), "bias": c.bias, "threshold": c.threshold}

        args.held_out.write_text(
            json.dumps(
                {
                    "gate": args.gate,
                    "margin": args.margin,
                    "shipped": as_dict(combo),
                    "held_out": {k: as_dict(v) for k, v in held.items()},
                },
                indent=2,
            ),
            encoding="utf-8",
        )
    return 0


def relief_report(genuine: list[Row], attacks: list[Row], gate: float) -> None:
    """The tracked points' relief (:mod:`tools.liveness.relief`) on its own: per turn or
    attempt, the highest value two gated frames in a row reach; how many genuine turns
    (by background) reach the highest of the attacks', by kind."""

    def best(rows: list[Row]) -> dict[str, float]:
        frames: dict[str, list[tuple[int, float]]] = {}
        for r in rows:
            if r.parallax > gate and r.relief is not None and math.isfinite(r.relief):
                frames.setdefault(r.attempt, []).append((r.index, r.relief))
        return {k: best_pair(v) for k, v in frames.items()}

    live, fake = best(genuine), best(attacks)
    if not live or not fake:
        print("relief: no measurements (collect again: the rows have no relief)")
        return
    kinds: dict[str, list[float]] = {}
    for r in attacks:
        if r.attempt in fake:
            kinds.setdefault(r.group, []).append(fake[r.attempt])
    top = max(fake.values())
    print(
        "relief (tracked points, not in the combination): highest two-in-a-row per attack "
        + ", ".join(
            f"{k} {max(v):.3f} (median {float(np.median(v)):.3f}, {len(set(v))} attempts)"
            for k, v in sorted(kinds.items())
        )
    )
    for ground in ("textured", "plain"):
        turns = {r.attempt: r for r in genuine if background_of(r.group) == ground}
        values = [live.get(a, -math.inf) for a in turns]
        over = sum(v > top for v in values)
        measured = [v for v in values if math.isfinite(v)]
        print(
            f"  genuine turns before a {ground} background: {over}/{len(values)} above every "
            f"attack ({top:.3f}); median {float(np.median(measured)) if measured else math.nan:.3f}"
            f" over {len(measured)} measured"
        )


def run_collect(args: argparse.Namespace) -> int:
    args.out.mkdir(parents=True, exist_ok=True)
    if not args.skip_clips:
        pipeline = FacePipeline.load(VisionSettings(device="cpu"))
        clips = load_clips(pipeline, args.faces, args.out / "clips", "genuine")
        rows = genuine_rows(clips, min_peak=0.07)
        with (args.out / "genuine.jsonl").open("w", encoding="utf-8") as f:
            for r in rows:
                f.write(json.dumps(r.__dict__) + "\n")
        print(f"genuine: {len(rows)} frames", flush=True)
    if args.attempts:
        seconds = LivenessSettings().time_limit_seconds
        tasks = [(i, args.seed * 1_000_003 + i, seconds) for i in range(args.attempts)]
        ctx = multiprocessing.get_context("spawn")
        out = args.out / f"attacks_seed{args.seed}.jsonl"
        with (
            ctx.Pool(args.workers, _init_worker, (args.faces,)) as pool,
            out.open("w", encoding="utf-8") as f,
        ):
            for n, rows in enumerate(pool.imap(_attack_task, tasks), start=1):
                for r in rows:
                    f.write(json.dumps(r.__dict__) + "\n")
                f.flush()
                if n % 20 == 0:
                    print(f"  {n} attacks", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    c = sub.add_parser("collect", help="measure the cues on genuine turns and made attacks")
    c.add_argument("--out", type=Path, required=True)
    c.add_argument("--faces", type=Path, default=faces_dir())
    c.add_argument("--attempts", type=int, default=400)
    c.add_argument("--seed", type=int, default=21)
    c.add_argument("--workers", type=int, default=2)
    c.add_argument("--skip-clips", action="store_true")
    f = sub.add_parser("fit", help="fit the combination and report it")
    f.add_argument("--data", type=Path, required=True)
    f.add_argument("--gate", type=float, default=0.07)
    f.add_argument("--min-peak", type=float, default=0.10)
    f.add_argument("--margin", type=float, default=1.0, help="log-odds above the top attack")
    f.add_argument("--drop", nargs="*", default=[], choices=CUES, help="cues left out")
    f.add_argument("--l2", type=float, default=1.0, help="ridge penalty (standardised cues)")
    f.add_argument("--held-out", type=Path, help="write the combinations here (JSON)")
    args = ap.parse_args(argv)
    return run_collect(args) if args.command == "collect" else run_fit(args)


if __name__ == "__main__":
    sys.exit(main())


def counted_attempts(
    rows: list[Row], combo: Combination, gate: float, centre: float, min_ratio: float = 0.6
) -> dict[str, bool]:
    """Per attack attempt: would the challenge's rule count its move? The frames in order:
    a frame at rest (under ``centre`` the asked way) arms it, a clear turn the wrong way
    (1.25 x ``gate`` on two frames in a row, with parallax for the tilt) ends it, two
    frames in a row past ``gate`` that score ``combo.threshold`` or more count."""
    by_attempt: dict[str, list[Row]] = {}
    for r in rows:
        by_attempt.setdefault(r.attempt, []).append(r)
    out = {}
    for name, frames in by_attempt.items():
        frames.sort(key=lambda r: r.index)
        rested, counted, previous = False, False, None
        for r in frames:
            if r.parallax < centre:
                rested = True
            wrong = -r.parallax > 1.25 * gate and -r.parallax >= min_ratio * r.tilt
            past = (
                r.parallax > gate
                and r.plane is not None
                and combo.score(r.evidence()) >= combo.threshold
            )
            if previous is not None and previous[0] and wrong:
                break
            if rested and previous is not None and previous[1] and past:
                counted = True
                break
            previous = (wrong, past)
        out[name] = counted
    return out
