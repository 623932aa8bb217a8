"""Reading photos into RGB arrays, with a clear message for every way a file can be bad."""

from __future__ import annotations

import io
import os
import stat
import warnings
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from kiosk.domain.faces import ImageArray
from kiosk.errors import InputError

#: Pillow refuses images over this many pixels (decompression bombs).
MAX_PIXELS = 120_000_000
#: the largest photo file read (a 120-megapixel JPEG is well under this)
MAX_FILE_BYTES = 200_000_000
DEFAULT_MAX_SIDE = 1600


@dataclass(frozen=True)
class LoadedImage:
    rgb: ImageArray  # H x W x 3 uint8, upright, at most max_side on its longer side
    scale: float  # rgb pixels per original pixel (1.0 when not downscaled)
    original_size: tuple[int, int]  # (width, height) of the upright original


def too_small(width: int, height: int, min_face: int) -> str | None:
    """Why an image cannot hold a face the detector looks for (a side under ``min_face``
    pixels), or ``None``."""
    if min(width, height) >= min_face:
        return None
    return (
        f"the image is {width}x{height} pixels, too small to hold a face (the smallest face "
        f"looked for is {min_face} px); use a larger photo"
    )


def _describe(data: bytes) -> str:
    head = data[:64]
    if head.startswith(b"%PDF"):
        return "it is a PDF document"
    try:
        head.decode("utf-8")
        return "it looks like a text file"
    except UnicodeDecodeError:
        return "its format is not one Pillow can read"


def decode_image(data: bytes, name: str, max_side: int = DEFAULT_MAX_SIDE) -> LoadedImage:
    """Decode image bytes (JPEG, PNG, WebP, PGM, BMP, TIFF...) whatever the file's name
    says, apply the EXIF orientation, convert any mode (greyscale, RGBA, 16-bit, palette,
    CMYK) to 8-bit RGB and downscale so the longer side is at most ``max_side``."""
    if not data:
        raise InputError(f"{name}: the file is empty (0 bytes); choose another photo")
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        with warnings.catch_warnings():
            # Pillow's notes on odd files ("Tag data larger than file") would be lines of
            # their own on stderr; the outcome is what counts (decoded, or one reason).
            warnings.simplefilter("ignore")
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            opened = Image.open(io.BytesIO(data))
            img: Image.Image = opened
            original = img.size
            # JPEG can decode straight at a reduced size: fast and bounded memory.
            if opened.format == "JPEG" and max(img.size) > 2 * max_side:
                opened.draft("RGB", (max_side, max_side))
            img.load()
            img = ImageOps.exif_transpose(img)
    except UnidentifiedImageError:
        raise InputError(
            f"{name}: not an image ({_describe(data)}); choose a JPEG or PNG photo"
        ) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InputError(
            f"{name}: the image is too large to process; resize it below 100 megapixels"
        ) from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise InputError(
            f"{name}: the image is damaged or truncated ({exc}); re-export or re-take the photo"
        ) from None
    # draft() may already have shrunk a JPEG: the scale is against the upright original.
    width0, height0 = _upright_size(data, original)
    rgb = _to_rgb8(img)
    h, w = rgb.shape[:2]
    longest = max(h, w)
    if longest > max_side:
        factor = max_side / longest
        rgb = cv2.resize(  # type: ignore[assignment]
            rgb,
            (max(1, round(w * factor)), max(1, round(h * factor))),
            interpolation=cv2.INTER_AREA,
        )
    scale = rgb.shape[1] / width0 if width0 else 1.0
    return LoadedImage(np.ascontiguousarray(rgb), scale, (width0, height0))


def _upright_size(data: bytes, size: tuple[int, int]) -> tuple[int, int]:
    """The original (pre-draft) size, in the upright orientation."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as probe:
                w, h = probe.size
                orientation = probe.getexif().get(0x0112, 1)
    except Exception:
        return size
    return (h, w) if orientation in (5, 6, 7, 8) else (w, h)


def _to_rgb8(img: Image.Image) -> ImageArray:
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(img, dtype=np.float32)
        top = 65535.0 if arr.max(initial=0) > 255 else 255.0
        grey = np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(grey[:, :, None], 3, axis=2), dtype=np.uint8)
    if mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
        mode = "RGBA"
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        # Transparent areas become white, as a photo printed on paper would show them.
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    rgb8: ImageArray = np.asarray(img.convert("RGB"), dtype=np.uint8)
    return rgb8


def read_image(path: str | Path, max_side: int = DEFAULT_MAX_SIDE) -> LoadedImage:
    """Read a photo from disk; raises ``InputError`` with a clear message on any problem."""
    p = Path(path)
    try:
        # only a regular file of a photo's size: a device (/dev/zero) or a FIFO would be
        # read for ever; opened without blocking, checked, then read up to the limit
        fd = os.open(p, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        with open(fd, "rb") as f:
            info = os.fstat(f.fileno())
            if stat.S_ISDIR(info.st_mode):
                raise IsADirectoryError
            if not stat.S_ISREG(info.st_mode):
                raise InputError(f"{p}: not a regular file (a device or a pipe), not a photo")
            if info.st_size > MAX_FILE_BYTES:
                raise InputError(
                    f"{p}: {info.st_size / 1e6:.0f} MB is too large for a photo "
                    f"(at most {MAX_FILE_BYTES // 1_000_000} MB)"
                )
            data = f.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise InputError(f"{p}: no such file; check the path") from None
    except IsADirectoryError:
        raise InputError(f"{p}: is a folder, not a photo") from None
    except PermissionError:
        raise InputError(f"{p}: permission denied; check the file's permissions") from None
    except OSError as exc:
        raise InputError(f"{p}: cannot read the file ({exc.strerror})") from None
    except ValueError:  # a NUL byte in the path (read from standard input)
        raise InputError(f"{p!r}: not a valid file name") from None
    return decode_image(data, str(p), max_side)


def load_image(path: str | Path, max_side: int = DEFAULT_MAX_SIDE) -> ImageArray:
    """The photo at ``path`` as an upright H x W x 3 uint8 RGB array."""
    return read_image(path, max_side).rgb


def bgr_to_rgb(frame: np.ndarray) -> ImageArray:
    """OpenCV frames are BGR (or greyscale / BGRA); the pipeline wants RGB."""
    if frame.ndim == 2:
        code = cv2.COLOR_GRAY2RGB
    elif frame.shape[2] == 4:
        code = cv2.COLOR_BGRA2RGB
    else:
        code = cv2.COLOR_BGR2RGB
    out: ImageArray = cv2.cvtColor(frame, code).astype(np.uint8, copy=False)
    return out
