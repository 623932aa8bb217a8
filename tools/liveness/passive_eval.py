"""The passive score (MiniFASNet, :mod:`kiosk.vision.antispoof`) as a second opinion.

    python -m tools.liveness.passive_eval [--per-kind 200] [--seed 501] [--json PATH]

Two questions, for the lead's decision on issue 23:

(a) can it deny a *confidently fake* attempt without turning away genuine people? Every
    clip under ``<faces>/video/liveness`` (genuine and attack; stills are one frame) is
    read at 8 frames a second (at most 640 px, MTCNN's box as the kiosk has it) and cut
    into attempts: windows of 1 s starting every 0.5 s; each window's score is the mean
    (and, apart, the min) of its frames' scores.
(b) can it *vouch* for a turn whose surroundings could not be measured? Made attacks
    (:mod:`tools.liveness.attacks`: print, bent print, phone, tablet, and flat prints
    that fill the frame with no edge in view, :mod:`tools.liveness.edgeless`) are
    rendered for 1 s at 8 frames a second while the attacker answers a prompt; each
    attack's score is the mean (and min) over its frames with a face (for edge-less
    prints: its frames with no edge in view).

For each group and thresholds (confidently fake: < 0.2; confidently real: > 0.8, > 0.9)
the count on each side, its share and the 95 % Clopper-Pearson upper bound. Made
attacks use seeds from ``--seed`` (501 by default; attack ``i`` draws from
``seed * 1_000_003 + i``). The made attacks are not required to be recognised first.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np

from kiosk.domain.faces import Box, ImageArray
from kiosk.domain.stats import upper_bound
from tools.liveness.attacks import (
    Attacker,
    AttackKind,
    Camera,
    CameraEffects,
    Strategy,
    background,
    make_medium,
)
from tools.liveness.edgeless import EdgelessAttacker, covers
from tools.liveness.frames import Photo, faces_dir

FAKE_BELOW = (0.2,)
REAL_ABOVE = (0.8, 0.9)
EDGELESS = "edgeless-print"
MADE_KINDS = [k.value for k in AttackKind] + [EDGELESS]
STRATEGIES = [Strategy.FOLLOW] * 6 + [Strategy.SWING] * 3 + [Strategy.HANDHELD]
VIDEO = (".mp4", ".mpg", ".gif", ".avi", ".webm", ".mov")
STILL = (".jpg", ".jpeg", ".png")


class Scorer:
    """MTCNN's main face (searched near the last one first, as the kiosk's tracker does)
    and its passive score."""

    def __init__(self) -> None:
        import torch

        from kiosk.vision.antispoof import PassiveScorer
        from kiosk.vision.detector import FaceDetector

        self.detector = FaceDetector(torch.device("cpu"))
        self.passive = PassiveScorer()
        self.passive.load()

    def face(self, rgb: ImageArray, near: Box | None) -> Box | None:
        from kiosk.vision.pipeline import main_face_index

        h, w = rgb.shape[:2]
        if near is not None:
            pad = max(near.width, near.height)
            x1, y1 = max(int(near.x1 - pad), 0), max(int(near.y1 - pad), 0)
            x2, y2 = min(int(near.x2 + pad), w), min(int(near.y2 + pad), h)
            if x2 - x1 > 48 and y2 - y1 > 48:
                faces = self.detector.detect(np.ascontiguousarray(rgb[y1:y2, x1:x2]))
                if faces:
                    b = max(faces, key=lambda f: f.box.area).box
                    return Box(b.x1 + x1, b.y1 + y1, b.x2 + x1, b.y2 + y1)
        faces = self.detector.detect(rgb)
        idx = main_face_index(faces, w, h)
        return None if idx is None else faces[idx].box

    def score(self, rgb: ImageArray, box: Box) -> float:
        return self.passive.score(rgb, box)


# --- the real clips ------------------------------------------------------------------


@dataclass
class Clip:
    name: str
    kind: str  # genuine | attack
    frames: int = 0  # frames read at 8 a second
    faces: int = 0  # of which with a face
    times: list[float] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    windows_mean: list[float] = field(default_factory=list)
    windows_min: list[float] = field(default_factory=list)


def _small(rgb: ImageArray) -> ImageArray:
    scale = 640 / max(rgb.shape[:2])
    if scale < 1:
        rgb = np.asarray(cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA))
    return np.ascontiguousarray(rgb, dtype=np.uint8)


def read_scores(scorer: Scorer, path: Path, kind: str, fps: float) -> Clip:
    """The clip's passive score at about ``fps`` frames a second."""
    clip = Clip(path.name, kind)
    if path.suffix.lower() in STILL:
        bgr = cv2.imread(str(path))
        frames = [] if bgr is None else [(0.0, bgr)]
    else:
        cap = cv2.VideoCapture(str(path))
        native = cap.get(cv2.CAP_PROP_FPS) or 25.0
        if not math.isfinite(native) or native <= 0 or native > 240:
            native = 25.0
        step = max(1, round(native / fps))
        frames = []
        i = 0
        while True:
            ok, bgr = cap.read()
            if not ok:
                break
            if i % step == 0:
                frames.append((i / native, bgr))
            i += 1
        cap.release()
    near: Box | None = None
    for t, bgr in frames:
        clip.frames += 1
        rgb = _small(np.asarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)))
        box = scorer.face(rgb, near)
        if box is None:
            continue
        near = box
        clip.faces += 1
        clip.times.append(t)
        clip.scores.append(scorer.score(rgb, box))
    clip.windows_mean, clip.windows_min = windows(clip.times, clip.scores)
    return clip


