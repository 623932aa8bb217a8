"""Step 3: the attempts made from the cached embeddings, and the galleries they are
searched in (:class:`Data`): each probe photo's frames, people's own photos as
consecutive frames, and windows of the clips with and without their person enrolled.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from kiosk.domain.faces import Box, FloatArray
from tools.decision_eval.clips import clip_paths
from tools.decision_eval.common import (
    CLIP_ENROLL_SECONDS,
    CLIP_STRIDE,
    ENROLL_PHOTOS,
    FRAMES,
    PHOTO_SETS,
    Seen,
)
from tools.decision_eval.photos import PhotoSet, photo_set


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
