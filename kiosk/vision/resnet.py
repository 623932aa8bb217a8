"""dlib's face-recognition ResNet (``dlib_face_recognition_resnet_model_v1``) as a PyTorch
module: the shared-weight twin of the Siamese metric network. Two faces are the same
person when the euclidean distance between their 128-d outputs is under a threshold.

Structure (dlib ``tools/python/src/face_recognition.cpp``, forward order): conv 7x7/2 (32),
affine, relu, max-pool 3x3/2; residual blocks 3x32; then a down block and 3 more at 64,
down + 2 at 128, down + 2 at 256, one down at 256; global average pool; fc 256->128 without
bias. dlib pads a strided conv or pool by 0; a down block's shortcut is a 2x2/2 average
pool, and dlib's add zero-pads the smaller branch at the end (channels and the
bottom/right edges) instead of cropping.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from kiosk.vision.dlib_format import DlibFormatError, Layer, MetricNetFile

#: (channels, is_down_block) for each residual block, input side first.
BLOCKS: tuple[tuple[int, bool], ...] = (
    ((32, False),) * 3
    + ((64, True),)
    + ((64, False),) * 3
    + ((128, True),)
    + ((128, False),) * 2
    + ((256, True),)
    + ((256, False),) * 2
    + ((256, True),)
)
INPUT_SIZE = 150
EMBEDDING_SIZE = 128


class Affine(nn.Module):
    """dlib's ``affine`` layer: per-channel scale and shift (a frozen batch norm)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)


def _fold(conv: nn.Conv2d, affine: nn.Module) -> None:
    """Fold a following ``Affine`` into the conv's weights and bias (inference only)."""
    if not isinstance(affine, Affine):
        return
    with torch.no_grad():
        conv.weight.mul_(affine.weight.view(-1, 1, 1, 1))
        assert conv.bias is not None
        conv.bias.mul_(affine.weight).add_(affine.bias)


def _pad_add(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """dlib's ``add_prev``: where shapes differ, the smaller is zero-padded at the end."""
    if a.shape == b.shape:
        return a + b
    c, h, w = (max(a.shape[i], b.shape[i]) for i in (1, 2, 3))

    def grow(t: torch.Tensor) -> torch.Tensor:
        return F.pad(t, (0, w - t.shape[3], 0, h - t.shape[2], 0, c - t.shape[1]))

    return grow(a) + grow(b)


class ResidualBlock(nn.Module):
    def __init__(self, in_channels: int, channels: int, down: bool) -> None:
        super().__init__()
        stride = 2 if down else 1
        self.down = down
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride, padding=0 if down else 1)
        self.affine1 = Affine(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, 1, padding=1)
        self.affine2 = Affine(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.affine2(self.conv2(F.relu(self.affine1(self.conv1(x)))))
        shortcut = F.avg_pool2d(x, 2, 2) if self.down else x
        return F.relu(_pad_add(y, shortcut))


class FaceResNet(nn.Module):
    """Maps batches of 150x150 RGB chips (N x 3 x 150 x 150, float 0..255) to N x 128
    embeddings. Not L2-normalised: dlib's outputs have norms of about 1.4-1.6 and its
    0.6 threshold is on the raw euclidean distance."""

    def __init__(self, means: tuple[float, float, float] = (122.782, 117.001, 104.298)) -> None:
        super().__init__()
        self.means: torch.Tensor
        self.register_buffer("means", torch.tensor(means, dtype=torch.float32).view(1, 3, 1, 1))
        self.conv = nn.Conv2d(3, 32, 7, 2, padding=0)
        self.affine = Affine(32)
        blocks = []
        channels = 32
        for out_channels, down in BLOCKS:
            blocks.append(ResidualBlock(channels, out_channels, down))
            channels = out_channels
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(256, EMBEDDING_SIZE, bias=False)

    def fuse(self) -> FaceResNet:
        """Fold every affine layer into the conv before it: the same function with about
        a third fewer passes over the activations. For inference only; returns self."""
        _fold(self.conv, self.affine)
        self.affine = nn.Identity()  # type: ignore[assignment]
        for block in self.blocks:
            assert isinstance(block, ResidualBlock)
            _fold(block.conv1, block.affine1)
            _fold(block.conv2, block.affine2)
            block.affine1 = nn.Identity()  # type: ignore[assignment]
            block.affine2 = nn.Identity()  # type: ignore[assignment]
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x - self.means) / 256.0
        x = F.max_pool2d(F.relu(self.affine(self.conv(x))), 3, 2)
        x = self.blocks(x)
        return self.fc(x.mean(dim=(2, 3)))


def state_dict_from_dlib(net: MetricNetFile) -> dict[str, torch.Tensor]:
    """Map the layer records of a parsed dlib file onto ``FaceResNet``'s parameter names,
    checking that the file's structure is the one this module implements."""
    layers = iter(net.layers)

    def take(kind: str) -> Layer:
        layer = next(layers, None)
        if layer is None or layer.kind != kind:
            found = "end of file" if layer is None else layer.kind
            raise DlibFormatError(f"unexpected network structure: wanted {kind}, found {found}")
        return layer

    def conv(prefix: str, stride: int, pad: int) -> dict[str, torch.Tensor]:
        layer = take("con")
        if (layer.ints["stride_y"], layer.ints["pad_y"]) != (stride, pad):
            raise DlibFormatError(f"unexpected stride/padding in {prefix}")
        return {
            f"{prefix}.weight": torch.from_numpy(layer.params["weight"]),
            f"{prefix}.bias": torch.from_numpy(layer.params["bias"]),
        }

    def affine(prefix: str) -> dict[str, torch.Tensor]:
        layer = take("affine")
        return {
            f"{prefix}.weight": torch.from_numpy(layer.params["gamma"]),
            f"{prefix}.bias": torch.from_numpy(layer.params["beta"]),
        }

    state: dict[str, torch.Tensor] = {"means": torch.tensor(net.input_means).view(1, 3, 1, 1)}
    state |= conv("conv", 2, 0) | affine("affine")
    take("relu")
    take("max_pool")
    for i, (_, down) in enumerate(BLOCKS):
        p = f"blocks.{i}"
        state |= conv(f"{p}.conv1", 2 if down else 1, 0 if down else 1) | affine(f"{p}.affine1")
        take("relu")
        state |= conv(f"{p}.conv2", 1, 1) | affine(f"{p}.affine2")
        if down:
            take("avg_pool")
        take("add_prev")
        take("relu")
    take("avg_pool")  # avg_pool_everything
    state["fc.weight"] = torch.from_numpy(take("fc").params["weight"])
    return {k: v.float().contiguous() for k, v in state.items()}
