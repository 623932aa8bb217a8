"""Screenshots of the admin console's pages and dialogs, over a fresh database filled with
real photos through the real pipeline (a few seconds to load):

    xvfb-run -a -s "-screen 0 1920x1080x24" .venv/bin/python -m tests.ui_admin.screenshots \
        1280x800 /tmp/console-shots

(from the repository root). Look at each PNG as a receptionist and as an auditor would.
Not a test (pytest does not collect it).
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from kiosk.app import admin_services, load_pipeline, opened_store
from kiosk.config import Settings
from kiosk.domain.access import AccessEvent, Decision
from kiosk.services.access import AccessService
from kiosk.services.accounts import Actor
from kiosk.services.people import NewPerson
from kiosk.storage.records import Role
from kiosk.ui.admin.capture import CaptureDialog
from kiosk.ui.admin.enroll import EnrollDialog, saved_words
from kiosk.ui.admin.person_dialogs import EditPersonDialog, TemplatesDialog
from kiosk.ui.admin.window import AdminWindow
from tests.support.accounts import ADMIN, PASSWORD
from tests.support.videos import write_video

W, H = (int(x) for x in sys.argv[1].split("x")) if len(sys.argv) > 1 else (1280, 800)
OUT = Path(sys.argv[2] if len(sys.argv) > 2 else "/tmp/console-shots")
FACES = Path(
    os.environ.get("KIOSK_FACES_DIR", Path(__file__).resolve().parents[3] / "shared" / "faces")
)
PHOTOS = FACES / "face_recognition"
PEOPLE = {
    ("Joe Biden", "J-46"): ("biden/knn_biden2.jpg", "biden/tests_biden.jpg"),
    ("Kit Harington", "K-12"): ("kit_harington/knn_john1.jpeg", "kit_harington/knn_john2.jpeg"),
    ("Rose Leslie", "R-07"): ("rose_leslie/knn_img1.jpg", "rose_leslie/knn_img2.jpg"),
}


def pump(ms: int = 300) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def wait(done: Callable[[], bool], seconds: float = 120.0) -> None:
    for _ in range(int(seconds * 10)):
        if done():
            return
        pump(100)
    raise TimeoutError("the console did not get there in time")


def shot(widget: QWidget, name: str) -> None:
    pump()
    widget.grab().save(str(OUT / f"{name}.png"))
    print(name)


def screen(name: str, around: QWidget) -> None:
    """The screen around ``around`` (popups such as drop-downs are windows of their own)."""
    pump()
    frame = around.frameGeometry().adjusted(-10, -10, 10, 320)
    QGuiApplication.primaryScreen().grabWindow(
        0, frame.x(), frame.y(), frame.width(), frame.height()
    ).save(str(OUT / f"{name}.png"))
    print(name)


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix="console-shots-"))
    settings = Settings.load({"KIOSK_HOME": str(home)})
    app = QApplication.instance() or QApplication([])
    pipeline = load_pipeline(settings)
    with opened_store(settings) as store:
        services = admin_services(store, settings, analyzer=pipeline)
        account = services.accounts.add_admin(None, ADMIN, PASSWORD, Role.ADMIN)
        admin = Actor(account.username, account.role)
        fill(services, admin, store)
        window = AdminWindow(services, verify_on_open=True)
        window.resize(W, H)
        window.move(40, 40)
        window.show()
        shot(window, "01-sign-in")
        window.sign_in_page.username.setText(ADMIN)
        window.sign_in_page.password.setText(PASSWORD)
        window.sign_in_page.submit()
        assert window.main is not None and window.main.people is not None
        people = window.main.people
        shot(window, "01b-today")  # the console opens on Today
        window.main.tabs.setCurrentWidget(people)
        shot(window, "02-people")
        enrollment(services, admin, window)
        person = next(r for r in people.model.records if r.person.badge == "B-44")
        edit = EditPersonDialog(services.people, admin, person, window)
        edit.show()
        shot(edit, "07-edit-person")
        edit.reject()
        photos = TemplatesDialog(services.people, admin, person, window)
        photos.show()
        shot(photos, "08-photos")
        photos.reject()
        more = EnrollDialog(services, admin, person, window)
        more.show()
        shot(more, "08b-add-photos")
        more.reject()
        window.main.tabs.setCurrentWidget(window.main.rules)
        shot(window, "09-access-rules")
        log_filter(window)
        capture(services, window)
        window.main.tabs.setCurrentWidget(window.main.security)
        pump(2000)
        shot(window, "15-security-level")
        window.main.tabs.setCurrentWidget(window.main.accounts)
        shot(window, "16-accounts")
        sign_out = window.main.findChild(QWidget, "signOut")
        sign_out.click()  # type: ignore[union-attr]
        shot(window, "17-signed-out")
        window.shutdown()
    del app
    return 0


def fill(services: object, admin: Actor, store: object) -> None:
    """Three people enrolled from photos, one without photos, and a week of events."""
    enrollment = services.enrollment  # type: ignore[attr-defined]
    ids = {}
    for (name, badge), files in PEOPLE.items():
        faces = [enrollment.check_photo(PHOTOS / f) for f in files]
        saved = enrollment.save(admin, faces, new=NewPerson(name, badge, consent=True))
        ids[name] = saved.person.id
    people = services.people  # type: ignore[attr-defined]
    ids["Angelina Jolie"] = people.add(
        admin, NewPerson("Angelina Jolie", "A-07", group="Day staff", consent=True)
    ).id
    access = AccessService(store, services.settings)  # type: ignore[arg-type, attr-defined]
    start = datetime.now(UTC) - timedelta(days=2)
    names = list(ids)
    for i in range(60):
        who = names[i % len(names)]
        decision = Decision.ALLOWED if i % 5 else Decision.DENIED_UNKNOWN
        access.record_event(
            AccessEvent(
                time=start + timedelta(minutes=37 * i),
                kiosk_id=("north-door", "garage")[i % 2],
                decision=decision,
                person_id=ids[who] if decision.allowed else None,
                score=0.3 + (i % 7) / 23,
                threshold=0.61,
                latency_ms=70 + i % 9,
                reason="" if decision.allowed else "Face not recognised.",
            )
        )


def enrollment(services: object, admin: Actor, window: AdminWindow) -> None:
    """The enrollment dialog: checked photos with a rejected one and one in doubt, the
    question before saving, a missing consent, then the saved confirmation."""
    assert window.main is not None and window.main.people is not None
    page = window.main.people
    dialog = EnrollDialog(services, admin, None, page)  # type: ignore[arg-type]
    dialog.show()
    assert dialog.form is not None
    dialog.form.name.setText("Barack Obama")
    dialog.form.badge.setText("B-44")
    files = [
        "obama/tests_obama.jpg",
        "obama/tests_obama2.jpg",
        "obama/knn_obama1.jpg",
        "_multi_face/knn_obama_and_biden.jpg",
        "lin_manuel_miranda/ex_lin-manuel-miranda.png",
    ]
    dialog.add_files([PHOTOS / f for f in files])
    wait(lambda: dialog._task is not None and dialog._task.done)
    shot(dialog, "03-enroll-checked")

    def grab_question(box: QMessageBox) -> int:
        box.show()
        shot(box, "04-question-before-saving")
        box.hide()
        return 0

    QMessageBox.exec = grab_question  # type: ignore[method-assign, assignment]
    dialog._save_clicked()
    odd = next(
        dialog.list.item(i)
        for i in range(dialog.list.count())
        if "lin-manuel" in dialog.list.item(i).text()
    )
    odd.setSelected(True)
    dialog.drop_selected()
    dialog.save()  # no consent yet
    shot(dialog, "05-enroll-no-consent")
    dialog.form.consent.setChecked(True)
    assert dialog.save(), dialog.error.text()
    assert dialog.saved is not None
    page.refresh()
    page.confirm(dialog.saved.person.id, saved_words(dialog.saved))
    shot(window, "06-people-saved")


def log_filter(window: AdminWindow) -> None:
    assert window.main is not None
    log = window.main.log
    window.main.tabs.setCurrentWidget(log)
    wait(lambda: log.model.rowCount() > 0 and log.chain_report is not None)
    shot(window, "10-access-log")
    log.badge.setText("Angel")
    log.apply_filters()
    wait(lambda: not log.model.counting)
    shot(window, "11-log-partial-name")
    log.badge.setText("o")
    log.apply_filters()
    screen("12-log-several-people", window)
    log.badge.completer_.popup().hide()
    log.badge.setText("Nobody Here")
    log.apply_filters()
    shot(window, "13-log-nobody")
    log.clear_filters()
    wait(lambda: not log.model.counting)
    log.export_to(OUT / "13b-export.csv")
    wait(lambda: log.export_rows is not None)
    shot(window, "13b-exported")


def capture(services: object, window: AdminWindow) -> None:
    dialog = CaptureDialog(services, window, camera="7")  # type: ignore[arg-type]
    dialog.show()
    wait(lambda: "No picture" in dialog.video.text(), 15)
    shot(dialog, "14a-capture-no-camera")
    video = write_video(
        Path(tempfile.mkdtemp()) / "walk-up.avi",
        [PHOTOS / "obama/tests_obama.jpg", PHOTOS / "obama/tests_obama2.jpg"],
        seconds_each=3.0,
        fps=5.0,
        size=(640, 480),
    )
    dialog.source.setEditText(str(video))
    dialog._source_typed()
    wait(lambda: len(dialog.kept) >= 2)
    shot(dialog, "14b-capture-live")
    dialog.reject()


if __name__ == "__main__":
    raise SystemExit(main())
