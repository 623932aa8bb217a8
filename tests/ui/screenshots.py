"""Screenshots of every state of the kiosk screen, fed by hand (no models needed):

    xvfb-run -a -s "-screen 0 1920x1080x24" .venv/bin/python -m tests.ui.screenshots \
        1280x800 /tmp/shots

(from the repository root: ``-m`` puts it on the path, so ``tests.support`` imports).

Look at each PNG as a person at the door would. Not a test (pytest does not collect it).
"""

import dataclasses
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication

from kiosk.camera.frames import CameraStatus, Frame, FrameSlot
from kiosk.config import Settings
from kiosk.domain.access import Decision
from kiosk.domain.faces import Box
from kiosk.services.loop_messages import (
    LEFT_MESSAGE,
    Analysis,
    BadgeRead,
    Decided,
    DoorReport,
    LivenessPrompt,
    LoopReady,
    LoopState,
    Notice,
    PaceChanged,
)
from kiosk.ui.admin_login import AdminLoginDialog, env_password_check
from kiosk.ui.kiosk_window import KioskWindow
from tests.support.videos import framed

W, H = (int(x) for x in sys.argv[1].split("x")) if len(sys.argv) > 1 else (1280, 800)
out = Path(sys.argv[2] if len(sys.argv) > 2 else "/tmp/kiosk-shots")
out.mkdir(parents=True, exist_ok=True)
app = QApplication([])
settings = dataclasses.replace(Settings.load({"KIOSK_HOME": str(out)}), kiosk_id="lobby-1")
slot = FrameSlot(CameraStatus(True, "", "0", (640, 480, 30.0), (640, 480, 30.0), label="webcam 0"))
w = KioskWindow(
    settings,
    slot,
    password_check=env_password_check("x"),
    require_password=False,
    full_screen=False,
)
w.resize(W, H)
w.show()
F = (
    Path(
        __import__("os").environ.get(
            "KIOSK_FACES_DIR", Path(__file__).resolve().parents[3] / "shared" / "faces"
        )
    )
    / "face_recognition"
)
obama = cv2.cvtColor(framed(F / "obama/ex_obama-480p.jpg", (640, 480)), cv2.COLOR_BGR2RGB)
seq = [0]


def frame(rgb):
    seq[0] += 1
    rgb = np.array(rgb, dtype=np.uint8)
    rgb.flags.writeable = False
    slot.publish(Frame(seq[0], time.monotonic(), rgb))


def pump(ms=300):
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def shot(name):
    last = slot.latest()
    if last is not None and slot.status.online:  # fresh, or the screen calls it a stall
        frame(last.rgb)
    pump()
    w.grab().save(str(out / f"{name}.png"))
    print(name, w.state)


empty = cv2.cvtColor(framed(F / "obama/ex_obama-480p.jpg", (640, 480)), cv2.COLOR_BGR2RGB) * 0 + 70
frame(empty)
shot("01_starting")
w.on_update(LoopReady("cpu", "dlib-resnet v1", 12))
frame(empty)
shot("02_idle")
box = Box(255, 120, 385, 290)


def analysis(state, attempt=1, slow=False):
    return Analysis(
        seq[0], 640, 480, (box, Box(40, 60, 90, 120)), 0, state, 180.0, 6.5, attempt, slow
    )


attempt = [1]


def decided(decision, message, name, person, since=640.0):
    """A decision for a new face (a new attempt), as the loop sends it."""
    attempt[0] += 1
    w.on_update(analysis(LoopState.CHECKING, attempt[0]))
    w.on_update(Decided(decision, message, name, person, 0.35, since, now, attempt[0]))


