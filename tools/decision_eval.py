"""How well the kiosk's door decision does over several frames of one face (a script).

    python -m tools.decision_eval [--faces DIR] [--cache DIR] [--json FILE] [--quick]

Attempts are made from ``../shared/faces`` and go through the same decision code as the
kiosk's loop (:class:`kiosk.domain.policy.Attempt` rules, the gallery's search with the
configured ``[vision]`` threshold or the operating point for the gallery's size, and the
margin; no distance is written here):

- **photo sets** (deepface, face_recognition, faceapi_bbt, orl, lfw_dev): of the people
  with at least 4 photos, every other one (by name) is enrolled with their first 3
  photos; the others, and everyone with fewer photos, are strangers. Each photo not
  enrolled becomes an attempt of ``FRAMES`` camera frames: the photo's face cropped,
  moved, turned, scaled, re-lit, blurred, noised and JPEG-compressed at random, one frame
  in four harshly (very dark, bright or blurred), each frame through the real pipeline.
  A second kind of attempt takes a person's own different photos as consecutive frames
  (pose and light change between frames: a hard case for fusion).
- **clips** (``video/liveness/genuine``): each clip's person is enrolled from 3 frames of
  its first 1.5 s; attempts start every second after that (mated), and the same windows
  are searched with that person left out of the gallery (strangers). Everyone enrolled
  from the photo sets is in the gallery too.

Badge + face: each attempt shows a badge first, its own, or for a stranger the badge of
the enrolled person he looks most like, and the face is checked 1:1 against that person.

Rates: frames arrive at a simulated recognition rate (1.5, 2, 3 and 6 a second); a frame
is decided on when it has been recognised, one recognition period after it was taken.

Per rule (``vote``: the person most frames name, if more than half; ``mean``: the mean
embedding searched; ``fused``: the quality-weighted mean searched; ``single``: the first
frame alone) and rate: FNIR (mated attempts not decided as their person, with the wrong
person named counted apart), FPIR (stranger attempts decided as someone enrolled), each
with its count and a 95 % upper bound, and the time from the face's first frame to the
decision (median and maximum). Embeddings are computed once and kept in ``--cache``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import math
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from kiosk.camera.frames import CameraStatus, Frame, FrameSlot
from kiosk.config import FUSION_METHODS, DecisionSettings, Settings
from kiosk.domain.access import AccessEvent, AccessSchedule, Decision, Person
from kiosk.domain.faces import Box, DetectedFace, FaceResult, FloatArray, ImageArray, ModelInfo
from kiosk.domain.policy import choose_face
from kiosk.errors import KioskError
from kiosk.services.door import DoorRequest, DoorResult
from kiosk.services.kiosk_loop import KioskLoop
from kiosk.services.loop_messages import Decided
from kiosk.vision.imageio import read_image
from kiosk.vision.matcher import Gallery, build_gallery
from kiosk.vision.pipeline import FacePipeline, main_face_index
from kiosk.vision.quality import assess_face

PHOTO_SETS = ("deepface", "face_recognition", "faceapi_bbt", "orl", "lfw_dev")
PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png", ".pgm", ".webp"}
ENROLL_PHOTOS = 3
MIN_PHOTOS = ENROLL_PHOTOS + 1
FRAMES = 8  # camera frames made from one photo
FRAME_SIDE = 320
CLIP_FPS = 6.0  # the clips are read at this rate; slower rates take every n-th frame
CLIP_ENROLL_SECONDS = 1.5
CLIP_STRIDE = 1.0  # a new attempt every second of a clip
RATES = (1.5, 2.0, 3.0, 6.0)
#: made frames are shown again in turn, up to this many recognitions (a person stays)
CYCLE = 24


def default_faces_dir() -> Path:
    env = os.environ.get("KIOSK_FACES_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared" / "faces"


# --- what a camera saw --------------------------------------------------------------


@dataclass
class Seen:
    """The decided-on face of a batch of frames (``ok`` false: no face in that frame)."""

    ok: npt_bool
    emb: FloatArray
    quality: FloatArray
    box: FloatArray
    time: FloatArray

    @classmethod
    def empty(cls, n: int, dim: int) -> Seen:
        return cls(
            np.zeros(n, bool),
            np.zeros((n, dim), np.float32),
            np.zeros(n, np.float32),
            np.zeros((n, 4), np.float32),
            np.zeros(n, np.float64),
        )

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, ok=self.ok, emb=self.emb, quality=self.quality, box=self.box, time=self.time)
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> Seen:
        with np.load(path, allow_pickle=False) as data:
            return cls(data["ok"], data["emb"], data["quality"], data["box"], data["time"])


npt_bool = Any  # numpy bool arrays (numpy's typing has no short name for them)


def look(pipeline: FacePipeline, rgb: ImageArray, main: bool) -> tuple[bool, Any, float, Box]:
    """The face the kiosk decides on (``main``: the photo's main face, as enrollment
    takes it): (found, embedding, quality, box)."""
    faces = pipeline.detect(rgb)
    h, w = rgb.shape[:2]
    boxes = [f.box for f in faces]
    idx = main_face_index(faces, w, h) if main else choose_face(boxes, w, h)
    if idx is None:
        return False, None, 0.0, Box(0, 0, 0, 0)
    result = pipeline.analyze(rgb, [faces[idx]])[0]
    quality = assess_face(result.face, result.chip).score
    return True, result.embedding, float(quality), result.face.box


# --- the photo sets -----------------------------------------------------------------


@dataclass
class PhotoSet:
    name: str
    people: dict[str, list[Path]]
    enrolled: dict[str, list[Path]] = field(default_factory=dict)  # name -> enroll photos
    probes: list[tuple[str, Path, bool]] = field(default_factory=list)  # (who, photo, mated)

    @property
    def photos(self) -> list[Path]:
        return [p for ps in self.people.values() for p in ps]


def photo_set(root: Path, name: str) -> PhotoSet:
    people: dict[str, list[Path]] = {}
    for folder in sorted((root / name).iterdir()):
        if not folder.is_dir() or folder.name.startswith("_"):
            continue
        photos = sorted(p for p in folder.iterdir() if p.suffix.lower() in PHOTO_SUFFIXES)
        if photos:
            people[f"{name}/{folder.name}"] = photos
    ps = PhotoSet(name, people)
    eligible = [who for who, photos in people.items() if len(photos) >= MIN_PHOTOS]
    for i, who in enumerate(eligible):
        if i % 2 == 0:
            ps.enrolled[who] = people[who][:ENROLL_PHOTOS]
    for who, photos in people.items():
        for p in photos:
            if who in ps.enrolled:
                if p not in ps.enrolled[who]:
                    ps.probes.append((who, p, True))
            else:
                ps.probes.append((who, p, False))
    return ps


def _rng_for(path: Path) -> np.random.Generator:
    seed = int.from_bytes(hashlib.sha256(str(path.name).encode()).digest()[:8], "little")
    return np.random.default_rng(seed)


def camera_frames(rgb: ImageArray, box: Box, rng: np.random.Generator, n: int) -> list[ImageArray]:
    """``n`` camera frames of the face in ``box``: moved, turned, scaled, re-lit, blurred,
    noised and JPEG-compressed at random; every fourth frame harshly."""
    frames = []
    cx, cy = box.center
    fw = max(box.width, 1.0)
    for i in range(n):
        harsh = i % 4 == 3
        scale = rng.uniform(90, 150) / fw
        sx, sy = rng.normal(0.0, 0.06 * fw, 2)
        m = cv2.getRotationMatrix2D((cx + sx, cy + sy), rng.uniform(-6, 6), scale)
        m[:, 2] += (FRAME_SIDE / 2 - (cx + sx), FRAME_SIDE / 2 - (cy + sy))
        img = (
            cv2.warpAffine(
                rgb,
                m,
                (FRAME_SIDE, FRAME_SIDE),
                flags=cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_REPLICATE,
            ).astype(np.float32)
            / 255.0
        )
        gain = rng.uniform(0.65, 1.25)
        gamma = rng.uniform(0.75, 1.35)
        sigma = rng.uniform(0.0, 1.2)
        if harsh:
            kind = rng.integers(3)
            if kind == 0:
                gain = rng.uniform(0.3, 0.45)
            elif kind == 1:
                gain, gamma = rng.uniform(1.5, 1.8), rng.uniform(0.6, 0.8)
            else:
                sigma = rng.uniform(2.5, 4.0)
        img = np.clip(gain * np.power(img, gamma), 0.0, 1.0) * 255.0
        if sigma > 0.3:
            img = cv2.GaussianBlur(img, (0, 0), sigma)
        img = img + rng.normal(0.0, rng.uniform(0.0, 6.0), img.shape)
        img8 = np.clip(img, 0, 255).astype(np.uint8)
        ok, data = cv2.imencode(
            ".jpg",
            cv2.cvtColor(img8, cv2.COLOR_RGB2BGR),
            [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(40, 91))],
        )
        assert ok
        bgr = cv2.imdecode(data, cv2.IMREAD_COLOR)
        assert bgr is not None
        frames.append(np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), np.uint8))
    return frames


def embed_photo_set(pipeline: FacePipeline, ps: PhotoSet, dim: int) -> tuple[Seen, Seen]:
    """(the main face of every photo, the camera frames of every probe photo)."""
    photos = ps.photos
    originals = Seen.empty(len(photos), dim)
    probes = Seen.empty(len(ps.probes) * FRAMES, dim)
    index = {p: i for i, p in enumerate(photos)}
    found: dict[Path, tuple[ImageArray, Box]] = {}
    for i, path in enumerate(photos):
        try:
            image = read_image(path, 1600)
        except KioskError:
            continue
        ok, emb, q, box = look(pipeline, image.rgb, main=True)
        if ok:
            originals.ok[i], originals.emb[i], originals.quality[i] = True, emb, q
            originals.box[i] = (box.x1, box.y1, box.x2, box.y2)
            found[path] = (image.rgb, box)
    for j, (_, path, _) in enumerate(ps.probes):
        if path not in found:
            continue
        rgb, box = found[path]
        for k, frame in enumerate(camera_frames(rgb, box, _rng_for(path), FRAMES)):
            ok, emb, q, fbox = look(pipeline, frame, main=False)
            row = j * FRAMES + k
            probes.time[row] = k
            if ok:
                probes.ok[row], probes.emb[row], probes.quality[row] = True, emb, q
                probes.box[row] = (fbox.x1, fbox.y1, fbox.x2, fbox.y2)
    del index
    return originals, probes


# --- the clips ------------------------------------------------------------------------


def clip_paths(root: Path) -> list[Path]:
    folder = root / "video" / "liveness" / "genuine"
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in {".mp4", ".mpg", ".avi"})


def embed_clip(pipeline: FacePipeline, path: Path, dim: int) -> Seen:
    """The decided-on face about ``CLIP_FPS`` times a second, scaled to at most 640 px."""
    cap = cv2.VideoCapture(str(path))
    native = cap.get(cv2.CAP_PROP_FPS) or 25.0
    rows: list[tuple[float, bool, Any, float, Box]] = []
    next_t, i = 0.0, 0
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        msec = cap.get(cv2.CAP_PROP_POS_MSEC)
        t = msec / 1000.0 if msec and msec > 0 else i / native
        i += 1
        if t + 1e-6 < next_t:
            continue
        next_t = max(next_t + 1.0 / CLIP_FPS, t)
        rgb = np.asarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), np.uint8)
        scale = 640 / max(rgb.shape[:2])
        if scale < 1:
            rgb = np.asarray(
                cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA), np.uint8
            )
        rows.append((t, *look(pipeline, np.ascontiguousarray(rgb), main=False)))
    cap.release()
    seen = Seen.empty(len(rows), dim)
    for r, (t, ok_face, emb, q, box) in enumerate(rows):
        seen.time[r] = t - rows[0][0]
        if ok_face:
            seen.ok[r], seen.emb[r], seen.quality[r] = True, emb, q
            seen.box[r] = (box.x1, box.y1, box.x2, box.y2)
    return seen


# --- the cache --------------------------------------------------------------------------


def cache_dir(base: Path, pipeline: FacePipeline) -> Path:
    return base / pipeline.model_info.checksum[:12]


def embed_all(pipeline: FacePipeline, faces: Path, cache: Path, quick: bool = False) -> None:
    """Compute (or find in ``cache``) every embedding the evaluation needs."""
    dim = _dim(pipeline)
    for name in PHOTO_SETS:
        ps = photo_set(faces, name)
        orig_path, probe_path = cache / f"{name}.photos.npz", cache / f"{name}.frames.npz"
        if orig_path.is_file() and probe_path.is_file():
            continue
        t0 = time.monotonic()
        originals, probes = embed_photo_set(pipeline, ps, dim)
        originals.save(orig_path)
        probes.save(probe_path)
        print(
            f"{name}: {len(ps.photos)} photos, {len(ps.probes)} probes "
            f"({time.monotonic() - t0:.0f} s)",
            file=sys.stderr,
            flush=True,
        )
    for path in clip_paths(faces):
        out = cache / f"clip.{path.stem}.npz"
        if out.is_file():
            continue
        t0 = time.monotonic()
        seen = embed_clip(pipeline, path, dim)
        seen.save(out)
        print(
            f"{path.name}: {len(seen.ok)} frames, {int(seen.ok.sum())} with a face "
            f"({time.monotonic() - t0:.0f} s)",
            file=sys.stderr,
            flush=True,
        )


def _dim(pipeline: FacePipeline) -> int:
    size = pipeline.embedder.chip_size
    return int(pipeline.embed([np.zeros((size, size, 3), np.uint8)]).shape[1])


# --- attempts ---------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One frame of an attempt as the camera gave it: no face, or the face's box,
    embedding and quality; ``time`` in the source's own seconds (clips) or ``None``
    (made frames: one per recognition)."""

    ok: bool
    emb: FloatArray
    quality: float
    box: Box
    time: float | None = None


