"""Every kind of bad or unusual photo: a clear message or the face found upright."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from kiosk.errors import InputError
from kiosk.vision.imageio import decode_image, load_image, read_image

FACE = "deepface/Angelina/img10.jpg"


def test_empty_file(tmp_path: Path) -> None:
    p = tmp_path / "empty.jpg"
    p.write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        load_image(p)


def test_truncated_jpeg(tmp_path: Path, faces_dir: Path) -> None:
    data = (faces_dir / FACE).read_bytes()
    p = tmp_path / "cut.jpg"
    p.write_bytes(data[: len(data) // 3])
    with pytest.raises(InputError, match="damaged or truncated"):
        load_image(p)


def test_text_file_named_jpg(tmp_path: Path) -> None:
    p = tmp_path / "notes.jpg"
    p.write_text("this is not a photo\n")
    with pytest.raises(InputError, match="not an image .*text"):
        load_image(p)


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        load_image(tmp_path / "nope.jpg")
    with pytest.raises(InputError, match="folder"):
        load_image(tmp_path)


def test_webp_named_jpg(faces_dir: Path, pipeline) -> None:  # type: ignore[no-untyped-def]
    p = faces_dir / "deepface/Scarlett/img47.jpg"
    assert p.read_bytes()[8:12] == b"WEBP"
    rgb = load_image(p)
    assert rgb.ndim == 3 and rgb.dtype == np.uint8
    assert len(pipeline.detect(rgb)) == 1


def _encode(img: Image.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def test_greyscale_rgba_and_16bit(faces_dir: Path, pipeline) -> None:  # type: ignore[no-untyped-def]
    src = Image.open(faces_dir / FACE).convert("RGB")
    grey = src.convert("L")
    rgba = src.convert("RGBA")
    arr16 = (np.asarray(grey, dtype=np.uint16) * 257).astype(np.uint16)
    png16 = Image.fromarray(arr16)  # mode I;16
    assert png16.mode.startswith("I;16")
    for name, data in (
        ("grey.png", _encode(grey, "PNG")),
        ("rgba.png", _encode(rgba, "PNG")),
        ("deep.png", _encode(png16, "PNG")),
    ):
        rgb = decode_image(data, name)
        assert rgb.rgb.shape == (src.height, src.width, 3) and rgb.rgb.dtype == np.uint8
        assert len(pipeline.detect(rgb.rgb)) == 1, name
    # 16-bit values are scaled to 8 bits, not clipped to white.
    deep = decode_image(_encode(png16, "PNG"), "deep.png").rgb
    assert abs(float(deep.mean()) - float(np.asarray(grey).mean())) < 2.0


def test_exif_rotation_is_applied(faces_dir: Path, pipeline) -> None:  # type: ignore[no-untyped-def]
    src = Image.open(faces_dir / FACE).convert("RGB")
    # A phone stores the sensor's pixels turned on their side plus "rotate 90 CW" (6).
    sideways = src.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    data = _encode(sideways, "JPEG", exif=exif, quality=95)
    loaded = decode_image(data, "phone.jpg")
    assert loaded.rgb.shape[:2] == (src.height, src.width)
    upright = pipeline.analyze(np.asarray(src))[0]
    rotated = pipeline.analyze(loaded.rgb)
    assert len(rotated) == 1
    assert float(np.linalg.norm(upright.embedding - rotated[0].embedding)) < 0.2
    # Landmarks upright: the eyes are above the mouth.
    lm = rotated[0].face.landmarks
    assert lm[0, 1] < lm[3, 1] and lm[1, 1] < lm[4, 1]


def test_very_large_image_is_downscaled(tmp_path: Path, faces_dir: Path, pipeline) -> None:  # type: ignore[no-untyped-def]
    src = Image.open(faces_dir / FACE).convert("RGB")
    big = Image.new("RGB", (8000, 6000), (90, 110, 130))
    face = src.resize((src.width * 4, src.height * 4))
    big.paste(face, (3000, 1500))
    p = tmp_path / "big.jpg"
    big.save(p, quality=85)
    loaded = read_image(p, max_side=1600)
    assert max(loaded.rgb.shape[:2]) <= 1600
    assert loaded.original_size == (8000, 6000)
    assert loaded.scale == pytest.approx(0.2, abs=0.01)
    assert len(pipeline.detect(loaded.rgb)) == 1


def test_no_face_and_several_faces(faces_dir: Path, pipeline) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)
    assert pipeline.detect(noise) == []
    two = load_image(faces_dir / "face_recognition/_multi_face/ex_two_people.jpg")
    assert len(pipeline.detect(two)) == 2
