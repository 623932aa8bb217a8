"""Is this photo (or camera frame) good enough to enroll from?

Checks, each failing with a short reason a person can act on: exactly one face, face
size, detector confidence, sharpness (variance of the Laplacian of the aligned chip),
brightness and contrast of the chip, and head pose estimated from MTCNN's five
landmarks (yaw from where the nose sits between the eyes, pitch from where it sits
between the eyes and the mouth, roll from the eye line).

Used by ``enroll`` for photo files and by the guided camera enrollment for frames, with
different limits (:data:`PHOTO_FILES`, :data:`CAMERA_FRAMES`): a check may refuse, or only
warn (the face is kept, marked amber, and the warning stored with the template). Which
checks refuse a photo file was measured (``python -m tools.gate_eval``,
docs/enrollment-gate.md): only those whose refused photos make templates that miss more
or let more strangers in. At the camera every check refuses: the person is there, a
retake costs a second, and the guided capture uses the checks to ask for a pose.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from kiosk.domain.faces import DetectedFace, FaceResult, FloatArray, ImageArray


@dataclass(frozen=True)
class QualitySettings:
    min_face_px: float = 80.0  # shorter side of the face box, in image pixels
    min_probability: float = 0.95
    min_sharpness: float = 25.0  # variance of the Laplacian of the 150x150 grey chip
    min_brightness: float = 60.0  # mean grey level of the chip, 0..255
    max_brightness: float = 200.0
    min_contrast: float = 20.0  # standard deviation of the chip's grey levels
    max_yaw: float = 0.22  # nose offset from the eye midpoint / eye distance
    max_roll_deg: float = 20.0
    pitch_range: tuple[float, float] = (0.30, 0.80)  # nose height between eyes and mouth
    background_ratio: float = 0.35  # smaller faces than this x the largest are ignored
    #: another face at least this x the largest: which one is the subject? refused. Between
    #: ``background_ratio`` and this, a warning (check the photo shows this person).
    other_face_ratio: float = 0.35
    #: the checks that only warn (names in :data:`CHECKS`); the others refuse
    warn_only: frozenset[str] = frozenset()


#: the gate's checks, by the names ``warn_only`` and ``tools.gate_eval`` use
CHECKS = ("size", "probability", "light", "sharpness", "pose", "second face")


#: camera frames: every check refuses (the guided capture asks again, in plain words)
CAMERA_FRAMES = QualitySettings()
#: photo files: refused only for what measurably hurts recognition (docs/enrollment-gate.md,
#: ``python -m tools.gate_eval``): light (refused photos' templates missed 23 of 26
#: genuine pairs against 13 % for photos passing every check), another face at least 0.7
#: of the subject's size (53 of 126) and the detector's doubt (no face, perhaps). Blur,
#: size and pose did not make templates miss more, and leaving them out of a gallery
#: raised the misses (46 %, 22 %, 16 % against 10 %): they only warn.
PHOTO_FILES = QualitySettings(
    other_face_ratio=0.7,
    warn_only=frozenset({"size", "sharpness", "pose", "second face"}),
)


@dataclass(frozen=True)
class Pose:
    """Head pose from five landmarks (image coordinates, not degrees except roll).

    ``yaw`` > 0: the nose is right of the eye midpoint in the image (the person turned to
    their left); ``pitch``: 0 = nose at eye level, 1 = at mouth level (about 0.55 when
    facing the camera); ``roll_deg`` > 0: the eye line slopes down to the image's right."""

    yaw: float
    pitch: float
    roll_deg: float


@dataclass(frozen=True)
class QualityReport:
    reasons: tuple[str, ...]  # empty when the face is good enough
    score: float  # 0..1, higher is better; stored with the template
    measures: dict[str, float] = field(default_factory=dict)
    #: what only warns: the face is kept, but it may match less well
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.reasons


def estimate_pose(landmarks: FloatArray) -> Pose:
    """Pose from MTCNN's points: left eye, right eye, nose, left and right mouth corner
    (as seen in the image)."""
    pts = np.asarray(landmarks, dtype=np.float64).reshape(5, 2)
    left_eye, right_eye, nose, mouth_l, mouth_r = pts
    eye_mid = (left_eye + right_eye) / 2
    mouth_mid = (mouth_l + mouth_r) / 2
    eye_vec = right_eye - left_eye
    eye_dist = float(np.hypot(*eye_vec)) or 1.0
    roll = math.degrees(math.atan2(eye_vec[1], eye_vec[0]))
    # Express the nose in the face's own frame (undo the roll) before measuring.
    c, s = eye_vec / eye_dist
    rel = nose - eye_mid
    along = rel[0] * c + rel[1] * s
    down = -rel[0] * s + rel[1] * c
    mouth_rel = mouth_mid - eye_mid
    mouth_down = -mouth_rel[0] * s + mouth_rel[1] * c
    pitch = down / mouth_down if mouth_down > 1e-6 else 0.0
    return Pose(yaw=float(along / eye_dist), pitch=float(pitch), roll_deg=float(roll))


#: The variance of the Laplacian depends on how the chip frames the face: dlib's 150x150
#: chip (padding 0.25) is the unit ``min_sharpness`` is set in; SFace's tight 112x112 chip
#: gives about 8 times more for the same photo (measured on deepface and face_recognition
#: photos: sharp ones 574 and up, the same blurred with sigma 6 up to 178, against 104 and
#: up / 37 on dlib's chip).
SHARPNESS_SCALE = {150: 1.0, 112: 8.0}