def windows(
    times: list[float], scores: list[float], seconds: float = 1.0, stride: float = 0.5
) -> tuple[list[float], list[float]]:
    """Mean and min score of every window ``seconds`` long starting every ``stride``
    seconds (a clip shorter than a window is one window); windows with fewer than half
    the frames of a full one (a face lost) are left out, unless the clip is one frame."""
    if not times:
        return [], []
    if len(times) == 1:
        return [scores[0]], [scores[0]]
    t = np.asarray(times)
    s = np.asarray(scores)
    rate = (len(t) - 1) / max(t[-1] - t[0], 1e-6)
    need = max(1, int(0.5 * rate * min(seconds, t[-1] - t[0] + 1e-6)))
    means, mins = [], []
    start = float(t[0])
    last = max(float(t[-1]) - seconds, start)
    while start <= last + 1e-6:
        inside = s[(t >= start - 1e-6) & (t < start + seconds - 1e-6)]
        if inside.size >= need:
            means.append(float(inside.mean()))
            mins.append(float(inside.min()))
        start += stride
    return means, mins


# --- made attacks ------------------------------------------------------------------


@dataclass
class Made:
    index: int
    seed: int
    kind: str
    strategy: str
    photo: str
    frames: int
    scored: int  # frames with a face (and, for edge-less prints, with no edge in view)
    mean: float
    min: float
    max: float


def run_made(
    scorer: Scorer,
    photos: list[Photo],
    index: int,
    base_seed: int,
    size: tuple[int, int],
    fps: float,
    frames: int,
) -> tuple[Made, int]:
    """Made attack ``index`` (its kind cycles through :data:`MADE_KINDS`), redrawn from the
    same random stream until at least half its frames were scored; and how many draws
    did not make it."""
    seed = base_seed * 1_000_003 + index
    rng = random.Random(seed)
    kind = MADE_KINDS[index % len(MADE_KINDS)]
    misses = 0
    while True:
        photo = rng.choice(photos)
        camera = Camera(*size, fov_deg=rng.uniform(55, 75))
        medium_kind = AttackKind.PRINT if kind == EDGELESS else AttackKind(kind)
        medium = make_medium(photo.rgb, photo.face, medium_kind, rng)
        attacker: Attacker
        if kind == EDGELESS:
            attacker = EdgelessAttacker(camera, medium, rng)
            strategy = "edgeless-follow"
        else:
            choice = rng.choice(STRATEGIES)
            attacker = Attacker(camera, medium, choice, rng)
            strategy = choice.value
        scene = background(size[0], size[1], rng, photo.rgb if rng.random() < 0.3 else None)
        effects = CameraEffects(rng, size[0], size[1])
        move = rng.choice(("left", "right", "up", "down"))
        scores: list[float] = []
        near: Box | None = None
        for k in range(frames):
            t = 0.25 + k / fps  # the prompt was shown at t = 0: the answer is under way
            pose = attacker.pose(t, move, 0.0)
            if kind == EDGELESS and not covers(camera, medium, pose):
                continue
            frame = effects(camera.render(medium, pose, scene), t, pose)
            box = scorer.face(frame, near)
            if box is None:
                continue
            near = box
            scores.append(scorer.score(frame, box))
        if len(scores) * 2 >= frames:
            a = np.asarray(scores)
            made = Made(
                index,
                seed,
                kind,
                strategy,
                photo.path.name,
                frames,
                len(scores),
                float(a.mean()),
                float(a.min()),
                float(a.max()),
            )
            return made, misses
        misses += 1
        if misses > 50:
            raise RuntimeError(f"made attack {index} ({kind}) found no face in 50 draws")


