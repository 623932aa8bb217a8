"""The security level page (distances of the enrolled people, a recorded threshold) and
the guided camera capture (a real camera thread reading a video of real photos)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from kiosk.config import DEFAULT_THRESHOLD, Settings
from kiosk.services.accounts import Actor
from kiosk.services.admin import AdminServices
from kiosk.services.people import NewPerson
from kiosk.ui.admin.capture import STRAIGHT, CaptureDialog, PoseTarget
from kiosk.ui.admin.enroll import EnrollDialog
from kiosk.ui.admin.security import SecurityPage
from tests.support.videos import write_video

PEOPLE = {
    "Obama": ("obama/tests_obama.jpg", "obama/tests_obama2.jpg", "obama/knn_obama1.jpg"),
    "Biden": ("biden/knn_biden2.jpg", "biden/tests_biden.jpg"),
    "Kit": ("kit_harington/knn_john1.jpeg", "kit_harington/knn_john2.jpeg"),
    "Rose": ("rose_leslie/knn_img1.jpg", "rose_leslie/knn_img2.jpg"),
}


@pytest.fixture
def enrolled(vision_services: AdminServices, admin: Actor, photos: Path) -> AdminServices:
    enrollment = vision_services.enrollment
    for i, (name, files) in enumerate(PEOPLE.items()):
        faces = [enrollment.check_photo(photos / f) for f in files]
        kept = [f for f in faces if f.accepted]
        assert kept, [f.reason_text for f in faces]
        enrollment.save(admin, kept, new=NewPerson(name, f"B{i}", consent=True))
    return vision_services


def test_security_page_plots_distances_and_records_the_threshold(
    qtbot: QtBot, enrolled: AdminServices, admin: Actor, settings: Settings
) -> None:
    page = SecurityPage(enrolled.security, admin)
    qtbot.addWidget(page)
    qtbot.waitUntil(lambda: page.stats is not None, timeout=30_000)
    stats = page.stats
    assert stats is not None
    counts = [r.templates for r in enrolled.people.everyone(admin)]
    same = sum(n * (n - 1) // 2 for n in counts)
    total = sum(counts)
    assert stats.genuine.size == same > 0
    assert stats.impostor.size == total * (total - 1) // 2 - same
    # the same person's photos are closer than different people's
    assert float(stats.genuine.mean()) < float(stats.impostor.mean())
    assert "stranger" in page.figures.text() and "4 people with photos" in page.figures.text()
    chance_normal = stats.stranger_acceptance(0.6, 3)
    assert stats.stranger_acceptance(0.5, 3) <= chance_normal
    assert stats.stranger_acceptance(0.6, 1000) >= chance_normal

    page.level.setCurrentIndex(1)  # Secure
    assert page.chosen == pytest.approx(0.55)
    assert page.plot.threshold == pytest.approx(0.55)
    assert page.apply(), page.message.text()
    written = tomllib.loads((settings.home / "kiosk.toml").read_text())
    assert written["vision"]["threshold"] == pytest.approx(0.55)
    assert Settings.load().vision.threshold == pytest.approx(0.55)
    [(_, who, details)] = enrolled.security.threshold_history(admin)
    assert (
        who == admin.username
        and '"new": 0.55' in details
        and f'"old": {DEFAULT_THRESHOLD}' in details
    )
    assert "Secure" in details

    page.custom.setValue(0.47)
    assert page.level.currentText() == "Custom"
    assert page.apply()
    assert Settings.load().vision.threshold == pytest.approx(0.47)
    page.close_threads()


def test_guided_capture_keeps_good_frames_and_lets_the_admin_drop_some(
    qtbot: QtBot,
    vision_services: AdminServices,
    admin: Actor,
    photos: Path,
    tmp_path: Path,
) -> None:
    video = write_video(
        tmp_path / "walk-up.avi",
        [photos / "obama/tests_obama.jpg", photos / "obama/tests_obama2.jpg"],
        seconds_each=2.0,
        fps=5.0,
        size=(640, 480),
    )
    plan = (STRAIGHT, PoseTarget("Turn your head slightly to your left", (0.05, 0.22)), STRAIGHT)
    dialog = CaptureDialog(
        vision_services,
        None,
        camera=str(video),
        plan=plan,
        patience_s=0.0,  # a video cannot turn its head: take any good frame
    )
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: len(dialog.kept) == 3, timeout=120_000)
    qtbot.waitUntil(lambda: not dialog.running, timeout=10_000)
    assert dialog.updates >= 3
    assert dialog.progress.value() == 3
    assert dialog.shots.count() == 3
    assert "Done" in dialog.instruction.text()
    dialog.shots.item(2).setSelected(True)
    dialog.drop_selected()
    assert len(dialog.kept) == 2
    dialog.accept()

    enroll = EnrollDialog(vision_services, admin, None)
    qtbot.addWidget(enroll)
    assert enroll.form is not None
    enroll.form.name.setText("Barack Obama")
    enroll.form.badge.setText("B-44")
    enroll.form.consent.setChecked(True)
    enroll.add_faces(dialog.kept)
    qtbot.waitUntil(lambda: enroll._task is not None and enroll._task.done, timeout=10_000)
    assert "2 accepted" in enroll.status.text()
    assert [f.source for f in enroll.faces] == ["camera 1", "camera 2"]
    assert enroll.save()
    [view, _] = vision_services.people.templates(admin, enroll.saved.person.id)  # type: ignore[union-attr]
    assert view.info.source == "camera" and view.crop_jpeg


def test_capture_says_what_is_wrong_with_a_frame(
    qtbot: QtBot, vision_services: AdminServices, photos: Path, tmp_path: Path
) -> None:
    video = write_video(
        tmp_path / "two.avi",
        [photos / "_multi_face/knn_obama_and_biden.jpg"],
        seconds_each=3.0,
        fps=5.0,
        size=(640, 480),
    )
    dialog = CaptureDialog(vision_services, None, camera=str(video))
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: "face" in dialog.feedback.text(), timeout=60_000)
    assert dialog.kept == []
    dialog.reject()
    assert not dialog.running and dialog.camera is not None and not dialog.camera.is_alive()


def test_distance_statistics_sample_whole_people_on_a_large_site(
    services: AdminServices, admin: Actor
) -> None:
    import numpy as np

    from kiosk.domain.faces import ModelInfo

    model = ModelInfo("test-net", "1", "c" * 64)
    rng = np.random.default_rng(1)
    with services.people.store.unit_of_work(write=True) as uow:
        for i in range(200):
            person = uow.people.add(name=f"P{i}", badge=f"B{i}")
            centre = rng.normal(size=128)
            for _ in range(10):
                e = centre + rng.normal(scale=0.05, size=128)
                uow.templates.add(
                    person.id,
                    (e / np.linalg.norm(e)).astype(np.float32),
                    model,
                    quality=1.0,
                    source="file",
                )
        uow.commit()
    stats = services.security.distance_stats(admin, max_templates=300)
    assert stats.sampled and stats.people == 200 and stats.templates == 2000
    sampled = (1 + (1 + 8 * (stats.genuine.size + stats.impostor.size)) ** 0.5) / 2
    assert round(sampled) == 300  # 30 whole people
    assert stats.genuine.size == 30 * 45
    assert float(stats.genuine.max()) < float(stats.impostor.min())
