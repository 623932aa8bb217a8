"""Switching the embedding network with real models and real photos: templates are made
again from the stored crops, people without crops are listed, and a gallery only ever
compares templates of the network in use."""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import text

from kiosk.config import Settings, VisionSettings
from kiosk.services.access import AccessService
from kiosk.services.accounts import Actor
from kiosk.services.enrollment import EnrollmentService
from kiosk.services.identify import Identifier
from kiosk.services.network_switch import coverage, reembed
from kiosk.services.people import NewPerson, PeopleService
from kiosk.storage.store import Store
from kiosk.vision.pipeline import FacePipeline


@pytest.fixture(scope="module")
def dlib_pipeline() -> FacePipeline:
    return FacePipeline.load(VisionSettings(device="cpu", network="dlib"))


def _enroll(
    store: Store,
    settings: Settings,
    analyzer: FacePipeline,
    admin: Actor,
    name: str,
    badge: str,
    photos: list[Path],
) -> int:
    service = EnrollmentService(store, analyzer, settings)
    faces = [service.check_photo(p) for p in photos]
    kept = [f for f in faces if f.accepted]
    assert kept, [f.reason_text for f in faces]
    return service.save(admin, kept, new=NewPerson(name, badge, consent=True)).person.id


def test_switch_reembeds_from_crops_and_lists_who_needs_photos(
    store: Store,
    settings: Settings,
    admin: Actor,
    pipeline: FacePipeline,
    dlib_pipeline: FacePipeline,
    faces_dir: Path,
) -> None:
    obama = faces_dir / "face_recognition/obama"
    biden = faces_dir / "face_recognition/biden"
    dlib_settings = replace(settings, vision=replace(settings.vision, network="dlib"))
    with_crops = _enroll(
        store,
        dlib_settings,
        dlib_pipeline,
        admin,
        "Barack Obama",
        "O1",
        [obama / "tests_obama.jpg", obama / "tests_obama2.jpg", obama / "knn_obama1.jpg"],
    )
    without = _enroll(
        store,
        dlib_settings,
        dlib_pipeline,
        admin,
        "Joe Biden",
        "B1",
        [biden / "knn_biden2.jpg", biden / "tests_biden.jpg"],
    )
    with store.unit_of_work(write=True) as uow:  # as after a crop retention purge
        uow.session.execute(
            text("UPDATE templates SET crop = NULL WHERE person_id = :p"), {"p": without}
        )
        uow.commit()

    # the SFace kiosk sees nobody yet: the dlib templates are never compared with SFace
    access = AccessService(store, settings)
    before = Identifier(access, pipeline, settings)
    assert before.enrolled.people == 0
    cover = coverage(store, pipeline.model_info)
    assert cover.from_crops == [with_crops] and cover.need_photos == [without]

    people = PeopleService(store)
    checksum = pipeline.model_info.checksum
    assert people.waiting_for_reembedding(checksum) == {with_crops}
    assert people.need_new_photos(admin, checksum) == {without}

    # the kiosk closing while it re-embeds: stopped between two people, nothing half-made
    closing = threading.Event()
    closing.set()
    assert reembed(store, pipeline, stop=closing).templates == 0
    assert people.waiting_for_reembedding(checksum) == {with_crops}

    report = reembed(store, pipeline, admin="root")
    assert report.people == 1 and report.templates == 3 and report.failed == 0
    assert report.need_photos == [without]
    assert people.waiting_for_reembedding(checksum) == set()
    assert people.need_new_photos(admin, checksum) == {without}
    # a second run adds nothing
    assert reembed(store, pipeline).templates == 0

    after = Identifier(access, pipeline, settings)
    assert after.enrolled.people == 1
    rows = after.identify(str(obama / "ex_obama-720p.jpg"))
    main = next(r for r in rows if r["main"])
    assert main["name"] == "Barack Obama", main
    # switching back finds dlib's own templates still there
    assert Identifier(access, dlib_pipeline, dlib_settings).enrolled.people == 2