# --- the report ----------------------------------------------------------------------


def sides(values: list[float]) -> dict[str, dict[str, float]]:
    """Count, share and 95 % upper bound below each fake threshold and above each real
    one."""
    n = len(values)
    a = np.asarray(values)
    out: dict[str, dict[str, float]] = {}
    for thr in FAKE_BELOW:
        k = int((a < thr).sum()) if n else 0
        out[f"<{thr:g}"] = {"k": k, "n": n, "share": k / n if n else 0.0, "ub95": upper_bound(k, n)}
    for thr in REAL_ABOVE:
        k = int((a > thr).sum()) if n else 0
        out[f">{thr:g}"] = {"k": k, "n": n, "share": k / n if n else 0.0, "ub95": upper_bound(k, n)}
    return out


def _cell(c: dict[str, float]) -> str:
    return f"{int(c['k'])}/{int(c['n'])} ({100 * c['share']:.1f} %, <= {100 * c['ub95']:.1f} %)"


def group_scores(clips: list[Clip], made: list[Made]) -> dict[str, list[float]]:
    """The scores by group: genuine and attack-clip windows, made attacks by kind; each by
    the mean and by the min of its frames."""
    groups: dict[str, list[float]] = {}
    for stat in ("mean", "min"):
        g = [v for c in clips if c.kind == "genuine" for v in getattr(c, f"windows_{stat}")]
        a = [v for c in clips if c.kind == "attack" for v in getattr(c, f"windows_{stat}")]
        if clips:
            groups[f"genuine windows ({stat})"] = g
            groups[f"attack-clip windows ({stat})"] = a
        for kind in MADE_KINDS:
            values = [getattr(m, stat) for m in made if m.kind == kind]
            if values:
                groups[f"made {kind} ({stat})"] = values
    return groups


def merge(paths: list[Path]) -> int:
    """The tables over several runs' JSON files (clips from the first that has them, the
    made attacks of all; a seed seen twice is counted once)."""
    clips: list[Clip] = []
    made: dict[int, Made] = {}
    for path in paths:
        try:
            data = json.loads(path.read_text())
            run_clips = [Clip(**c) for c in data["clips"]]
            run_made = [Made(**m) for m in data["made"]]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            print(f"error: {path} is not a passive_eval --json file ({exc})", file=sys.stderr)
            return 2
        if not clips:
            clips = run_clips
        made.update((m.seed, m) for m in run_made)
    lines, _ = report(group_scores(clips, list(made.values())))
    print("\n".join(lines))
    print(f"\n{len(clips)} clips, {len(made)} made attacks from {len(paths)} runs")
    return 0


def report(groups: dict[str, list[float]]) -> tuple[list[str], dict[str, object]]:
    keys = [f"<{t:g}" for t in FAKE_BELOW] + [f">{t:g}" for t in REAL_ABOVE]
    lines = [
        "group | " + " | ".join(f"score {k}: count (share, 95 % bound)" for k in keys) + " | max",
        "---|" + "---|" * len(keys) + "---",
    ]
    table: dict[str, object] = {}
    for name, values in groups.items():
        s = sides(values)
        table[name] = {**s, "max": max(values) if values else None, "n": len(values)}
        top = f"{max(values):.3f}" if values else "-"
        lines.append(f"{name} | " + " | ".join(_cell(s[k]) for k in keys) + f" | {top}")
    return lines, table


