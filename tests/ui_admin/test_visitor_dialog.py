"""The desk's New visitor action: a name and camera photos make a one-day pass, listed
apart from staff on the People page (real widgets, database, MTCNN and SFace)."""

from __future__ import annotations

from pathlib import Path

from pytestqt.qtbot import QtBot

from kiosk.services.accounts import Actor
from kiosk.services.admin import AdminServices
from kiosk.services.people import NewPerson
from kiosk.ui.admin.people import PeoplePage
from kiosk.ui.admin.visitor import VisitorDialog
from kiosk.vision.imageio import load_image
from tests.support.shots import maybe_shot


def test_new_visitor_needs_a_name_and_photos_and_is_listed_apart(
    qtbot: QtBot, vision_services: AdminServices, admin: Actor, faces_dir: Path
) -> None:
    enrollment = vision_services.enrollment
    frames = [
        enrollment.check_frame(f"camera {i}", load_image(faces_dir / "deepface" / p))
        for i, p in enumerate(["Angelina/img2.jpg", "Angelina/img4.jpg"], 1)
    ]
    staff = enrollment.check_frame("camera 1", load_image(faces_dir / "deepface/Jack/img16.jpg"))
    enrollment.save(admin, [staff], new=NewPerson("Jack Staff", "S1", consent=True))

    page = PeoplePage(vision_services, admin)
    qtbot.addWidget(page)
    dialog = VisitorDialog(vision_services, admin, page)
    qtbot.addWidget(dialog)
    assert not dialog.save_button.isEnabled()
    dialog.name.setText("Angelina Guest")
    assert not dialog.save_button.isEnabled()  # no photos yet
    dialog.add_faces(frames)
    assert not dialog.save_button.isEnabled()  # no consent yet
    dialog.consent.setChecked(True)
    assert dialog.save_button.isEnabled()
    maybe_shot(dialog, "visitor-dialog")
    dialog.save()
    assert dialog.saved is not None and dialog.saved.templates_added == 2
    assert "valid until" in dialog.saved_words()

    page.refresh()
    names = lambda: [page.model.index(r, 0).data() for r in range(page.model.rowCount())]  # noqa: E731
    assert names() == ["Angelina Guest (visitor)", "Jack Staff"]
    page.kind.setCurrentIndex(page.kind.findText("Visitors"))
    assert names() == ["Angelina Guest (visitor)"]
    maybe_shot(page, "people-visitors")
    page.kind.setCurrentIndex(page.kind.findText("Staff"))
    assert names() == ["Jack Staff"]
