"""Screenshots of the Today page at the two sizes staff use, over a fresh database with
people, a morning of events from three kiosks, spoof attempts with snapshots (real
photos from ../shared/faces), and heartbeats (one running, one with its camera lost, one
gone quiet):

    xvfb-run -a -s "-screen 0 1920x1080x24" .venv/bin/python -m tests.ui_admin.today_screens \
        /tmp/today-shots

No models are loaded (a few seconds). Not a test (pytest does not collect it).
"""

from __future__ import annotations

import os
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication, QWidget

from kiosk.app import admin_services, opened_store
from kiosk.config import Settings
from kiosk.domain.access import AccessEvent, Decision
from kiosk.domain.kiosk_state import Heartbeat, KioskState
from kiosk.services.accounts import Actor
from kiosk.services.people import NewPerson
from kiosk.storage.records import Role
from kiosk.storage.store import Store
from kiosk.ui.admin.window import AdminWindow
from tests.support.accounts import ADMIN, PASSWORD

OUT = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/today-shots")
FACES = Path(
    os.environ.get("KIOSK_FACES_DIR", Path(__file__).resolve().parents[3] / "shared" / "faces")
)
SPOOF_PHOTOS = ["obama/knn_obama1.jpg", "biden/knn_biden2.jpg", "rose_leslie/knn_img1.jpg"]


def pump(ms: int = 400) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def shot(widget: QWidget, name: str) -> None:
    pump()
    widget.grab().save(str(OUT / f"{name}.png"))
    print(OUT / f"{name}.png")


def _jpeg(relative: str) -> bytes | None:
    image = cv2.imread(str(FACES / "face_recognition" / relative))
    if image is None:
        return None
    h, w = image.shape[:2]
    scale = 240 / max(h, w)
    small = cv2.resize(image, (int(w * scale), int(h * scale)))
    ok, data = cv2.imencode(".jpg", small)
    return data.tobytes() if ok else None


def fill(store: Store, services: object, admin: Actor) -> None:
    people = services.people  # type: ignore[attr-defined]
    ids = [
        people.add(admin, NewPerson(name, badge, consent=True)).id
        for name, badge in [
            ("Rose Leslie", "R-07"),
            ("Kit Harington", "K-12"),
            ("Ada Byron", "A-1"),
        ]
    ]
    now = datetime.now(UTC)
    kiosks = ["north-door", "garage", "lobby"]
    with store.unit_of_work(write=True) as uow:
        for i in range(40):
            when = now - timedelta(minutes=4 * (40 - i))
            decision = [Decision.ALLOWED] * 4 + [Decision.DENIED_UNKNOWN, Decision.DENIED_SCHEDULE]
            d = decision[i % len(decision)]
            person = ids[i % 3] if d in (Decision.ALLOWED, Decision.DENIED_SCHEDULE) else None
            uow.events.append(AccessEvent(when, kiosks[i % 3], d, person_id=person))
            if i == 37:  # in time order, as a kiosk writes them
                lost = AccessEvent(when, "garage", Decision.ERROR, reason="camera lost: usb")
                uow.events.append(lost)
        for i, photo in enumerate(SPOOF_PHOTOS):
            uow.events.append(
                AccessEvent(
                    now - timedelta(minutes=3 - i),
                    "lobby",
                    Decision.DENIED_SPOOF,
                    person_id=ids[i % 3],
                    snapshot_jpeg=_jpeg(photo),
                )
            )
        start = now - timedelta(hours=3)
        uow.kiosks.beat(Heartbeat("north-door", KioskState.RUNNING, now, start, start, now))
        uow.kiosks.beat(
            Heartbeat(
                "garage",
                KioskState.CAMERA_LOST,
                now,
                now - timedelta(minutes=9),
                start,
                now - timedelta(minutes=12),
                "webcam 0 stopped delivering frames",
            )
        )
        quiet = now - timedelta(minutes=7)
        uow.kiosks.beat(Heartbeat("lobby", KioskState.LIVENESS_OFF, quiet, start, start, quiet))
        uow.commit()


def discard_question(services: object, admin: Actor, window: QWidget) -> None:
    """Esc in the enroll dialog with a name typed: the question before it is lost."""
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QMessageBox

    from kiosk.ui.admin.enroll import EnrollDialog

    dialog = EnrollDialog(services, admin, None, window)  # type: ignore[arg-type]
    dialog.show()
    assert dialog.form is not None
    dialog.form.name.setText("Ada Lovelace")
    pump()

    def answer() -> None:
        box = QApplication.activeModalWidget()
        assert isinstance(box, QMessageBox)
        frame = dialog.frameGeometry()
        QGuiApplication.primaryScreen().grabWindow(
            0, frame.x(), frame.y(), frame.width(), frame.height()
        ).save(str(OUT / "enroll-esc-question.png"))
        print(OUT / "enroll-esc-question.png")
        box.button(QMessageBox.StandardButton.Cancel).click()

    QTimer.singleShot(600, answer)
    QTest.keyClick(dialog.form.name, Qt.Key.Key_Escape)
    dialog.form.name.clear()
    dialog.reject()


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix="today-shots-"))
    settings = Settings.load({"KIOSK_HOME": str(home)})
    app = QApplication.instance() or QApplication([])
    with opened_store(settings) as store:
        services = admin_services(store, settings)
        account = services.accounts.add_admin(None, ADMIN, PASSWORD, Role.ADMIN)
        admin = Actor(account.username, account.role)
        fill(store, services, admin)
        window = AdminWindow(services, verify_on_open=False)
        window.show()
        window.sign_in_page.username.setText(ADMIN)
        window.sign_in_page.password.setText(PASSWORD)
        window.sign_in_page.submit()
        main = window.main
        assert main is not None
        for w, h in [(1200, 760), (1920, 1080)]:
            window.resize(w, h)
            main.tabs.setCurrentWidget(main.today)
            shot(window, f"today-{w}x{h}")
            main.tabs.setCurrentWidget(main.log)
            log = main.log
            log.badge.setText("Rose")
            log.quick.add_current()
            log.badge.setText("K-12")
            log.all_denials()
            pump(1500)
            log.table.setCurrentIndex(log.model.index(0, 0))
            shot(window, f"log-{w}x{h}")
            log.pane.larger.click()
            if log.pane.large is not None:
                shot(log.pane.large, f"log-larger-snapshot-{w}x{h}")
                log.pane.large.close()
            log.clear_filters()
            main.tabs.setCurrentIndex(main.tabs.count() - 2)  # the operators' actions
            shot(window, f"operators-{w}x{h}")
            main.tabs.setCurrentWidget(main.security)
            pump(1500)
            shot(window, f"security-{w}x{h}")
            security = main.security
            security.level.setCurrentIndex(security.level.findData("most-secure"))
            pump(800)
            shot(window, f"security-most-secure-{w}x{h}")
            security.words_area.verticalScrollBar().setValue(10_000)
            shot(window, f"security-most-secure-scrolled-{w}x{h}")
            security.level.setCurrentIndex(security.level.findData("normal"))
            if w == 1200:
                discard_question(services, admin, window)
        window.shutdown()
    del app
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