def sharpness(chip: ImageArray) -> float:
    grey = cv2.cvtColor(np.ascontiguousarray(chip), cv2.COLOR_RGB2GRAY)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def assess_face(
    face: DetectedFace, chip: ImageArray, settings: QualitySettings | None = None
) -> QualityReport:
    """Quality of one detected face and its aligned chip."""
    q = settings or QualitySettings()
    found: list[tuple[str, str]] = []  # (check, words)
    size = min(face.box.width, face.box.height)
    grey = cv2.cvtColor(np.ascontiguousarray(chip), cv2.COLOR_RGB2GRAY)
    # The centre of the chip is the face; the border may be background or hair.
    h, w = grey.shape
    centre = grey[h // 5 : h - h // 10, w // 6 : w - w // 6].astype(np.float64)
    brightness = float(centre.mean())
    contrast = float(centre.std())
    # in the units of a 150x150 dlib chip, whatever network made the chip
    sharp = float(cv2.Laplacian(grey, cv2.CV_64F).var()) / SHARPNESS_SCALE.get(h, 1.0)
    pose = estimate_pose(face.landmarks)

    if size < q.min_face_px:
        found.append(
            (
                "size",
                f"face too small ({size:.0f} px, need {q.min_face_px:.0f}): move closer or use "
                "a larger photo",
            )
        )
    if face.probability < q.min_probability:
        found.append(("probability", "face not clearly visible: remove anything covering it"))
    if brightness < q.min_brightness:
        found.append(("light", "too dark: add light in front of the face"))
    elif brightness > q.max_brightness:
        found.append(("light", "too bright: avoid direct light or flash on the face"))
    elif contrast < q.min_contrast:
        found.append(("light", "too little contrast: avoid light from behind"))
    if sharp < q.min_sharpness:
        found.append(("sharpness", "blurred: hold still and make sure the face is in focus"))
    if pose.yaw > q.max_yaw:
        found.append(("pose", "head turned: turn slightly right (look straight at the camera)"))
    elif pose.yaw < -q.max_yaw:
        found.append(("pose", "head turned: turn slightly left (look straight at the camera)"))
    if pose.pitch < q.pitch_range[0]:
        found.append(("pose", "head raised: lower your chin slightly"))
    elif pose.pitch > q.pitch_range[1]:
        found.append(("pose", "head lowered: raise your chin slightly"))
    if abs(pose.roll_deg) > q.max_roll_deg:
        found.append(("pose", "head tilted: keep your head upright"))

    def ratio(value: float, good: float) -> float:
        return max(0.0, min(1.0, value / good))

    score = float(
        np.mean(
            [
                ratio(size, 2 * q.min_face_px),
                ratio(sharp, 3 * q.min_sharpness),
                1.0 - min(1.0, abs(brightness - 128.0) / 128.0),
                1.0 - min(1.0, abs(pose.yaw) / (2 * q.max_yaw)),
                1.0 - min(1.0, abs(pose.roll_deg) / (2 * q.max_roll_deg)),
                face.probability,
            ]
        )
    )
    measures = {
        "face_px": round(size, 1),
        "probability": round(face.probability, 4),
        "sharpness": round(sharp, 1),
        "brightness": round(brightness, 1),
        "contrast": round(contrast, 1),
        "yaw": round(pose.yaw, 3),
        "pitch": round(pose.pitch, 3),
        "roll_deg": round(pose.roll_deg, 1),
    }
    reasons = tuple(words for check, words in found if check not in q.warn_only)
    # a warning is no instruction (the photo is kept): what it is, and what it may do
    warnings = tuple(
        f"{words.split(':')[0].split(' (')[0]}: may match less well"
        for check, words in found
        if check in q.warn_only
    )
    return QualityReport(reasons, round(score, 4), measures, warnings)


def assess_photo(
    results: Sequence[FaceResult], settings: QualitySettings | None = None
) -> tuple[QualityReport, FaceResult | None]:
    """Quality of a photo for enrollment, and its subject (the largest face; ``None`` when
    the photo is refused for its faces).

    Faces much smaller than the largest (under ``background_ratio`` of its size: a poster,
    a distant passer-by, a detector false positive) do not count. Another face of at least
    ``other_face_ratio`` of the subject's size refuses the photo (which one is the
    subject?); one in between is a warning when "second face" only warns."""
    q = settings or QualitySettings()
    if not results:
        return (
            QualityReport(("no face found: use a photo where the face is clearly visible",), 0.0),
            None,
        )

    def side(r: FaceResult) -> float:
        return min(r.face.box.width, r.face.box.height)

    ordered = sorted(results, key=side, reverse=True)
    main, largest = ordered[0], side(ordered[0])
    others = [r for r in ordered[1:] if side(r) >= q.background_ratio * largest]
    close = [r for r in others if side(r) >= q.other_face_ratio * largest]
    if close or (others and "second face" not in q.warn_only):
        count = 1 + len(close or others)
        return (
            QualityReport((f"{count} faces in the photo: use a photo of this person alone",), 0.0),
            None,
        )
    report = assess_face(main.face, main.chip, settings)
    if others:
        warning = (
            f"{1 + len(others)} faces in the photo: the largest is taken; check it is this person"
        )
        report = QualityReport(
            report.reasons, report.score, report.measures, (*report.warnings, warning)
        )
    return report, main