@dataclass(frozen=True)
class Trial:
    """One attempt: its frames, who it is (an enrolled person's id, or ``None`` for a
    stranger) and which gallery it is searched in."""

    scope: str
    rows: tuple[Row, ...]
    truth: int | None
    gallery: str


def _rows(
    seen: Seen, index: Sequence[int], *, clip: bool = False, same_box: bool = False
) -> tuple[Row, ...]:
    """Rows of ``seen``: a clip's keep their times (the camera runs on while a frame is
    recognised); made frames and photos have none (each is one recognition)."""
    box0 = Box(100.0, 100.0, 220.0, 240.0)
    out = []
    for i in index:
        b = seen.box[i]
        box = box0 if same_box else Box(*(float(v) for v in b))
        time_ = float(seen.time[i]) if clip else None
        out.append(Row(bool(seen.ok[i]), seen.emb[i], float(seen.quality[i]), box, time_))
    return tuple(out)


class Data:
    """The cached embeddings, the galleries and the attempts made from them."""

    def __init__(self, faces: Path, cache: Path, quick: bool) -> None:
        self.ids: dict[str, int] = {}
        self.galleries: dict[str, tuple[list[FloatArray], list[int]]] = {"all": ([], [])}
        self.trials: list[Trial] = []
        for name in PHOTO_SETS:
            self._photo_set(photo_set(faces, name), cache, quick)
        self._clips(faces, cache, quick)

    def person(self, who: str) -> int:
        return self.ids.setdefault(who, len(self.ids) + 1)

    def _enroll(self, gallery: str, pid: int, embs: Sequence[FloatArray]) -> None:
        emb, labels = self.galleries.setdefault(gallery, ([], []))
        emb.extend(embs)
        labels.extend([pid] * len(embs))

    def _photo_set(self, ps: PhotoSet, cache: Path, quick: bool) -> None:
        originals = Seen.load(cache / f"{ps.name}.photos.npz")
        frames = Seen.load(cache / f"{ps.name}.frames.npz")
        row_of = {p: i for i, p in enumerate(ps.photos)}
        for who, photos in ps.enrolled.items():
            embs = [originals.emb[row_of[p]] for p in photos if originals.ok[row_of[p]]]
            for gallery in (ps.name, "all"):
                self._enroll(gallery, self.person(who), embs)
        by_person: dict[str, list[int]] = {}
        for j, (who, path, mated) in enumerate(ps.probes):
            if quick and j % 4:
                continue
            truth = self.person(who) if mated else None
            rows = _rows(frames, range(j * FRAMES, (j + 1) * FRAMES))
            for gallery in (ps.name, "all"):
                scope = ps.name if gallery == ps.name else "photo sets, all in one gallery"
                self.trials.append(Trial(scope, rows, truth, gallery))
            if originals.ok[row_of[path]]:
                by_person.setdefault(who, []).append(row_of[path])
        # a person's own photos as consecutive frames (one attempt starting at each)
        for who, idx in by_person.items():
            if len(idx) < 2:
                continue
            truth = self.person(who) if who in ps.enrolled else None
            for start in range(len(idx)):
                order = [idx[(start + k) % len(idx)] for k in range(min(FRAMES, len(idx)))]
                rows = _rows(originals, order, same_box=True)
                self.trials.append(Trial("own photos as frames", rows, truth, ps.name))

    def _clips(self, faces: Path, cache: Path, quick: bool) -> None:
        clips = {p.stem: Seen.load(cache / f"clip.{p.stem}.npz") for p in clip_paths(faces)}
        for stem, seen in clips.items():
            first = [i for i in range(len(seen.ok)) if seen.ok[i]]
            early = [i for i in first if seen.time[i] <= CLIP_ENROLL_SECONDS]
            enroll = early[:: max(1, len(early) // ENROLL_PHOTOS)][:ENROLL_PHOTOS]
            if len(enroll) < 2:
                continue
            pid = self.person(f"clip/{stem}")
            self._enroll("all", pid, [seen.emb[i] for i in enroll])
        for stem, seen in clips.items():
            if f"clip/{stem}" not in self.ids:
                continue
            pid = self.ids[f"clip/{stem}"]
            emb, labels = self.galleries["all"]
            keep = [k for k, label in enumerate(labels) if label != pid]
            self.galleries[f"all but {stem}"] = ([emb[k] for k in keep], [labels[k] for k in keep])
            start = CLIP_ENROLL_SECONDS + 0.5
            while start + 2.0 <= float(seen.time[-1]):
                index = [i for i in range(len(seen.ok)) if start <= seen.time[i] < start + 3.0]
                rows = _rows(seen, index, clip=True)
                self.trials.append(Trial("clips", rows, pid, "all"))
                self.trials.append(Trial("clips", rows, None, f"all but {stem}"))
                start += CLIP_STRIDE * (4 if quick else 1)


# --- the kiosk's loop on recorded frames --------------------------------------------------

MODEL = ModelInfo("replay", "1", "replay")
CHIP = np.zeros((150, 150, 3), np.uint8)
SCREEN = np.zeros((480, 640, 3), np.uint8)
SCREEN.flags.writeable = False
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


class Replay:
    """A recogniser that answers with the recorded frame the driver sets."""

    device = "replay"
    model_info = MODEL

    def __init__(self) -> None:
        self.row: Row | None = None

    def detect(self, rgb: ImageArray) -> list[DetectedFace]:
        row = self.row
        if row is None or not row.ok:
            return []
        return [DetectedFace(row.box, 0.99, np.zeros((5, 2), np.float32))]

    def analyze(
        self, rgb: ImageArray, faces: Sequence[DetectedFace] | None = None
    ) -> list[FaceResult]:
        assert self.row is not None and faces
        return [FaceResult(faces[0], CHIP, self.row.emb)]


class Store:
    """Everyone enrolled, active and without a schedule; the log is counted."""

    def __init__(self, emb: FloatArray, labels: list[int]) -> None:
        self.emb, self.labels = emb, labels
        self.events = 0

    def load_gallery(self, model: ModelInfo | None = None) -> tuple[FloatArray, list[int]]:
        return self.emb, self.labels

    def get_person(self, person_id: int) -> Person:
        return Person(person_id, f"person {person_id}", str(person_id))

    def person_by_badge(self, badge: str) -> Person | None:
        return self.get_person(int(badge)) if badge.isdigit() else None

    def get_schedule(self, group: str) -> AccessSchedule | None:
        return None

    def record_event(self, event: AccessEvent) -> int:
        self.events += 1
        return self.events

    def people_count(self, *, active_only: bool = False) -> int:
        return len(set(self.labels))


class Door:
    def open(self, request: DoorRequest) -> DoorResult:
        return DoorResult(True, "evaluation")

    def close(self) -> None:
        pass


class Clock:
    t = 0.0

    def __call__(self) -> float:
        return self.t


@dataclass(frozen=True)
class Outcome:
    decision: Decision | None  # None: no decision while the frames lasted
    person_id: int | None
    ms: float | None


class Fixed:
    """A gallery searched at ``threshold`` whenever the caller leaves the threshold to the
    gallery (the sweep replaces the operating point this way, without a range check)."""

    def __init__(self, gallery: Gallery, threshold: float) -> None:
        self.gallery, self.threshold = gallery, threshold

    def search(self, queries: FloatArray, threshold: float | None = None, margin: float = 0.0):  # type: ignore[no-untyped-def]
        return self.gallery.search(
            queries, self.threshold if threshold is None else threshold, margin
        )


def make_searcher(settings: Settings, threshold: float | None) -> Any:
    """How the loop builds its galleries: as the kiosk does (``build_gallery``: the
    network's scoring, the operating point for the gallery's size), with the sweep's
    ``threshold`` in its place when given."""

    def make(emb: FloatArray, labels: list[int]) -> Any:
        gallery = build_gallery(emb, labels, settings.vision)
        return gallery if threshold is None else Fixed(gallery, threshold)

    return make


def run_attempt(
    settings: Settings,
    store: Store,
    rows: Sequence[Row],
    rate: float,
    badge: int | None = None,
    threshold: float | None = None,
) -> Outcome:
    """The kiosk's loop on ``rows`` at ``rate`` recognitions a second: each recognition
    takes the newest frame and is done one period later. ``threshold``: instead of the
    configured one (the sweep)."""
    out: list[object] = []
    replay, clock = Replay(), Clock()
    loop = KioskLoop(
        settings,
        FrameSlot(CameraStatus(True, "", "replay", (640, 480, 30.0))),
        out.append,
        load_recognizer=lambda: replay,
        store=store,
        door=Door(),
        make_gallery=make_searcher(settings, threshold),
        clock=clock,
        now=lambda: NOW,
        quality=lambda result: replay.row.quality if replay.row is not None else 0.0,
    )
    loop.recognizer = replay
    loop._refresh_gallery(force=True)
    period = 1.0 / rate
    source_start = rows[0].time if rows else None
    t = 0.0
    frames: list[Row | None] = [None, None, None]  # the corridor before the face came
    if source_start is None:  # made frames: as many as a person standing there gives
        frames += [rows[i % len(rows)] for i in range(max(len(rows), CYCLE))]
    else:  # a clip: the newest frame at each recognition
        end = rows[-1].time or 0.0
        k = 0
        while source_start + k * period <= end:
            want = source_start + k * period
            frames.append(
                max(
                    (r for r in rows if (r.time or 0.0) <= want + 1e-6), key=lambda r: r.time or 0.0
                )
            )
            k += 1
    frames += [None] * 4  # the face leaves
    for seq, row in enumerate(frames, start=1):
        replay.row = row
        if seq == 4 and badge is not None:
            loop.claim(str(badge))
        clock.t = t + period
        loop.step(Frame(seq, t, SCREEN))
        t += period
        decided = [o for o in out if isinstance(o, Decided)]
        if decided:
            d = decided[0]
            return Outcome(d.decision, d.person_id, d.since_face_ms)
    return Outcome(None, None, None)


# --- figures ------------------------------------------------------------------------------


def upper95(k: int, n: int) -> float:
    """One-sided 95 % upper bound of a rate seen ``k`` times in ``n`` (Clopper-Pearson):
    0 of 48 is at most 6 %."""
    if n == 0:
        return 1.0
    if k >= n:
        return 1.0

    def cdf(p: float) -> float:  # P(X <= k) for X ~ Binomial(n, p)
        total = 0.0
        for i in range(k + 1):
            log_term = (
                math.lgamma(n + 1)
                - math.lgamma(i + 1)
                - math.lgamma(n - i + 1)
                + i * math.log(p)
                + (n - i) * math.log1p(-p)
            )
            total += math.exp(log_term)
        return total

    lo, hi = k / n, 1.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if cdf(mid) > 0.05:
            lo = mid
        else:
            hi = mid
    return hi


def rate_figure(k: int, n: int) -> dict[str, Any]:
    return {
        "count": k,
        "of": n,
        "rate": round(k / n, 4) if n else None,
        "upper95": round(upper95(k, n), 4),
        "text": f"{k} of {n}, at most {100 * upper95(k, n):.1f} %" if n else "no attempts",
    }


@dataclass
class Tally:
    mated: int = 0
    missed: int = 0  # not decided as their person (rejected, wrong, or no decision)
    wrong: int = 0  # decided as another enrolled person
    undecided: int = 0
    strangers: int = 0
    accepted: int = 0  # strangers let in
    times: list[float] = field(default_factory=list)

    def add(self, truth: int | None, outcome: Outcome) -> None:
        allowed = outcome.decision is Decision.ALLOWED
        if outcome.ms is not None:
            self.times.append(outcome.ms)
        if truth is None:
            self.strangers += 1
            self.accepted += allowed
            return
        self.mated += 1
        if not (allowed and outcome.person_id == truth):
            self.missed += 1
        self.wrong += allowed and outcome.person_id != truth
        self.undecided += outcome.decision is None

    def figures(self) -> dict[str, Any]:
        times = sorted(self.times)
        return {
            "FNIR": rate_figure(self.missed, self.mated),
            "wrong_person": rate_figure(self.wrong, self.mated),
            "undecided": self.undecided,
            "FPIR": rate_figure(self.accepted, self.strangers),
            "ms_to_decision": {
                "median": round(float(np.median(times))) if times else None,
                "max": round(times[-1]) if times else None,
            },
        }


def single_frame(trial: Trial, gallery: Any, settings: Settings) -> Outcome:
    """The first frame with a face, alone (the baseline a fused decision must beat)."""
    first = next((r for r in trial.rows if r.ok), None)
    if first is None:
        return Outcome(None, None, None)
    v = settings.vision
    match = gallery.search(first.emb[None, :], v.threshold, v.ambiguity_margin)[0]
    if match.is_match:
        return Outcome(Decision.ALLOWED, match.label, None)
    return Outcome(Decision.DENIED_UNKNOWN, None, None)


SWEEP = (0.5, 0.6, 0.7, 0.8, 0.9, 1.0)  # thresholds, as parts of the configured one
SWEEP_RATE = 6.0
TARGETS = (0.01, 0.05)
FRAME_VARIANTS = tuple(
    f"{m}, up to {n} frames" for m in ("fused", "vote") for n in (3, 8)
)  # FPIR per attempt at which FNIR is compared


@dataclass(frozen=True)
class Config:
    name: str
    method: str | None  # None: the first frame alone
    rate: float
    max_frames: int
    part: float = 1.0  # the threshold, as a part of the configured one
    badge: bool = False  # badge + face: a stranger shows the badge of his look-alike


def badge_for(trial: Trial, gallery: Gallery) -> int | None:
    """The badge shown: one's own, or, for a stranger, the badge of the enrolled person
    whose templates are nearest to his face (the worst case: he knows whom he resembles
    and has that badge)."""
    if trial.truth is not None:
        return trial.truth
    first = next((r for r in trial.rows if r.ok), None)
    if first is None:
        return None
    return gallery.search(first.emb[None, :], float("inf"))[0].label


def configurations(quick: bool) -> list[Config]:
    """At the configured threshold: every method at every rate, and fewer or more frames;
    then every method (and the single frame) over a sweep of thresholds at one rate."""
    default = DecisionSettings()
    out = [Config("single frame", None, 6.0, 1)]
    for method in FUSION_METHODS:
        for rate in (2.0, 6.0) if quick else RATES:
            out.append(Config(f"{method} @ {rate:g}/s", method, rate, default.max_frames))
    for method in ("fused", "vote"):
        for frames in (3, 8):
            out.append(Config(f"{method} @ 6/s, up to {frames} frames", method, 6.0, frames))
    for part in (0.7, 0.8, 0.9, 1.0):
        name = f"badge + face, {default.method} @ 6/s x{part:g}"
        out.append(Config(name, default.method, 6.0, default.max_frames, part, badge=True))
    for part in SWEEP:
        if part == 1.0:
            continue
        out.append(Config(f"single frame x{part:g}", None, SWEEP_RATE, 1, part))
        for method in FUSION_METHODS:
            name = f"{method} @ {SWEEP_RATE:g}/s x{part:g}"
            out.append(Config(name, method, SWEEP_RATE, default.max_frames, part))
        for method in ("fused", "vote"):
            for frames in (3, 8):
                name = f"{method} @ {SWEEP_RATE:g}/s, up to {frames} frames x{part:g}"
                out.append(Config(name, method, SWEEP_RATE, frames, part))
    return out


def effective_threshold(gallery: Gallery, settings: Settings) -> float:
    """The threshold the kiosk would use with this gallery: the explicit one, or the
    operating point for its size at the configured level."""
    if settings.vision.threshold is not None:
        return float(settings.vision.threshold)
    assert gallery.operating_point is not None
    return float(gallery.operating_point.threshold)


def evaluate(data: Data, base: Settings, quick: bool) -> dict[str, dict[str, Tally]]:
    stores = {
        name: Store(np.asarray(emb, np.float32).reshape(len(labels), -1), labels)
        for name, (emb, labels) in data.galleries.items()
    }
    galleries = {name: build_gallery(s.emb, s.labels, base.vision) for name, s in stores.items()}
    configured = {name: effective_threshold(g, base) for name, g in galleries.items()}
    scopes: dict[str, dict[str, Tally]] = {}
    for config in configurations(quick):
        decision = base.decision
        if config.method is not None:
            decision = replace(decision, method=config.method, max_frames=config.max_frames)
        if config.badge:
            decision = replace(decision, mode="badge+face")
        settings = replace(base, keep_snapshots=False, decision=decision)
        t0 = time.monotonic()
        for trial in data.trials:
            gallery: Any = galleries[trial.gallery]
            threshold = None
            if config.part != 1.0:
                threshold = config.part * configured[trial.gallery]
                gallery = Fixed(gallery, threshold)
            if config.method is None:
                outcome = single_frame(trial, gallery, settings)
            else:
                badge = badge_for(trial, galleries[trial.gallery]) if config.badge else None
                store = stores[trial.gallery]
                outcome = run_attempt(settings, store, trial.rows, config.rate, badge, threshold)
            scopes.setdefault(trial.scope, {}).setdefault(config.name, Tally()).add(
                trial.truth, outcome
            )
        print(f"  {config.name}: {time.monotonic() - t0:.0f} s", file=sys.stderr, flush=True)
    return scopes


def at_fpir(tallies: dict[str, Tally], method: str, target: float) -> dict[str, Any] | None:
    """The lowest FNIR of ``method`` over the sweep among thresholds whose FPIR is at
    most ``target`` (an upper bound need not hold: this compares methods, it is not a
    figure to promise)."""
    best: tuple[float, str, Tally] | None = None
    if method == "single frame":
        base = method
    elif "," in method:  # fused, up to 3 frames
        name, frames = method.split(",", 1)
        base = f"{name} @ {SWEEP_RATE:g}/s,{frames}"
    else:
        base = f"{method} @ {SWEEP_RATE:g}/s"
    for part in SWEEP:
        name = base if part == 1.0 else f"{base} x{part:g}"
        tally = tallies.get(name)
        if tally is None or not tally.strangers or tally.accepted / tally.strangers > target:
            continue
        fnir = tally.missed / tally.mated if tally.mated else 1.0
        if best is None or fnir < best[0]:
            best = (fnir, name, tally)
    if best is None:
        return None
    tally = best[2]
    return {
        "at": best[1],
        "FNIR": rate_figure(tally.missed, tally.mated),
        "FPIR": rate_figure(tally.accepted, tally.strangers),
    }


def summarize(scopes: dict[str, dict[str, Tally]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for scope, tallies in scopes.items():
        rules = {name: tally.figures() for name, tally in tallies.items()}
        compare = {
            f"FNIR at FPIR <= {100 * target:g} %": {
                method: at_fpir(tallies, method, target)
                for method in ("single frame", *FUSION_METHODS, *FRAME_VARIANTS)
            }
            for target in TARGETS
        }
        out[scope] = {"rules": rules, "compare": compare}
    return out


def report(results: dict[str, Any]) -> str:
    lines = []
    for scope, figures in results.items():
        lines.append(f"\n{scope}")
        lines.append(f"  {'rule':30} {'FNIR':>26} {'FPIR':>26} {'wrong':>6} {'ms med/max':>12}")
        for name, f in figures["rules"].items():
            ms = f["ms_to_decision"]
            timing = f"{ms['median']}/{ms['max']}" if ms["median"] is not None else "-"
            lines.append(
                f"  {name:30} {f['FNIR']['text']:>26} {f['FPIR']['text']:>26} "
                f"{f['wrong_person']['count']:>6} {timing:>12}"
            )
        for target, methods in figures["compare"].items():
            lines.append(f"  {target}:")
            for method, best in methods.items():
                if best is None:
                    lines.append(f"    {method:24} no threshold of the sweep gets there")
                else:
                    lines.append(
                        f"    {method:24} FNIR {best['FNIR']['text']} (FPIR "
                        f"{best['FPIR']['text']}; {best['at']})"
                    )
    return "\n".join(lines)


def _stacked(gallery: tuple[list[FloatArray], list[int]]) -> tuple[FloatArray, list[int]]:
    emb, labels = gallery
    return np.asarray(emb, np.float32).reshape(len(labels), -1), labels


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--faces", type=Path, default=default_faces_dir(), help="../shared/faces")
    parser.add_argument(
        "--cache",
        type=Path,
        default=Path(".decision-eval-cache"),
        help="where embeddings are kept between runs (default .decision-eval-cache)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--quick", action="store_true", help="a quarter of the attempts")
    parser.add_argument("--embed-only", action="store_true", help="only fill the cache")
    args = parser.parse_args(argv)
    if not (args.faces / "lfw_dev").is_dir():
        print(f"error: no face photos at {args.faces} (use --faces)", file=sys.stderr)
        return 2
    logging.getLogger("kiosk").setLevel(logging.WARNING)
    try:
        settings = Settings.load()
    except KioskError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    pipeline = FacePipeline.load(settings.vision)
    cache = cache_dir(args.cache, pipeline)
    t0 = time.monotonic()
    embed_all(pipeline, args.faces, cache)
    if args.embed_only:
        return 0
    data = Data(args.faces, cache, args.quick)
    results = summarize(evaluate(data, settings, args.quick))
    out = {
        "model": f"{pipeline.model_info.name} {pipeline.model_info.version}",
        "threshold": settings.vision.threshold,
        "level": settings.vision.level,
        "threshold_all_in_one_gallery": round(
            effective_threshold(
                build_gallery(*_stacked(data.galleries["all"]), settings.vision), settings
            ),
            4,
        ),
        "ambiguity_margin": settings.vision.ambiguity_margin,
        "decision": asdict(settings.decision),
        "frames_per_photo": FRAMES,
        "clip_fps": CLIP_FPS,
        "people_enrolled": {k: len(set(v[1])) for k, v in data.galleries.items() if "but" not in k},
        "attempts": len(data.trials),
        "seconds": round(time.monotonic() - t0),
        "results": results,
    }
    print(
        f"{out['model']}, level {settings.vision.level}, threshold of the all-in-one gallery "
        f"{out['threshold_all_in_one_gallery']}, attempts {len(data.trials)}"
    )
    print(report(results))
    if args.json:
        args.json.write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
