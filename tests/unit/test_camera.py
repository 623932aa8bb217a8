"""Camera sources and the camera thread: newest frame only, offline, recovery."""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from kiosk.camera import CameraError, CameraStatus, Frame, FrameSlot, make_camera, open_source
from kiosk.camera.sources import CvSource, ImageFolderSource, describe


def _write_video(path: Path, frames: int, size: tuple[int, int] = (64, 48)) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 25.0, size)
    for i in range(frames):
        image = np.full((size[1], size[0], 3), (0, 0, 200), np.uint8)  # BGR: red
        cv2.putText(image, str(i), (5, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (255, 255, 255))
        writer.write(image)
    writer.release()


def _write_images(folder: Path, count: int) -> None:
    folder.mkdir()
    for i in range(count):
        cv2.imwrite(str(folder / f"{i:03d}.png"), np.full((30, 40, 3), i * 10, np.uint8))


def _wait_for(condition, timeout: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.02)
    return False


def test_spec_chooses_the_source(tmp_path: Path) -> None:
    assert isinstance(open_source("0"), CvSource)
    assert open_source("rtsp://user:secret@cam.local/stream").kind == "stream"  # type: ignore[attr-defined]
    assert "secret" not in describe("rtsp://user:secret@cam.local/stream")
    assert isinstance(open_source(str(tmp_path)), ImageFolderSource)
    assert open_source(str(tmp_path / "clip.avi")).kind == "file"  # type: ignore[attr-defined]


def test_video_file_is_rgb_read_only_and_loops(tmp_path: Path) -> None:
    clip = tmp_path / "clip.avi"
    _write_video(clip, 3)
    source = open_source(str(clip))
    source.open()
    try:
        assert source.obtained[:2] == (64, 48)
        assert source.obtained[2] == pytest.approx(25.0)
        images = [source.read() for _ in range(5)]  # 3 frames, then it starts again
        assert all(image is not None for image in images)
        first = images[0]
        assert first is not None and not first.flags.writeable
        red, _, blue = first[40, 60]
        assert red > 150 and blue < 80  # RGB, not OpenCV's BGR
    finally:
        source.close()


def test_missing_file_and_empty_folder_say_so(tmp_path: Path) -> None:
    with pytest.raises(CameraError, match="does not exist"):
        open_source(str(tmp_path / "nope.mp4")).open()
    (tmp_path / "empty").mkdir()
    with pytest.raises(CameraError, match="no images"):
        open_source(str(tmp_path / "empty")).open()


def test_slot_keeps_only_the_newest_frame() -> None:
    slot = FrameSlot(CameraStatus(False, "", "x", (1, 1, 1.0)))
    image = np.zeros((2, 2, 3), np.uint8)
    for seq in range(1, 6):
        slot.publish(Frame(seq, float(seq), image))
    newest = slot.wait_newer(0, timeout=0.01)
    assert newest is not None and newest.seq == 5
    assert slot.wait_newer(5, timeout=0.01) is None


def test_camera_goes_offline_and_recovers(tmp_path: Path) -> None:
    folder = tmp_path / "cam"
    _write_images(folder, 4)
    camera = make_camera(str(folder), fps=50.0, max_retry=0.2)
    camera.start()
    try:
        assert _wait_for(lambda: camera.slot.status.online)
        assert camera.slot.status.obtained == (40, 30, 50.0)
        assert _wait_for(lambda: (camera.slot.latest() or Frame(0, 0, np.zeros(1))).seq > 5)
        hidden = tmp_path / "hidden"
        folder.rename(hidden)  # the camera is unplugged
        assert _wait_for(lambda: not camera.slot.status.online)
        status = camera.slot.status
        assert "stopped delivering" in status.message or "cannot read" in status.message
        assert status.offline_since is not None
        assert _wait_for(lambda: camera.slot.status.attempts >= 2)  # it keeps trying
        seq = camera.slot.latest().seq  # type: ignore[union-attr]
        hidden.rename(folder)  # and plugged in again
        assert _wait_for(lambda: camera.slot.status.online)
        assert camera.slot.wait_newer(seq, timeout=5.0) is not None
    finally:
        camera.stop()
        camera.join(5.0)
    assert not camera.is_alive()


def test_http_url_source_reads_a_stream(tmp_path: Path) -> None:
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    _write_video(tmp_path / "clip.avi", 10)

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=tmp_path))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        source = open_source(f"http://127.0.0.1:{httpd.server_address[1]}/clip.avi")
        assert not source.paced  # a stream paces itself
        source.open()
        try:
            image = source.read()
            assert image is not None and image.shape == (48, 64, 3)
        finally:
            source.close()
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def test_a_source_that_cannot_be_opened_says_why_in_one_line(tmp_path: Path) -> None:
    from kiosk.camera.sources import why_not_open

    dev = tmp_path / "dev"
    dev.mkdir()
    reason = why_not_open("webcam", 0, dev)
    assert reason.startswith(f"no camera at {dev / 'video0'}") and "plugged in" in reason
    (dev / "video2").touch()
    assert "(there is video2)" in why_not_open("webcam", 0, dev)
    (dev / "video0").touch()
    assert "in use by another program" in why_not_open("webcam", 0, dev)
    assert "check the URL" in why_not_open("stream", "rtsp://cam/1")
    for kind, target in (("webcam", 1), ("stream", "rtsp://x"), ("file", "a.mp4")):
        assert "\n" not in why_not_open(kind, target, dev)
