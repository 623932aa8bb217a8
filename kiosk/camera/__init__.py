"""Camera sources (webcam, video file, stream URL, image folder) and the camera thread
that publishes only the newest frame."""

from kiosk.camera.frames import CameraStatus, Frame, FrameSlot
from kiosk.camera.reader import CameraReader, make_camera
from kiosk.camera.sources import CameraError, FrameSource, open_source

__all__ = [
    "CameraError",
    "CameraReader",
    "CameraStatus",
    "Frame",
    "FrameSlot",
    "FrameSource",
    "make_camera",
    "open_source",
]