def write_json(
    path: Path,
    argv: list[str] | None,
    load_start: tuple[float, float, float],
    clips: list[Clip],
    made: list[Made],
    misses: int,
    table: dict[str, object] | None,
) -> None:
    """Every score (and the tables, once the run is complete), replaced whole: a reader
    never sees half a file."""
    payload = {
        "command": "python -m tools.liveness.passive_eval " + " ".join(argv or sys.argv[1:]),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "complete": table is not None,
        "load_average": [list(load_start), list(os.getloadavg())],
        "tables": table,
        "clips": [asdict(c) for c in clips],
        "made": [asdict(m) for m in made],
        "redrawn": misses,
    }
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(payload, indent=1) + "\n")
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--faces", type=Path, default=faces_dir(), help="the shared faces folder")
    ap.add_argument("--per-kind", type=int, default=200, help="made attacks per kind (5 kinds)")
    ap.add_argument("--seed", type=int, default=501, help="base seed of the made attacks")
    ap.add_argument("--fps", type=float, default=8.0, help="frames a second")
    ap.add_argument("--frames", type=int, default=8, help="frames per made attack (1 s)")
    ap.add_argument("--size", default="480x360", help="made attack frame size (WxH)")
    ap.add_argument("--skip-clips", action="store_true", help="made attacks only")
    ap.add_argument("--json", type=Path, help="write every score and the tables here")
    ap.add_argument("--merge", type=Path, nargs="+", help="only print the tables of these runs")
    args = ap.parse_args(argv)
    if args.merge:
        return merge(args.merge)
    try:
        w, h = (int(v) for v in args.size.lower().split("x"))
        if w < 64 or h < 64:
            raise ValueError
    except ValueError:
        print(
            f"error: --size must be WIDTHxHEIGHT, at least 64x64 (got {args.size})", file=sys.stderr
        )
        return 2
    root = args.faces / "video" / "liveness"
    if not root.is_dir():
        print(f"error: no clips under {root}", file=sys.stderr)
        return 2
    if args.per_kind < 0 or args.frames < 1 or args.fps <= 0:
        print("error: --per-kind >= 0, --frames >= 1 and --fps > 0", file=sys.stderr)
        return 2

    import torch

    from kiosk.errors import KioskError

    torch.set_num_threads(1)
    started = time.time()
    load_start = os.getloadavg()
    try:
        scorer = Scorer()
    except KioskError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3

    clips: list[Clip] = []
    if not args.skip_clips:
        for kind in ("genuine", "attack"):
            for path in sorted((root / kind).iterdir()):
                if path.suffix.lower() in VIDEO + STILL:
                    clips.append(read_scores(scorer, path, kind, args.fps))
        print(
            "clip | kind | frames (with a face) | windows | mean score | lowest window | "
            "highest window"
        )
        print("---|---|---|---|---|---|---")
        for c in clips:
            wm = c.windows_mean
            mean = f"{np.mean(c.scores):.3f}" if c.scores else "-"
            lo = f"{min(wm):.3f}" if wm else "-"
            hi = f"{max(wm):.3f}" if wm else "-"
            print(
                f"{c.name} | {c.kind} | {c.frames} ({c.faces}) | {len(wm)} | {mean} | {lo} | {hi}"
            )
        print()

    made: list[Made] = []
    misses = 0
    if args.per_kind:
        from kiosk.config import VisionSettings
        from kiosk.vision.pipeline import FacePipeline
        from tools.liveness.frames import attack_photos

        photos = attack_photos(args.faces, FacePipeline.load(VisionSettings(device="cpu")))
        if not photos:
            print("error: no photo with one clear face for the made attacks", file=sys.stderr)
            return 2
        total = args.per_kind * len(MADE_KINDS)
        for i in range(total):
            m, missed = run_made(scorer, photos, i, args.seed, (w, h), args.fps, args.frames)
            made.append(m)
            misses += missed
            if (i + 1) % 50 == 0:
                print(f"  ... {i + 1}/{total} made attacks", file=sys.stderr, flush=True)
                if args.json:  # a checkpoint: a long run stopped early keeps what it did
                    write_json(args.json, argv, load_start, clips, made, misses, None)

    groups = group_scores(clips, made)
    lines, table = report(groups)
    print("\n".join(lines))
    load_end = os.getloadavg()
    print(
        f"\n{len(clips)} clips, {len(made)} made attacks ({misses} redrawn: no face), seeds "
        f"{args.seed}*1000003+i; {time.time() - started:.0f} s; load average "
        f"{load_start[0]:.2f} -> {load_end[0]:.2f}"
    )
    if args.json:
        write_json(args.json, argv, load_start, clips, made, misses, table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
