"""A passive anti-spoofing score: MiniFASNet V2 and V1SE (minivision-ai, Apache-2.0).

Two small CNNs judge one still crop around the face: is this a live face, a print or a
screen? Each sees its own crop (a box 2.7x resp. 4.0x the face box, centred on it and
shifted to stay inside the frame, resized to 80x80, BGR 0-255), each gives a 3-class
softmax whose class 1 is "real", and the score is the mean of the two "real"
probabilities. The network is written here from its published description (depthwise-
separable bottlenecks, squeeze-and-excitation on the last block of each stage in V1SE);
its layer widths are read from the weight file itself (the published files are pruned, so
the widths differ block by block). The Fourier-spectrum auxiliary head of the original is
used only in training and is not built.

The weights are ``assets/minifasnet/`` (with the licence beside them), each checked by its
sha256 at load. For measuring (``tools/liveness/passive_eval.py``); not a decision.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from kiosk.domain.faces import Box, ImageArray
from kiosk.errors import ModelFileError
from kiosk.vision.weights import sha256_file

ASSETS = Path(__file__).resolve().parents[2] / "assets" / "minifasnet"
INPUT_SIZE = 80
REAL_CLASS = 1


@dataclass(frozen=True)
class NetFile:
    """One weight file: its name, sha256 and the crop it was trained on."""

    name: str
    sha256: str
    crop_scale: float


NETS = (
    NetFile(
        "2.7_80x80_MiniFASNetV2.pth",
        "a5eb02e1843f19b5386b953cc4c9f011c3f985d0ee2bb9819eea9a142099bec0",
        2.7,
    ),
    NetFile(
        "4_0_0_80x80_MiniFASNetV1SE.pth",
        "84ee1d37d96894d5e82de5a57df044ef80a58be2b218b5ed7cdfd875ec2f5990",
        4.0,
    ),
)


class _ConvUnit(nn.Module):
    """Convolution without bias, batch norm, and (unless linear) a per-channel PReLU."""

    def __init__(
        self, cin: int, cout: int, kernel: int, stride: int, groups: int, linear: bool = False
    ) -> None:
        super().__init__()
        pad = (kernel - 1) // 2 if kernel == 3 else 0
        self.conv = nn.Conv2d(cin, cout, kernel, stride, pad, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.prelu: nn.Module = nn.Identity() if linear else nn.PReLU(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.prelu(self.bn(self.conv(x)))


class _Excite(nn.Module):
    """Squeeze-and-excitation: channel gains from the pooled features (1x1 convs, BN)."""

    def __init__(self, channels: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(channels, hidden, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(hidden)
        self.fc2 = nn.Conv2d(hidden, channels, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gain = x.mean(dim=(2, 3), keepdim=True)
        gain = torch.relu(self.bn1(self.fc1(gain)))
        return x * torch.sigmoid(self.bn2(self.fc2(gain)))


class _Bottleneck(nn.Module):
    """Expand (1x1), filter each channel (3x3 depthwise), project back (1x1, linear); with
    a shortcut inside a stage (optionally re-weighted by squeeze-and-excitation first),
    without one where the stage halves the resolution."""

    def __init__(
        self, cin: int, mid: int, cout: int, stride: int, excite_hidden: int | None
    ) -> None:
        super().__init__()
        self.conv = _ConvUnit(cin, mid, 1, 1, 1)
        self.conv_dw = _ConvUnit(mid, mid, 3, stride, mid)
        self.project = _ConvUnit(mid, cout, 1, 1, 1, linear=True)
        self.shortcut = stride == 1 and cin == cout
        self.se_module = _Excite(cout, excite_hidden) if excite_hidden else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.project(self.conv_dw(self.conv(x)))
        if not self.shortcut:
            return y
        if self.se_module is not None:
            y = self.se_module(y)
        return x + y


class _Stage(nn.Module):
    """Residual bottlenecks at one resolution (``model`` keeps the weight files' names)."""

    def __init__(self, blocks: list[_Bottleneck]) -> None:
        super().__init__()
        self.model = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)  # type: ignore[no-any-return]


