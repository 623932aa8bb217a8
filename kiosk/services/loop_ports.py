"""What the kiosk's recognition loop needs from the rest of the program (its ports):
the recogniser, the gallery's search, the store and the liveness check. The kiosk's
composition root plugs in the real ones; tests and evaluations plug in their own."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from kiosk.camera.frames import Frame
from kiosk.domain.access import AccessEvent, AccessSchedule, Person
from kiosk.domain.faces import DetectedFace, FaceResult, FloatArray, ImageArray, ModelInfo
from kiosk.domain.liveness import LivenessVerdict
from kiosk.vision.quality import assess_face


class Recognizer(Protocol):
    """The part of ``kiosk.vision.pipeline.FacePipeline`` the kiosk uses."""

    @property
    def device(self) -> str: ...

    @property
    def model_info(self) -> ModelInfo: ...

    def detect(self, rgb: ImageArray) -> list[DetectedFace]: ...

    def analyze(
        self, rgb: ImageArray, faces: Sequence[DetectedFace] | None = None
    ) -> list[FaceResult]: ...


class Searcher(Protocol):
    """``kiosk.vision.matcher.Gallery``: 1:N search (``threshold`` ``None``: the
    gallery's own operating point, which follows its size)."""

    def search(self, queries: FloatArray, threshold: float | None, margin: float = 0.0) -> list: ...  # type: ignore[type-arg]


class AccessStore(Protocol):
    """What the kiosk needs from storage (``kiosk.services.access.AccessService``)."""

    def load_gallery(self, model: ModelInfo | None = None) -> tuple[FloatArray, list[int]]: ...

    def get_person(self, person_id: int) -> Person:
        """Raises a :class:`KioskError` when there is no such person (any more)."""

    def person_by_badge(self, badge: str) -> Person | None:
        """Badge + face mode: the person with this badge number (``None``: nobody)."""

    def get_schedule(self, group: str) -> AccessSchedule | None: ...

    def record_event(self, event: AccessEvent) -> int:
        """Called from the recognition thread and from the door thread (the loop holds a
        lock around its own calls, but the other methods run meanwhile on the recognition
        thread: the store must be thread-safe, as ``AccessService`` is)."""

    def people_count(self, *, active_only: bool = False) -> int: ...


class LivenessCheck(Protocol):
    """A check that the face is a live person, between the match and the door.

    ``observe`` sees every recognised frame of the attempt; ``assess`` is asked when the
    frames name an allowed person, and again at every frame while it answers *pending*;
    ``reset`` when an attempt ends or starts; ``abandon`` when the face left while the
    check was pending: the failed answer to record (what was asked and measured), or
    None when nothing was pending."""

    def observe(self, frame: Frame, face: FaceResult) -> None: ...

    def assess(self) -> LivenessVerdict: ...

    def reset(self) -> None: ...

    def abandon(self) -> LivenessVerdict | None: ...


def frame_quality(face: FaceResult) -> float:
    """How much a frame counts in the fused embedding (the loop's default weighing): the
    enrollment quality score (size, sharpness, light, pose, detector confidence), 0..1."""
    return assess_face(face.face, face.chip).score
