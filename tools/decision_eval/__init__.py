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

from tools.decision_eval.attempts import Data, Row, Trial, _rows
from tools.decision_eval.cache import _dim, cache_dir, embed_all
from tools.decision_eval.clips import clip_paths, embed_clip
from tools.decision_eval.common import (
    CLIP_ENROLL_SECONDS,
    CLIP_FPS,
    CLIP_STRIDE,
    CYCLE,
    ENROLL_PHOTOS,
    FRAME_SIDE,
    FRAMES,
    MIN_PHOTOS,
    PHOTO_SETS,
    PHOTO_SUFFIXES,
    RATES,
    Seen,
    default_faces_dir,
    look,
)
from tools.decision_eval.figures import Tally, rate_figure, upper95
from tools.decision_eval.photos import PhotoSet, camera_frames, embed_photo_set, photo_set
from tools.decision_eval.replay import (
    NOW,
    SCREEN,
    Clock,
    Door,
    Fixed,
    Outcome,
    Replay,
    Store,
    make_searcher,
    run_attempt,
)

__all__ = [
    "_dim",
    "_rows",
    "cache_dir",
    "camera_frames",
    "CLIP_ENROLL_SECONDS",
    "CLIP_FPS",
    "clip_paths",
    "CLIP_STRIDE",
    "Clock",
    "CYCLE",
    "Data",
    "default_faces_dir",
    "Door",
    "embed_all",
    "embed_clip",
    "embed_photo_set",
    "ENROLL_PHOTOS",
    "Fixed",
    "FRAME_SIDE",
    "FRAMES",
    "look",
    "make_searcher",
    "MIN_PHOTOS",
    "NOW",
    "Outcome",
    "photo_set",
    "PHOTO_SETS",
    "PHOTO_SUFFIXES",
    "PhotoSet",
    "rate_figure",
    "RATES",
    "Replay",
    "Row",
    "run_attempt",
    "SCREEN",
    "Seen",
    "Store",
    "Tally",
    "Trial",
    "upper95",
]
