"""The reader of dlib's serialisation format, on hand-made bytes and on the real file."""

from __future__ import annotations

import math
import struct
from pathlib import Path

import numpy as np
import pytest

from kiosk.errors import ModelFileError
from kiosk.vision import weights
from kiosk.vision.dlib_format import DlibFormatError, Reader, read_metric_net


def enc_int(value: int) -> bytes:
    mag = abs(value)
    raw = mag.to_bytes((mag.bit_length() + 7) // 8, "little") if mag else b""
    return bytes([len(raw) | (0x80 if value < 0 else 0)]) + raw


def test_ints_floats_strings_bools() -> None:
    data = (
        enc_int(0)
        + enc_int(300)
        + enc_int(-5)
        + enc_int(3)
        + enc_int(-1)  # 3 * 2^-1
        + enc_int(0)
        + enc_int(32000)  # +inf
        + enc_int(4)
        + b"con_"
        + b"1"
    )
    r = Reader(data)
    assert [r.int(), r.int(), r.int()] == [0, 300, -5]
    assert r.float() == 1.5
    assert math.isinf(r.float())
    assert r.string() == "con_"
    assert r.bool() is True


def test_tensor() -> None:
    values = np.arange(6, dtype="<f4")
    data = enc_int(2) + b"".join(enc_int(v) for v in (1, 2, 3, 1)) + values.tobytes()
    t = Reader(data).tensor()
    assert t.shape == (1, 2, 3, 1)
    np.testing.assert_array_equal(t.reshape(-1), values)


def test_truncated_data_is_an_error() -> None:
    data = enc_int(2) + b"".join(enc_int(v) for v in (10, 1, 1, 1)) + struct.pack("<3f", 1, 2, 3)
    with pytest.raises(DlibFormatError, match="end of file"):
        Reader(data).tensor()


def test_real_file_structure() -> None:
    path = weights.verified_model_file(weights.RESNET_FILE, weights.RESNET_SHA256)
    net = read_metric_net(path.read_bytes())
    kinds = [layer.kind for layer in net.layers]
    assert kinds.count("con") == 29 and kinds.count("affine") == 29
    assert sum(p.size for layer in net.layers for p in layer.params.values()) == 5_614_592
    assert net.input_size == (150, 150)
    assert net.distance_threshold == pytest.approx(0.6)
    assert net.input_means == pytest.approx((122.782, 117.001, 104.298), abs=1e-3)


def test_not_a_network_file() -> None:
    with pytest.raises(DlibFormatError):
        read_metric_net(b"\x01\x01\x04abcd" + bytes(100))


def test_missing_weights_package_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(weights.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModelFileError, match="face_recognition_models"):
        weights.models_dir()


def test_corrupted_weight_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = weights.models_dir() / weights.RESNET_FILE
    bad = tmp_path / weights.RESNET_FILE
    data = bytearray(real.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte in the middle of the weights
    bad.write_bytes(bytes(data))
    monkeypatch.setattr(weights, "models_dir", lambda: tmp_path)
    with pytest.raises(ModelFileError, match="corrupted"):
        weights.verified_model_file(weights.RESNET_FILE, weights.RESNET_SHA256)
    monkeypatch.setenv("KIOSK_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(
        ModelFileError, match="pip install --force-reinstall --no-deps face_recognition_models"
    ):
        weights.load_resnet_state_dict()


def test_state_dict_is_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KIOSK_CACHE_DIR", str(tmp_path))
    first = weights.load_resnet_state_dict()
    assert list(tmp_path.glob("*.pt"))
    second = weights.load_resnet_state_dict()
    assert all(np.array_equal(first[k].numpy(), second[k].numpy()) for k in first)