frame(obama)
w.on_update(analysis(LoopState.CHECKING))
shot("03_checking")
now = datetime.now(UTC)
decided(Decision.ALLOWED, "Welcome, Barack Obama!", "Barack Obama", 3)
w.on_update(DoorReport(True, "door: webhook ok", 3))
shot("04_allowed")
decided(Decision.DENIED_UNKNOWN, "Face not recognised. Please see staff.", None, None)
shot("05_denied_unknown")
decided(
    Decision.DENIED_INACTIVE, "Your badge expired on 03 May 2026. Please see staff.", "Joe Biden", 4
)
shot("06_denied_expired")
decided(Decision.DENIED_SCHEDULE, "Outside your access hours.", "Joe Biden", 4)
shot("07_denied_schedule")
decided(
    Decision.ALLOWED,
    "Welcome, Maximiliana Wolfeschlegelsteinhausen-Bergerdorff!",
    "Maximiliana Wolfeschlegelsteinhausen-Bergerdorff",
    5,
)
w.on_update(DoorReport(False, "door webhook answered HTTP 503", 5))
shot("08_door_failed")
w.staff_bar.set_notice("door", None)
attempt[0] += 1
w.on_update(analysis(LoopState.CHECKING, attempt[0]))
w.on_update(LivenessPrompt("Turn your head left, then right", "Barack Obama", "left"))
shot("08a_liveness_prompt")
w.on_update(LivenessPrompt("Turn your head a little further left", "Barack Obama", "left"))
shot("08b_liveness_further")
w.on_update(LivenessPrompt("Now turn your head right", "Barack Obama", "right"))
shot("08b2_liveness_second_move")
w.on_update(LivenessPrompt("Once more: turn your head right, then left", "Barack Obama", "right"))
shot("08b3_liveness_once_more")
decided(
    Decision.DENIED_SPOOF,
    "A photo or a screen was seen. Please look at the camera yourself.",
    "Barack Obama",
    3,
)
shot("08c_denied_picture")
for _ in range(20):  # the picture stays in front of the kiosk for 6 s: still denied
    w.on_update(analysis(LoopState.DECIDED, attempt[0]))
    pump(300)
shot("08c2_denied_picture_still_there")
w.on_update(
    Decided(Decision.DENIED_SPOOF, LEFT_MESSAGE, "Barack Obama", 3, 0.35, 2900.0, now, 99, True)
)
shot("08d_denied_left_mid_check")
w._held_until = 0
decided(
    Decision.DENIED_SPOOF,
    "The head turn was not recognised. Please see staff.",
    "Barack Obama",
    3,
)
shot("08d2_denied_after_two_tries")
w._held_until = 0
attempt[0] += 1
w.on_update(PaceChanged(True, 1.3, 1.6, 1.5))
w.on_update(analysis(LoopState.CHECKING, attempt[0], slow=True))
shot("08e_hold_still")
w.on_update(PaceChanged(False, 4.0, 1.6, 1.5))
w.toggle_status_line()
shot("09_status_line")
w.toggle_status_line()
w.staff_bar.set_notice("loop", None)
slot.set_status(
    CameraStatus(
        False,
        "webcam 0 stopped delivering frames",
        "0",
        (640, 480, 30.0),
        (640, 480, 30.0),
        time.monotonic(),
        3,
        "webcam 0",
    )
)
shot("10_camera_offline")
slot.set_status(CameraStatus(True, "", "0", (640, 480, 30.0), (640, 480, 30.0), label="webcam 0"))
frame(empty)
w._held_until = 0
w.on_update(analysis(LoopState.IDLE, None))
pump(1000)
frame(empty)
shot("11_back_idle")
w.on_update(Notice("recognition cannot start: the weight file is missing", fatal=True))
shot("12_out_of_order")
d = AdminLoginDialog(env_password_check("x"), w)
d.show()
pump()
d.grab().save(str(out / "13_admin_login.png"))
d.password.setText("wrong")
d._try_login()
pump()
d.grab().save(str(out / "14_admin_login_wrong.png"))
d.close()

# badge + face mode: the keypad beside the picture, then a badge read
badge_settings = dataclasses.replace(
    settings, decision=dataclasses.replace(settings.decision, mode="badge+face")
)
w.close()
w = KioskWindow(
    badge_settings,
    slot,
    password_check=env_password_check("x"),
    require_password=False,
    full_screen=False,
)
w.resize(W, H)
w.show()
w.on_update(LoopReady("cpu", "dlib-resnet v1", 12))
frame(empty)
shot("15_badge_entry")
for key in "4711":
    w.keypad.press(key)
frame(obama)
shot("16_badge_number_typed")
w.keypad.press("OK")
w.on_update(BadgeRead(10.0))
shot("17_badge_read_look_at_camera")
decided(
    Decision.DENIED_UNKNOWN, "Your face does not match the badge. Please see staff.", None, None
)
shot("18_badge_face_mismatch")
