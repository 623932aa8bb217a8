"""Enrollment: photos -> quality checks -> templates of one person, in one transaction.

A photo is rejected with its reasons (no face, several faces, too small, blurred, too dark,
turned away, ...); a face that already matches another enrolled person gives a warning
(duplicate enrollment). Either the person and all accepted templates are stored, or
nothing is (a crash half-way leaves no half-enrolled person).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from kiosk.config import Settings
from kiosk.domain.access import Person
from kiosk.domain.faces import FaceResult, ImageArray, MatchKind, ModelInfo
from kiosk.errors import InputError, KioskError
from kiosk.services.accounts import Actor
from kiosk.storage.records import Role
from kiosk.storage.store import Store
from kiosk.vision.quality import QualityReport, QualitySettings, assess_photo

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".pgm", ".ppm", ".tif", ".tiff"}


class FaceAnalyzer(Protocol):
    """What enrollment needs of the vision pipeline (``FacePipeline`` is one)."""

    @property
    def model_info(self) -> ModelInfo: ...

    def analyze(self, rgb: ImageArray) -> list[FaceResult]: ...


ImageLoader = Callable[[Path], ImageArray]


def default_loader(max_side: int) -> ImageLoader:
    from kiosk.vision.imageio import load_image

    def load(path: Path) -> ImageArray:
        return load_image(path, max_side)

    return load


@dataclass(frozen=True)
class DuplicateWarning:
    """A new face that already matches someone else."""

    photo: str
    person_id: int
    name: str
    badge: str
    distance: float

    def describe(self) -> str:
        return (
            f"{self.photo}: this face already matches {self.name} (badge {self.badge}, "
            f"distance {self.distance:.3f}); check that this is not a duplicate enrollment"
        )


@dataclass(frozen=True)
class PhotoOutcome:
    path: str
    accepted: bool
    reasons: tuple[str, ...] = ()
    quality: float = 0.0
    measures: dict[str, float] = field(default_factory=dict)


@dataclass
class Candidate:
    """An accepted photo, ready to store."""

    outcome: PhotoOutcome
    result: FaceResult


@dataclass(frozen=True)
class EnrollResult:
    person: Person | None  # None when nothing was stored
    photos: list[PhotoOutcome]
    duplicates: list[DuplicateWarning]
    templates_added: int

    @property
    def rejected(self) -> list[PhotoOutcome]:
        return [p for p in self.photos if not p.accepted]


def chip_jpeg(chip: ImageArray) -> bytes:
    ok, data = cv2.imencode(
        ".jpg",
        cv2.cvtColor(np.ascontiguousarray(chip), cv2.COLOR_RGB2BGR),
        [int(cv2.IMWRITE_JPEG_QUALITY), 95],
    )
    if not ok:
        raise ValueError("could not encode the face crop")
    return bytes(data.tobytes())


class EnrollmentService:
    def __init__(
        self,
        store: Store,
        analyzer: FaceAnalyzer,
        settings: Settings,
        *,
        loader: ImageLoader | None = None,
        quality: QualitySettings | None = None,
    ) -> None:
        self.store = store
        self.analyzer = analyzer
        self.settings = settings
        self.loader = loader or default_loader(settings.vision.max_image_side)
        self.quality = quality or QualitySettings()

    def check_photo(self, path: Path) -> Candidate | PhotoOutcome:
        """Load and assess one photo: a :class:`Candidate` if usable, else the reasons."""
        try:
            rgb = self.loader(path)
        except KioskError as exc:
            message = str(exc)
            prefix = f"{path}: "
            return PhotoOutcome(
                str(path),
                False,
                (message[len(prefix) :] if message.startswith(prefix) else message,),
            )
        results = self.analyzer.analyze(rgb)
        report: QualityReport = assess_photo(results, self.quality)
        outcome = PhotoOutcome(str(path), report.ok, report.reasons, report.score, report.measures)
        if not report.ok:
            return outcome
        return Candidate(outcome, results[0])

    def find_duplicates(
        self, candidates: Sequence[Candidate], exclude_person: int | None
    ) -> list[DuplicateWarning]:
        """Which accepted faces already match another enrolled person."""
        from kiosk.vision.matcher import build_gallery

        with self.store.unit_of_work() as uow:
            embeddings, labels = uow.templates.gallery(self.analyzer.model_info.checksum)
            keep = [i for i, label in enumerate(labels) if label != exclude_person]
            if not keep or not candidates:
                return []
            gallery = build_gallery(
                embeddings[keep], [labels[i] for i in keep], self.settings.vision
            )
            queries = np.stack([c.result.embedding for c in candidates])
            matches = gallery.search(queries, None, 0.0)
            warnings = []
            for candidate, match in zip(candidates, matches, strict=True):
                if match.kind is MatchKind.UNKNOWN or match.label is None:
                    continue
                person = uow.people.get(match.label)
                if person is None:
                    continue
                warnings.append(
                    DuplicateWarning(
                        candidate.outcome.path, person.id, person.name, person.badge, match.distance
                    )
                )
            return warnings

    def enroll(
        self,
        actor: Actor,
        *,
        name: str,
        badge: str,
        photos: Iterable[Path],
        group: str | None = None,
        source: str = "file",
        on_photo: Callable[[PhotoOutcome], None] | None = None,
        valid_from: datetime | None = None,
        valid_until: datetime | None = None,
    ) -> EnrollResult:
        """Enroll (or add photos to) the person with ``badge``.

        A badge already enrolled under the same name gets the new templates; under another
        name it is an error. Nothing is stored when no photo is usable."""
        actor.require(Role.ADMIN)
        name, badge = name.strip(), badge.strip()
        if not name:
            raise InputError("the name is empty: give --name")
        if not badge:
            raise InputError("the badge is empty: give --badge")
        group = group.strip() if group and group.strip() else None
        if valid_from and valid_until and valid_until <= valid_from:
            raise InputError("--valid-until must be after --valid-from")
        existing = self._existing(name, badge)

        outcomes: list[PhotoOutcome] = []
        candidates: list[Candidate] = []
        for path in photos:
            checked = self.check_photo(Path(path))
            outcome = checked.outcome if isinstance(checked, Candidate) else checked
            outcomes.append(outcome)
            if isinstance(checked, Candidate):
                candidates.append(checked)
            if on_photo is not None:
                on_photo(outcome)
        if not outcomes:
            raise InputError("no photos given: name at least one photo of the person")
        if not candidates:
            return EnrollResult(None, outcomes, [], 0)

        duplicates = self.find_duplicates(candidates, existing)
        model = self.analyzer.model_info
        now = datetime.now(UTC)
        with self.store.unit_of_work(write=True) as uow:
            if existing is None:
                if uow.people.by_badge(badge) is not None:  # enrolled meanwhile
                    raise InputError(f"the badge {badge} was enrolled meanwhile; try again")
                person = uow.people.add(
                    name=name,
                    badge=badge,
                    group=group,
                    valid_from=valid_from,
                    valid_until=valid_until,
                    consent_at=now,
                    consent_by=actor.username,
                )
            else:
                person = uow.people.get(existing)  # type: ignore[assignment]
                assert person is not None
            for c in candidates:
                uow.templates.add(
                    person.id,
                    c.result.embedding,
                    model,
                    quality=c.outcome.quality,
                    source=f"{source}:{Path(c.outcome.path).name}" if source == "file" else source,
                    crop_jpeg=chip_jpeg(c.result.chip),
                    created_at=now,
                )
            uow.audit.record(
                actor.username,
                "enroll" if existing is None else "enroll-more",
                f"badge {badge}",
                name=name,
                templates=len(candidates),
                rejected=len(outcomes) - len(candidates),
                duplicates=[d.badge for d in duplicates],
            )
            uow.commit()
        return EnrollResult(person, outcomes, duplicates, len(candidates))

    def _existing(self, name: str, badge: str) -> int | None:
        with self.store.unit_of_work() as uow:
            record = uow.people.by_badge(badge)
        if record is None:
            return None
        if record.erased:
            raise InputError(
                f"the badge {badge} belonged to a person whose data was erased; "
                "enroll with another badge"
            )
        if record.person.name != name:
            raise InputError(
                f"the badge {badge} is already enrolled as {record.person.name}; use another "
                "badge, or the same name to add photos to that person"
            )
        return record.person.id


def folder_people(folder: Path) -> list[tuple[str, list[Path]]]:
    """``DIR/<name>/<photos>``: (name, photos) per subfolder, in name order."""
    if not folder.is_dir():
        raise InputError(f"{folder} is not a folder: give DIR with one subfolder per person")
    people = []
    for sub in sorted(
        p for p in folder.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))
    ):
        photos = sorted(
            p for p in sub.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
        )
        people.append((sub.name, photos))
    if not people:
        raise InputError(f"{folder} has no subfolders: put each person's photos in DIR/<name>/")
    return people
