"""Where the model files come from: installed packages only, never a download.

The embedding network's weights are dlib's ``dlib_face_recognition_resnet_model_v1.dat``
(CC0) from the PyPI package ``face_recognition_models``; they are verified by checksum,
converted once by this project's reader and cached as a PyTorch state dict.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
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


def _install_hint(package: str) -> str:
    return f"install it with: pip install {package} (or run `make setup`)"


def models_dir() -> Path:
    """The folder of ``face_recognition_models``, found without importing it (its
    ``__init__`` needs pkg_resources, which current setuptools no longer ships)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise ModelFileError(
            "the face-recognition weights package is not installed; "
            + _install_hint(MODELS_PACKAGE)
        )
    return Path(next(iter(spec.submodule_search_locations))) / "models"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verified_model_file(name: str, expected_sha256: str) -> Path:
    """Path of a weight file of ``face_recognition_models``, checked against its sha256."""
    path = models_dir() / name
    if not path.is_file():
        raise ModelFileError(f"weight file {name} is missing; {_install_hint(MODELS_PACKAGE)}")
    if sha256_file(path) != expected_sha256:
        raise ModelFileError(
            f"weight file {path} is corrupted (checksum mismatch); reinstall it with: "
            f"pip install --force-reinstall {MODELS_PACKAGE}"
        )
    return path


def cache_dir() -> Path:
    if os.environ.get("KIOSK_CACHE_DIR"):
        return Path(os.environ["KIOSK_CACHE_DIR"])
    import platformdirs

    return Path(platformdirs.user_cache_dir("kiosk", appauthor=False))


def load_resnet_state_dict() -> dict[str, torch.Tensor]:
    """The network's weights as a state dict: from the cache when it holds a conversion of
    the verified file, otherwise parsed from dlib's file and cached for next time."""
    from kiosk.vision.dlib_format import DlibFormatError, read_metric_net
    from kiosk.vision.resnet import state_dict_from_dlib

    models = models_dir()
    source = models / RESNET_FILE
    cached = cache_dir() / f"dlib_resnet_v1-{RESNET_SHA256[:16]}.pt"
    # The cache is trusted only while the package's file is unchanged (size and mtime
    # recorded beside it); otherwise the file is verified and converted again.
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
    path = verified_model_file(RESNET_FILE, RESNET_SHA256)
    try:
        state = state_dict_from_dlib(read_metric_net(path.read_bytes()))
    except DlibFormatError as exc:
        raise ModelFileError(
            f"cannot read {path}: {exc}; reinstall it with: pip install --force-reinstall "
            f"{MODELS_PACKAGE}"
        ) from exc
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_suffix(".tmp")
        torch.save(state, tmp)
        os.replace(tmp, cached)
        stamp_file.write_text(stamp)
    except OSError:
        pass  # a read-only cache folder only costs the conversion time on each start
    return state
