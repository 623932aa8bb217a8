"""The enrollment gate as set by what it does to recognition (issue 26, docs/enrollment-
gate.md), through the real enrollment use case: real SQLite, real MTCNN, real SFace, real
photos from ../shared/faces."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from kiosk.config import Settings
from kiosk.services.accounts import Actor
from kiosk.services.enrollment import EnrollmentService
from kiosk.storage.store import Store
from kiosk.vision.imageio import load_image


def lfw_people(faces_dir: Path, least: int = 3) -> list[tuple[str, list[Path]]]:
    people = []
    for folder in sorted(p for p in (faces_dir / "lfw_dev").iterdir() if p.is_dir()):
        photos = sorted(p for p in folder.iterdir() if p.suffix == ".jpg")
        if len(photos) >= least:
            people.append((folder.name, photos))
    return people


@pytest.mark.slow
def test_nine_in_ten_lfw_people_with_three_photos_get_a_template(
    faces_dir: Path, pipeline: Any, store: Store, settings: Settings, admin: Actor
) -> None:
    """Issue 26: from 3 news photos each (250x250), 12 of 30 people got nothing stored.
    Each lfw_dev person with 3 or more photos is enrolled from their first 3."""
    service = EnrollmentService(store, pipeline, settings)
    people = lfw_people(faces_dir)
    assert len(people) == 80
    stored, refused_photos = 0, []
    for i, (folder, photos) in enumerate(people):
        result = service.enroll(
            admin, name=folder.replace("_", " "), badge=f"LFW{i}", photos=photos[:3]
        )
        stored += result.templates_added > 0
        refused_photos += [p.reason_text for p in result.rejected]
    assert stored >= 0.9 * len(people), (stored, refused_photos)
    # the photos still refused are refused for what measurably hurts, never for blur
    assert not [r for r in refused_photos if "blurred" in r], refused_photos


def test_a_small_face_in_the_background_is_a_warning_not_a_refusal(
    faces_dir: Path, pipeline: Any, store: Store, settings: Settings, tmp_path: Path
) -> None:
    """The subject is clearly the main face; a passer-by at half its size is not a reason
    to refuse the photo (the largest face is taken, with a warning stored with it). Two
    faces of about the same size are still refused: which one is the person?"""
    subject = load_image(faces_dir / "deepface" / "Angelina" / "img2.jpg")
    other = load_image(faces_dir / "face_recognition" / "biden" / "tests_biden.jpg")
    h, w = subject.shape[:2]
    canvas = np.full((h, w + w // 2, 3), 128, np.uint8)
    canvas[:, :w] = subject
    small = cv2.resize(other, (w // 2, int(other.shape[0] * (w // 2) / other.shape[1])))
    small = small[: h // 2]
    canvas[: small.shape[0], w : w + small.shape[1]] = small
    path = tmp_path / "with-passer-by.png"
    cv2.imwrite(str(path), cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR))
    service = EnrollmentService(store, pipeline, settings)
    checked = service.check_photo(path)
    assert len(checked.boxes) == 2, checked.boxes
    assert checked.accepted, checked.reasons
    assert any("2 faces" in w for w in checked.warnings), checked.warnings
    group = service.check_photo(
        faces_dir / "face_recognition" / "_multi_face" / "knn_obama_and_biden.jpg"
    )
    assert not group.accepted and "faces in the photo" in group.reason_text


def test_a_warning_is_stored_with_the_template_and_the_camera_stays_strict(
    faces_dir: Path, pipeline: Any, store: Store, settings: Settings, admin: Actor, tmp_path: Path
) -> None:
    """A blurred photo file is kept with its warning (blur did not make templates miss
    more on the development sets); the same picture from the camera is asked again."""
    sharp = load_image(faces_dir / "deepface" / "Angelina" / "img2.jpg")
    blurred = cv2.GaussianBlur(sharp, (0, 0), 6)
    path = tmp_path / "blurred.png"
    cv2.imwrite(str(path), cv2.cvtColor(blurred, cv2.COLOR_RGB2BGR))
    service = EnrollmentService(store, pipeline, settings)
    result = service.enroll(admin, name="Angelina", badge="A1", photos=[path])
    assert result.templates_added == 1 and result.person is not None
    assert any("blurred" in w for w in result.photos[0].warnings)
    with store.unit_of_work() as uow:
        [template] = uow.templates.for_person(result.person.id)
    assert template.warnings is not None and "blurred" in template.warnings
    frame = service.check_frame("camera 1", blurred)
    assert not frame.accepted and "blurred" in frame.reason_text
