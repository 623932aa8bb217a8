"""Visitor passes (issue 26): a one-day pass enrolled from camera frames, listed apart
from staff, and erased with its templates and crops by the retention job once it ends.
Real SQLite, real MTCNN and SFace, frames made from a real photo."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from kiosk.config import Settings
from kiosk.services.accounts import Actor
from kiosk.services.enrollment import EnrollmentService
from kiosk.services.people import PeopleService
from kiosk.services.retention import purge_expired
from kiosk.services.visitors import end_of_day, visitor_pass
from kiosk.storage import views
from kiosk.storage.store import Store
from kiosk.vision.imageio import load_image


def test_a_visitors_templates_and_crops_are_gone_when_the_pass_ends(
    faces_dir: Path, pipeline: Any, store: Store, settings: Settings, admin: Actor
) -> None:
    enrollment = EnrollmentService(store, pipeline, settings)
    people = PeopleService(store)
    frames = [
        enrollment.check_frame(f"camera {i + 1}", load_image(faces_dir / "deepface" / name))
        for i, name in enumerate(["Angelina/img2.jpg", "Angelina/img4.jpg"])
    ]
    staff = enrollment.check_frame("camera 1", load_image(faces_dir / "deepface/Jennifer/img3.jpg"))
    assert all(f.accepted for f in [*frames, staff]), [f.reason_text for f in [*frames, staff]]
    now = datetime(2026, 12, 5, 9, 30, tzinfo=UTC)
    form = visitor_pass("Angelina Visitor", now)
    assert form.visitor and form.valid_until == end_of_day(now)
    assert timedelta(0) < form.valid_until - now <= timedelta(days=1)  # type: ignore[operator]
    visitor = enrollment.save(admin, frames, new=form, source="camera").person
    from kiosk.services.people import NewPerson

    member = enrollment.save(
        admin, [staff], new=NewPerson("Jen Staff", "S1", consent=True), source="camera"
    ).person
    listed = {r.person.badge: r.visitor for r in people.everyone(admin)}
    assert listed == {form.badge: True, "S1": False}

    # the pass has not ended: the retention job leaves the visitor alone
    purge_expired(store, settings, now=now + timedelta(hours=1))
    with store.unit_of_work() as uow:
        assert views.erasure_counts(uow, visitor.id).crops == 2
        assert len(uow.templates.for_person(visitor.id)) == 2

    report = purge_expired(store, settings, now=form.valid_until + timedelta(minutes=1))  # type: ignore[operator]
    assert report is not None and report.visitors == 1
    with store.unit_of_work() as uow:
        assert uow.templates.for_person(visitor.id) == []
        assert views.erasure_counts(uow, visitor.id).crops == 0
        record = uow.people.record(visitor.id)
        assert record is not None and record.erased
        # staff are untouched
        assert len(uow.templates.for_person(member.id)) == 1
        [action] = uow.audit.list(action="erase")
        assert action.admin is None and "visitor pass ended" in action.details
    # run again: nothing more to do
    again = purge_expired(store, settings, now=form.valid_until + timedelta(hours=2))  # type: ignore[operator]
    assert again is not None and again.visitors == 0
