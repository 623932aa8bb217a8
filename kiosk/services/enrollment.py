"""Enrollment: photos or camera frames -> quality checks -> templates of one person, in one
transaction. The command line and the console both go through :meth:`EnrollmentService.save`.

A photo is rejected with its reasons (no face, several faces, too small, blurred, too dark,
turned away, ...); a face that already matches another enrolled person gives a warning
(duplicate enrollment), and a face unlike the others of the same enrollment is pointed
out (someone else's photo slipped in). Either the person and all accepted templates are
stored, or nothing is (a crash half-way leaves no half-enrolled person).

Enrollment is idempotent: a photo whose content (sha256 of the file) is already stored for
that person is not analysed or stored again, so running an interrupted
``enroll --from-folder`` again adds only what is missing. On the command line a group must
exist (an unknown ``--group`` is refused with the known ones listed) unless ``new_group``
says to create it.

How one photo or frame is loaded and judged, and which files are photos, is in
:mod:`kiosk.services.photo_check`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from kiosk.config import Settings
from kiosk.domain.access import Person
from kiosk.domain.faces import ImageArray, MatchKind
from kiosk.errors import InputError, KioskError
from kiosk.services.accounts import Actor
from kiosk.services.people import NewPerson, check_name_badge, check_validity, clean_group
from kiosk.services.photo_check import (
    ALREADY_STORED,
    CheckedFace,
    FaceAnalyzer,
    ImageLoader,
    checked_from_results,
    chip_jpeg,
    default_loader,
    file_sha256,
)
from kiosk.storage import limits
from kiosk.storage.records import Role
from kiosk.storage.store import Store
from kiosk.vision.calibration import operating_point
from kiosk.vision.imageio import too_small
from kiosk.vision.quality import CAMERA_FRAMES, PHOTO_FILES, QualitySettings

#: photos an enrollment should have: a few poses and lights, not one passport picture
RECOMMENDED_PHOTOS = 10
#: fewer accepted photos than this and the screens advise adding more
MIN_GOOD_PHOTOS = 3


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
class SavedEnrollment:
    person: Person
    templates_added: int
    new_person: bool


@dataclass(frozen=True)
class EnrollResult:
    """What ``enroll`` did with a list of photos (the command line's form)."""

    person: Person | None  # None when nothing was stored
    photos: list[CheckedFace]
    duplicates: list[DuplicateWarning]
    templates_added: int

    @property
    def rejected(self) -> list[CheckedFace]:
        return [p for p in self.photos if not p.accepted and not p.already_stored]

    @property
    def already_stored(self) -> int:
        """Photos skipped because the person already has them."""
        return sum(p.already_stored for p in self.photos)


class EnrollmentService:
    """Check photos and frames, warn of duplicates and odd ones out, and save.

    ``analyzer`` may load the models on first use (the composition root hands a lazy
    one to the console); ``None`` means face checks are not available here."""

    def __init__(
        self,
        store: Store,
        analyzer: FaceAnalyzer | None,
        settings: Settings,
        *,
        loader: ImageLoader | None = None,
        quality: QualitySettings | None = None,
        frame_quality: QualitySettings | None = None,
    ) -> None:
        self.store = store
        self._analyzer = analyzer
        self.settings = settings
        self.loader = loader or default_loader(settings.vision.max_image_side)
        #: the gate for photo files, and for camera frames (see kiosk.vision.quality)
        self.quality = quality or PHOTO_FILES
        self.frame_quality = frame_quality or CAMERA_FRAMES

    @property
    def analyzer(self) -> FaceAnalyzer:
        if self._analyzer is None:
            raise InputError("face recognition is not available here")
        return self._analyzer

    # -- checking ------------------------------------------------------------------------

    def check_photo(self, path: Path) -> CheckedFace:
        """Load and assess one photo (slow: detection and embedding; call off the GUI)."""
        from dataclasses import replace

        content = file_sha256(path)
        try:
            rgb = self.loader(path)
        except KioskError as exc:
            message = str(exc)
            prefix = f"{path}: "
            reason = message[len(prefix) :] if message.startswith(prefix) else message
            return CheckedFace(str(path), False, (reason,), 0.0)
        height, width = rgb.shape[:2]
        small = too_small(width, height, self.settings.vision.min_face_size)
        if small is not None:  # the detector looks for no face this small
            return CheckedFace(str(path), False, (small,), 0.0)
        checked = checked_from_results(str(path), self.analyzer.analyze(rgb), self.quality)
        return replace(checked, content_sha256=content)

    def check_frame(self, source: str, rgb: ImageArray) -> CheckedFace:
        """Assess one camera frame (every check refuses: the person can be asked again)."""
        return checked_from_results(source, self.analyzer.analyze(rgb), self.frame_quality)

    def find_duplicates(
        self, faces: Sequence[CheckedFace], exclude_person: int | None
    ) -> list[DuplicateWarning]:
        """Which accepted faces already match another enrolled person, and whom."""
        from kiosk.vision.matcher import build_gallery

        accepted = [f for f in faces if f.accepted and f.embedding is not None]
        if not accepted:
            return []
        with self.store.unit_of_work() as uow:
            embeddings, labels = uow.templates.gallery(self.analyzer.model_info.checksum)
            keep = [i for i, label in enumerate(labels) if label != exclude_person]
            if not keep:
                return []
            gallery = build_gallery(
                embeddings[keep], [labels[i] for i in keep], self.settings.vision
            )
            queries = np.stack([np.asarray(f.embedding, dtype=np.float32) for f in accepted])
            matches = gallery.search(queries, None, 0.0)
            warnings = []
            for face, match in zip(accepted, matches, strict=True):
                if match.kind is MatchKind.UNKNOWN or match.label is None:
                    continue
                person = uow.people.get(match.label)
                if person is None:
                    continue
                warnings.append(
                    DuplicateWarning(
                        face.source, person.id, person.name, person.badge, match.distance
                    )
                )
            return warnings

    def odd_ones_out(self, faces: Sequence[CheckedFace]) -> list[str]:
        """Sources of accepted faces that do not match most of the others (a photo of
        someone else slipped in). Needs three accepted faces to tell who is the odd one."""
        accepted = [f for f in faces if f.accepted and f.embedding is not None]
        if len(accepted) < 3:
            return []
        x = np.stack([np.asarray(f.embedding, dtype=np.float64) for f in accepted])
        d = np.sqrt(np.maximum(((x[:, None, :] - x[None, :, :]) ** 2).sum(-1), 0.0))
        np.fill_diagonal(d, np.nan)
        typical = np.nanmedian(d, axis=1)
        # two photos of one person: a gallery of one at the configured level
        threshold = operating_point(self.settings.vision, 1, door=False).threshold
        return [f.source for f, m in zip(accepted, typical, strict=True) if m >= threshold]

    def unlike_the_others(self, face: CheckedFace, others: Sequence[CheckedFace]) -> bool:
        """Would :meth:`odd_ones_out` point ``face`` out among ``others``? The guided
        capture asks before it keeps a frame, so it never keeps one that enrollment then
        marks "not like the others"."""
        from dataclasses import replace

        probe = replace(face, source="\0candidate")  # no photo or frame has this name
        return probe.source in self.odd_ones_out([*others, probe])

    # -- saving --------------------------------------------------------------------------

    def save(
        self,
        actor: Actor,
        faces: Sequence[CheckedFace],
        *,
        new: NewPerson | None = None,
        person_id: int | None = None,
        source: str = "file",
        duplicates: Sequence[DuplicateWarning] = (),
    ) -> SavedEnrollment:
        """Store the accepted faces as templates of a new person (``new``) or of an existing
        one (``person_id``: more photos), in one transaction, recorded with who did it."""
        actor.require(Role.ADMIN)
        accepted = [f for f in faces if f.accepted and f.embedding is not None]
        if not accepted:
            raise InputError("no accepted photo to save: add photos that pass the checks")
        if (new is None) == (person_id is None):
            raise ValueError("give either a new person or an existing person's id")
        if new is not None:
            name, badge = check_name_badge(new.name, new.badge)
            check_validity(new.valid_from, new.valid_until)
            if not new.consent:
                raise InputError(
                    "record the person's consent first: their face is stored only with it"
                )
        model = self.analyzer.model_info
        now = datetime.now(UTC)
        with self.store.unit_of_work(write=True) as uow:
            if new is not None:
                group = clean_group(new.group)
                if group is not None:
                    limits.check_group(group)
                if uow.people.by_badge(badge) is not None:
                    raise InputError(f"the badge {badge} is already used; choose another")
                person = uow.people.add(
                    name=name,
                    badge=badge,
                    group=group,
                    valid_from=new.valid_from,
                    valid_until=new.valid_until,
                    consent_at=now,
                    consent_by=actor.username,
                    notes=new.notes,
                    visitor=new.visitor,
                )
            else:
                assert person_id is not None
                record = uow.people.record(person_id)
                if record is None or record.erased:
                    raise InputError("this person no longer exists or was erased")
                if not record.sealed:
                    raise InputError(
                        f"the record of badge {record.person.badge} was changed outside the "
                        "kiosk; erase it and enroll the person again (see `kiosk log verify`)"
                    )
                person = record.person
            stored = uow.templates.contents(person.id)
            added = 0
            for f in accepted:
                if f.content_sha256 is not None:
                    if f.content_sha256 in stored:
                        continue  # this photo is already stored for the person
                    stored.add(f.content_sha256)
                uow.templates.add(
                    person.id,
                    np.asarray(f.embedding, dtype=np.float32),
                    model,
                    quality=f.quality,
                    source=(
                        f"file:{Path(f.source).name}" if source in ("file", "import") else source
                    ),
                    crop_jpeg=chip_jpeg(np.asarray(f.chip)) if f.chip is not None else None,
                    created_at=now,
                    content_sha256=f.content_sha256,
                    warnings="; ".join(f.warnings) or None,
                )
                added += 1
            if added == 0 and new is None:
                return SavedEnrollment(person, 0, False)  # nothing new: nothing to record
            uow.audit.record(
                actor.username,
                "enroll" if new is not None else "enroll-more",
                f"badge {person.badge}",
                name=person.name,
                group=person.group,
                templates=added,
                rejected=sum(not f.accepted and not f.already_stored for f in faces),
                already_stored=sum(f.already_stored for f in faces) + len(accepted) - added,
                duplicates=sorted({d.badge for d in duplicates}),
                source=source,
            )
            uow.commit()
        return SavedEnrollment(person, added, new is not None)

    def enroll(
        self,
        actor: Actor,
        *,
        name: str,
        badge: str,
        photos: Iterable[Path],
        group: str | None = None,
        source: str = "file",
        on_photo: Callable[[CheckedFace], None] | None = None,
        valid_from: datetime | None = None,
        valid_until: datetime | None = None,
        new_group: bool = False,
    ) -> EnrollResult:
        """Check the photos and save the good ones for the person with ``badge`` (the
        command line's enrollment: :meth:`check_photo` then :meth:`save`).

        A badge already enrolled under the same name gets the new templates; under another
        name it is an error. Nothing is stored when no photo is usable; a photo the person
        already has (same content) is skipped without being analysed. ``group`` must be a
        known group unless ``new_group`` (then it is created, with no time limits until
        rules are set). The acting admin records the person's consent, as the command line
        always did."""
        actor.require(Role.ADMIN)
        name, badge = check_person_input(name, badge, group, valid_from, valid_until)
        group = clean_group(group)
        if group is not None and not new_group:
            self.require_group(group)
        existing = self._existing(name, badge)
        stored = self._stored_contents(existing)
        checked: list[CheckedFace] = []
        seen: set[str] = set()
        for path in photos:
            content = file_sha256(Path(path))
            if content is not None and (content in stored or content in seen):
                face = CheckedFace(str(path), False, (ALREADY_STORED,), 0.0, already_stored=True)
            else:
                face = self.check_photo(Path(path))
                if face.accepted and face.content_sha256 is not None:
                    seen.add(face.content_sha256)
            checked.append(face)
            if on_photo is not None:
                on_photo(face)
        if not checked:
            raise InputError("no photos given: name at least one photo of the person")
        if not any(f.accepted for f in checked):
            person = None
            if existing is not None and any(f.already_stored for f in checked):
                with self.store.unit_of_work() as uow:
                    person = uow.people.get(existing)
            return EnrollResult(person, checked, [], 0)
        duplicates = self.find_duplicates(checked, existing)
        new = (
            None
            if existing is not None
            else NewPerson(
                name, badge, group, valid_from=valid_from, valid_until=valid_until, consent=True
            )
        )
        saved = self.save(
            actor, checked, new=new, person_id=existing, source=source, duplicates=duplicates
        )
        return EnrollResult(saved.person, checked, duplicates, saved.templates_added)

    def known_groups(self) -> list[str]:
        with self.store.unit_of_work() as uow:
            return uow.groups.names()

    def require_group(self, group: str) -> None:
        """:class:`InputError` listing the known groups when ``group`` is not one."""
        known = self.known_groups()
        if group in known:
            return
        listed = ", ".join(known) if known else "none yet"
        raise InputError(
            f"there is no group {limits.printable(group, 100)!r} (known groups: {listed}); "
            "check the spelling, or add --new-group to create it"
        )

    def record_action(self, actor: Actor, action: str, target: str, **details: object) -> None:
        """One entry in the operators' actions (an import's refused row, its summary)."""
        with self.store.unit_of_work(write=True) as uow:
            uow.audit.record(actor.username, action, target, **details)
            uow.commit()

    def stored_contents(self, person_id: int | None) -> set[str]:
        """The content hashes of the photos stored for the person."""
        return self._stored_contents(person_id)

    def existing_person(self, name: str, badge: str) -> int | None:
        """The id of the person with ``badge`` (``None``: not enrolled); an error when the
        badge belongs to someone else, an erased person or an altered record."""
        return self._existing(name, badge)

    def _stored_contents(self, person_id: int | None) -> set[str]:
        if person_id is None:
            return set()
        with self.store.unit_of_work() as uow:
            return uow.templates.contents(person_id)

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
        if not record.sealed:
            raise InputError(
                f"the record of badge {badge} was changed outside the kiosk; erase it and "
                "enroll the person with another badge (see `kiosk log verify`)"
            )
        if record.person.name != name:
            raise InputError(
                f"the badge {badge} is already enrolled as {record.person.name}; use another "
                "badge, or the same name to add photos to that person"
            )
        return record.person.id


def check_person_input(
    name: str,
    badge: str,
    group: str | None = None,
    valid_from: datetime | None = None,
    valid_until: datetime | None = None,
) -> tuple[str, str]:
    """The input boundary of a new person, before anything is loaded or written: name,
    badge and group (length, control characters) and the validity period (range, order).
    Returns the stripped name and badge."""
    name, badge = check_name_badge(name, badge)
    limits.check_group(group)
    check_validity(valid_from, valid_until)
    return name, badge
