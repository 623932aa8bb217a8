"""The embedding networks the kiosk can use, and what each needs: its aligner, its chip,
its weights and the scale of its distances.

``[vision] network`` chooses one. Templates record the network (name, version, weight
checksum) that made them, and a gallery only ever holds templates of the network in use.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from torch import nn

from kiosk.config import NETWORKS, THRESHOLD_RANGES
from kiosk.domain.faces import DetectedFace, ImageArray
from kiosk.errors import ConfigError


class ChipAligner(Protocol):
    def align(self, rgb: ImageArray, faces: Sequence[DetectedFace]) -> list[ImageArray]: ...


@dataclass(frozen=True)
class Network:
    """One embedding network.

    ``normalized``: its embeddings are scaled to length 1, so the euclidean distance
    between two of them is in [0, 2] (sqrt(2 - 2 cos))."""

    key: str
    model_name: str
    version: str
    sha256: str
    chip_size: int
    bgr: bool
    normalized: bool
    #: within one attempt (frames seconds apart, the head turning), two embeddings further
    #: apart than this are not the same face (the liveness check's identity: a frame back
    #: near the matched pose against the matched frames' mean)
    same_face: float
    #: the kiosk's loop: a frame whose embedding is further than this from each of the
    #: attempt's last three is another face, and ends the attempt (measured on the clips:
    #: ``python -m tools.decision_queue --same-face``; docs/measurements/decision.md)
    next_face: float
    #: whether the chip's mirror image is embedded too and the two averaged by default
    #: (measured on lfw_dev and the open-set protocol: dlib's 10-fold accuracy falls from
    #: 99.17 % to 98.0 % without it; SFace's figures are the same with or without)
    flip: bool
    build: Callable[[], nn.Module]
    make_aligner: Callable[[], ChipAligner]
    title: str

    @property
    def threshold_range(self) -> tuple[float, float]:
        return THRESHOLD_RANGES[self.key]


def _build_sface() -> nn.Module:
    from kiosk.vision.sface import SFaceNet, load_state
    from kiosk.vision.weights import load_sface_state_dict

    return load_state(SFaceNet(), load_sface_state_dict())


def _build_dlib() -> nn.Module:
    from kiosk.vision.resnet import FaceResNet
    from kiosk.vision.weights import load_resnet_state_dict

    net = FaceResNet()
    net.load_state_dict(load_resnet_state_dict())
    return net.eval().fuse()


def _sface_aligner() -> ChipAligner:
    from kiosk.vision.align import FivePointAligner

    return FivePointAligner(112)


def _dlib_aligner() -> ChipAligner:
    from kiosk.vision.align import Aligner

    return Aligner()


#: between frames of one person in the clips (each against the nearest of the last
#: three, at 0.5 to 30 a second) and frames of two people (docs/measurements/decision.md)
NEXT_FACE_SFACE = 1.0


def _networks() -> dict[str, Network]:
    from kiosk.vision.weights import MODEL_NAME, MODEL_VERSION, RESNET_SHA256, SFACE_SHA256

    return {
        "sface": Network(
            key="sface",
            model_name="opencv-zoo-sface",
            version="2021dec-int8bq",
            sha256=SFACE_SHA256,
            chip_size=112,
            bgr=True,
            normalized=True,
            same_face=1.2,
            next_face=NEXT_FACE_SFACE,
            flip=False,
            build=_build_sface,
            make_aligner=_sface_aligner,
            title="SFace (OpenCV Zoo)",
        ),
        "dlib": Network(
            key="dlib",
            model_name=MODEL_NAME,
            version=MODEL_VERSION,
            sha256=RESNET_SHA256,
            chip_size=150,
            bgr=False,
            normalized=False,
            same_face=0.6,
            next_face=0.6,  # not measured for this rule: its same_face
            flip=True,
            build=_build_dlib,
            make_aligner=_dlib_aligner,
            title="dlib ResNet",
        ),
    }


def network(key: str) -> Network:
    """The network named by ``[vision] network``; a ``ConfigError`` for any other name."""
    found = _networks().get(key)
    if found is None:
        raise ConfigError(f"vision network must be one of {', '.join(NETWORKS)}, not {key!r}")
    return found


def network_of_model(model_name: str) -> Network | None:
    """The network whose templates carry ``model_name`` (None for an unknown one)."""
    return next((n for n in _networks().values() if n.model_name == model_name), None)