class MiniFASNet(nn.Module):
    """The network with the widths found in ``state`` (V2 and V1SE differ only in widths
    and in the squeeze-and-excitation blocks, both read from the keys): 80x80 -> 40 (stem)
    -> 20 -> 10 -> 5 (three downsampling bottlenecks, each followed by a residual stage),
    a 1x1 widening to 512, a 5x5 depthwise "global" filter, 512 -> 128 embedding with batch
    norm, and the 3-class logits."""

    def __init__(self, state: dict[str, torch.Tensor]) -> None:
        super().__init__()

        def shape(key: str) -> tuple[int, ...]:
            if key not in state:
                raise ModelFileError(f"the MiniFASNet weights have no {key}")
            return tuple(state[key].shape)

        def unit(prefix: str, stride: int, groups: str = "1", linear: bool = False) -> _ConvUnit:
            cout, cin_g, k, _ = shape(f"{prefix}.conv.weight")
            cin = cout if groups == "depthwise" else cin_g
            return _ConvUnit(cin, cout, k, stride, cout if groups == "depthwise" else 1, linear)

        def block(prefix: str, stride: int) -> _Bottleneck:
            mid, cin = shape(f"{prefix}.conv.conv.weight")[:2]
            cout = shape(f"{prefix}.project.conv.weight")[0]
            se = f"{prefix}.se_module.fc1.weight"
            return _Bottleneck(cin, mid, cout, stride, shape(se)[0] if se in state else None)

        def stage(prefix: str) -> _Stage:
            count = len({k.split(".")[2] for k in state if k.startswith(prefix + ".model.")})
            if count == 0:
                raise ModelFileError(f"the MiniFASNet weights have no {prefix} blocks")
            return _Stage([block(f"{prefix}.model.{i}", 1) for i in range(count)])

        self.conv1 = unit("conv1", 2)
        self.conv2_dw = unit("conv2_dw", 1, "depthwise")
        self.conv_23 = block("conv_23", 2)
        self.conv_3 = stage("conv_3")
        self.conv_34 = block("conv_34", 2)
        self.conv_4 = stage("conv_4")
        self.conv_45 = block("conv_45", 2)
        self.conv_5 = stage("conv_5")
        self.conv_6_sep = unit("conv_6_sep", 1)
        self.conv_6_dw = unit("conv_6_dw", 1, "depthwise", linear=True)
        embed, width = shape("linear.weight")
        self.linear = nn.Linear(width, embed, bias=False)
        self.bn = nn.BatchNorm1d(embed)
        self.prob = nn.Linear(embed, shape("prob.weight")[0], bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv2_dw(self.conv1(x))
        x = self.conv_3(self.conv_23(x))
        x = self.conv_4(self.conv_34(x))
        x = self.conv_5(self.conv_45(x))
        x = self.conv_6_dw(self.conv_6_sep(x)).flatten(1)
        return self.prob(self.bn(self.linear(x)))  # type: ignore[no-any-return]


def load_net(path: Path, expected_sha256: str) -> MiniFASNet:
    """One network from its weight file, checked by sha256; every inference weight must be
    in the file (only the training-only Fourier head may be there besides)."""
    if not path.is_file():
        raise ModelFileError(f"weight file {path} is missing; restore it from the repository")
    if sha256_file(path) != expected_sha256:
        raise ModelFileError(
            f"weight file {path} is corrupted (checksum mismatch); restore it from the "
            "repository (git checkout -- assets/minifasnet)"
        )
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a checked file that still fails is a torch incompatibility
        raise ModelFileError(f"cannot read {path}: {exc}") from exc
    state = {k.removeprefix("module."): v for k, v in raw.items()}
    state = {k: v for k, v in state.items() if not k.startswith("FTGenerator.")}
    net = MiniFASNet(state)
    result = net.load_state_dict(state, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise ModelFileError(
            f"weight file {path} does not fit MiniFASNet (missing {result.missing_keys[:3]}, "
            f"unexpected {result.unexpected_keys[:3]})"
        )
    return net.eval()


def crop_box(box: Box, scale: float, width: int, height: int) -> tuple[int, int, int, int]:
    """The crop a network was trained on: the face box scaled by ``scale`` about its centre
    (less where the frame is too small), shifted, not cut, to stay inside the frame."""
    bw, bh = max(box.width, 1.0), max(box.height, 1.0)
    scale = min(scale, (height - 1) / bh, (width - 1) / bw)
    cw, ch = bw * scale, bh * scale
    cx, cy = box.center
    x1, y1 = cx - cw / 2, cy - ch / 2
    x1 = min(max(x1, 0.0), width - cw)
    y1 = min(max(y1, 0.0), height - ch)
    return int(x1), int(y1), int(x1 + cw), int(y1 + ch)


class PassiveScorer:
    """``score(rgb_frame, box)``: how real the face in ``box`` looks, 0 (a print or a
    screen) to 1 (a live face), from the two networks on one torch thread."""

    def __init__(self, assets: Path = ASSETS, nets: tuple[NetFile, ...] = NETS) -> None:
        self._assets = assets
        self._files = nets
        self._nets: list[tuple[NetFile, MiniFASNet]] = []

    def load(self) -> None:
        """Check and load both weight files (a wrong file is one ModelFileError)."""
        self._nets = [(f, load_net(self._assets / f.name, f.sha256)) for f in self._files]

    def networks(self) -> list[tuple[NetFile, MiniFASNet]]:
        """The loaded networks with their files (for timing each alone)."""
        return list(self._nets)

    def crops(self, rgb_frame: ImageArray, box: Box) -> list[np.ndarray]:
        """The networks' 80x80 BGR inputs for the face in ``box``."""
        h, w = rgb_frame.shape[:2]
        out = []
        for f in self._files:
            x1, y1, x2, y2 = crop_box(box, f.crop_scale, w, h)
            patch = np.ascontiguousarray(rgb_frame[y1:y2, x1:x2, ::-1])
            out.append(cv2.resize(patch, (INPUT_SIZE, INPUT_SIZE)))
        return out

    def score(self, rgb_frame: ImageArray, box: Box) -> float:
        """Mean probability of "real" over the two networks, in 0..1."""
        if not self._nets:
            raise RuntimeError("PassiveScorer.score() before load()")
        if rgb_frame.ndim != 3 or rgb_frame.shape[2] != 3:
            raise ValueError("score() takes an RGB frame of shape (height, width, 3)")
        total = 0.0
        with torch.inference_mode():
            for (_, net), crop in zip(self._nets, self.crops(rgb_frame, box), strict=True):
                x = torch.from_numpy(crop).permute(2, 0, 1).float().unsqueeze(0)
                total += float(torch.softmax(net(x), dim=1)[0, REAL_CLASS])
        return total / len(self._nets)
