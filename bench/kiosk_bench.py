"""Benchmark of the kiosk screen while it recognises: the whole program (camera thread,
recognition thread, window) on a 640x480 video of someone walking up to the kiosk.

    .venv/bin/python bench/kiosk_bench.py [--seconds 30] [--json out.json]

Prints: frames per second displayed, recognitions per second and their latency, the time
from a face appearing in the camera to the decision on screen, and CPU use. The video
(built from ../shared/faces, or KIOSK_FACES_DIR) alternates an empty corridor with an
enrolled person; each appearance should end in an ALLOWED decision. Runs offscreen
unless a display is set. Figures only: nothing here asserts on time.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from kiosk.camera.frames import CameraStatus, FrameSlot  # noqa: E402
from kiosk.camera.reader import CameraReader  # noqa: E402
from kiosk.camera.sources import CvSource  # noqa: E402
from kiosk.config import Settings  # noqa: E402
from kiosk.domain.faces import ImageArray  # noqa: E402

SIZE = (640, 480)
FPS = 30.0
ENROLL = ("obama/tests_obama.jpg", "obama/tests_obama2.jpg")
VISIT = "obama/tests_obama3.jpg"


def faces_dir() -> Path:
    env = os.environ.get("KIOSK_FACES_DIR")
    return Path(env) if env else REPO.parent / "shared" / "faces"


def framed(photo: Path) -> np.ndarray:
    image = cv2.imread(str(photo), cv2.IMREAD_COLOR)
    if image is None:
        raise SystemExit(f"cannot read {photo}")
    width, height = SIZE
    scale = min(width * 0.8 / image.shape[1], height * 0.95 / image.shape[0])
    small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    canvas = np.full((height, width, 3), 90, np.uint8)
    y, x = (height - small.shape[0]) // 2, (width - small.shape[1]) // 2
    canvas[y : y + small.shape[0], x : x + small.shape[1]] = small
    return canvas


def build_video(path: Path, empty_s: float, person_s: float) -> tuple[int, int]:
    """One cycle: an empty corridor, then the person (the camera source loops it).
    Returns (frames per cycle, index of the first frame with the face)."""
    ramp = np.linspace(60, 160, SIZE[0], dtype=np.uint8)
    empty = np.repeat(np.repeat(ramp[None, :, None], SIZE[1], 0), 3, 2)
    person = framed(faces_dir() / "face_recognition" / VISIT)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), FPS, SIZE)
    n_empty, n_person = int(empty_s * FPS), int(person_s * FPS)
    for _ in range(n_empty):
        writer.write(empty)
    for _ in range(n_person):
        writer.write(person)
    writer.release()
    return n_empty + n_person, n_empty


class TimedSource(CvSource):
    """The video file, noting when each face segment starts to be published."""

    def __init__(self, path: Path, cycle: int, first_face: int, appeared: list[float]) -> None:
        super().__init__(str(path), kind="file", width=SIZE[0], height=SIZE[1], fps=FPS)
        self.cycle, self.first_face, self.appeared = cycle, first_face, appeared
        self.count = 0

    def read(self) -> ImageArray | None:
        image = super().read()
        if image is not None:
            if self.count % self.cycle == self.first_face:
                self.appeared.append(time.monotonic())
            self.count += 1
        return image


def enroll(settings: Settings, pipeline: Any) -> None:
    from kiosk.storage.store import open_store

    with open_store(settings) as store, store.unit_of_work(write=True) as uow:
        person = uow.people.add(name="Barack Obama", badge="B-44")
        for photo in ENROLL:
            rgb = cv2.cvtColor(framed(faces_dir() / "face_recognition" / photo), cv2.COLOR_BGR2RGB)
            face = pipeline.detect(rgb)[0]
            emb = pipeline.analyze(rgb, [face])[0].embedding
            uow.templates.add(person.id, emb, pipeline.model_info, quality=1.0, source=photo)
        uow.commit()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="how long to run")
    parser.add_argument("--empty", type=float, default=2.0, help="seconds without a face")
    parser.add_argument("--person", type=float, default=4.0, help="seconds with the person")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    parser.add_argument("--torch-threads", type=int, default=0, help="0: torch's default")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    import torch
    from PySide6.QtCore import QEventLoop, QObject, QTimer, Slot

    from kiosk.app import build_kiosk
    from kiosk.services.access import open_access_service
    from kiosk.services.loop_messages import Analysis, Decided, LoopReady
    from kiosk.ui.admin_login import env_password_check
    from kiosk.ui.kiosk_window import application
    from kiosk.vision.pipeline import load_stream

    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)
    home = Path(tempfile.mkdtemp(prefix="kiosk-bench-"))
    base = Settings.load({"KIOSK_HOME": str(home)})
    settings = dataclasses.replace(
        base,
        kiosk_id="bench",
        vision=dataclasses.replace(base.vision, device=args.device),
        # each appearance is a fresh attempt with its own decision
        decision=dataclasses.replace(base.decision, cooldown_seconds=args.person + 0.5),
        screen=dataclasses.replace(base.screen, sounds=False),
        # the video is still photos, which cannot turn their heads: the benchmark measures
        # recognition and the decision, not the liveness challenge
        liveness=dataclasses.replace(base.liveness, mode="off"),
    )
    t0 = time.monotonic()
    stream = load_stream(settings.vision)  # the kiosk's own: door-sized faces, tracking
    pipeline = stream.pipeline
    load_s = time.monotonic() - t0
    enroll(settings, pipeline)

    video = home / "walk-up.avi"
    cycle, first_face = build_video(video, args.empty, args.person)
    appeared: list[float] = []
    slot = FrameSlot(CameraStatus(False, "", str(video), (*SIZE, FPS), label="bench video"))
    camera = CameraReader(lambda: TimedSource(video, cycle, first_face, appeared), slot)

    _app = application()  # kept: Qt needs it alive
    service = open_access_service(settings)
    kiosk = build_kiosk(
        settings,
        service,
        password_check=env_password_check(None),
        full_screen=False,
        load_recognizer=lambda: stream,
        camera=camera,
    )

    class Recorder(QObject):
        """Lives in the GUI thread, like the window: sees results when the screen does."""

        def __init__(self) -> None:
            super().__init__()
            self.analyses: list[Analysis] = []
            self.decisions: list[tuple[float, Decided]] = []
            self.ready_at: float | None = None

        @Slot(object)
        def on_update(self, update: object) -> None:
            now = time.monotonic()
            if isinstance(update, Analysis) and self.ready_at is not None:
                self.analyses.append(update)
            elif isinstance(update, Decided):
                self.decisions.append((now, update))
            elif isinstance(update, LoopReady) and self.ready_at is None:
                self.ready_at = now

    recorder = Recorder()
    kiosk.threads.worker.update.connect(recorder.on_update)
    kiosk.window.show_kiosk()
    kiosk.start()
    wait = QEventLoop()
    # the pipeline is loaded already; the measured run starts with the first cycle
    QTimer.singleShot(int(args.seconds * 1000), wait.quit)
    usage0 = resource.getrusage(resource.RUSAGE_SELF)
    start, frames0 = time.monotonic(), kiosk.window.displayed_frames
    wait.exec()
    wall = time.monotonic() - start
    usage1 = resource.getrusage(resource.RUSAGE_SELF)
    frames = kiosk.window.displayed_frames - frames0
    kiosk.window.shutdown()
    stopped = kiosk.stop()
    service.close()

    cpu_s = (usage1.ru_utime - usage0.ru_utime) + (usage1.ru_stime - usage0.ru_stime)
    to_decision = []  # the first decision on screen after each appearance
    for i, t in enumerate(appeared):
        following = appeared[i + 1] if i + 1 < len(appeared) else float("inf")
        shown = [when for when, _ in recorder.decisions if t <= when < following]
        if shown:
            to_decision.append((shown[0] - t) * 1000.0)
    latencies = [a.latency_ms for a in recorder.analyses]
    third = max(1, len(latencies) // 3)
    # latency must not grow with time: the camera's slot is overwritten, never queued
    first_third = statistics.median(latencies[:third]) if latencies else None
    last_third = statistics.median(latencies[-third:]) if latencies else None
    allowed = sum(1 for _, d in recorder.decisions if d.allowed)
    appearances = sum(1 for t in appeared if start <= t <= start + wall)
    figures = {
        "video": f"{SIZE[0]}x{SIZE[1]} @ {FPS:.0f} fps, {args.empty:.0f} s empty + "
        f"{args.person:.0f} s person per cycle",
        "device": pipeline.device,
        "torch_threads": torch.get_num_threads(),
        "cpu_cores": os.cpu_count(),
        "model_load_s": round(load_s, 2),
        "seconds": round(wall, 1),
        "displayed_fps": round(frames / wall, 1),
        "recognitions_per_s": round(len(recorder.analyses) / wall, 2),
        "recognition_latency_ms_median": round(statistics.median(latencies), 0)
        if latencies
        else None,
        "latency_ms_first_third_vs_last": [
            None if first_third is None else round(first_third),
            None if last_third is None else round(last_third),
        ],
        "face_to_decision_ms": [round(v) for v in to_decision],
        "face_to_decision_ms_median": round(statistics.median(to_decision))
        if to_decision
        else None,
        "appearances": appearances,
        "decisions_logged": len(recorder.decisions),
        "allowed": allowed,
        "cpu_percent_of_one_core": round(100.0 * cpu_s / wall, 0),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "clean_stop": stopped,
    }
    width = max(len(k) for k in figures)
    for key, value in figures.items():
        print(f"{key:<{width}}  {value}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    return 0 if stopped else 1


if __name__ == "__main__":
    raise SystemExit(main())
