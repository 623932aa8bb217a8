"""SFace (OpenCV Zoo, "SFace: Sigmoid-Constrained Hypersphere Loss") as a PyTorch module.

A MobileFaceNet-class network: a 3x3 convolution, then 13 depthwise-separable blocks
(depthwise 3x3 + pointwise 1x1, each with batch norm and PReLU), a batch norm, and one
fully connected layer to 128 numbers with a final batch norm. Input: 112x112 BGR chips,
0-255, normalised inside the network ((x - 127.5) / 128).

The weights come from OpenCV Zoo's int8 block-quantised ONNX file
(``face_recognition_sface_2021dec_int8bq.onnx``, Apache-2.0), read with the ``onnx``
package, dequantised to float32 and with every batch norm folded into the convolution or
linear layer before it, so inference is convolutions, PReLUs and one matrix product.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from kiosk.errors import ModelFileError

INPUT_SIZE = 112
EMBEDDING_SIZE = 128
#: (input channels, output channels, stride of the depthwise convolution) of the 13
#: depthwise-separable blocks conv_2 .. conv_14, as in the ONNX graph.
BLOCKS: tuple[tuple[int, int, int], ...] = (
    (32, 64, 1),
    (64, 128, 2),
    (128, 128, 1),
    (128, 256, 2),
    (256, 256, 1),
    (256, 512, 2),
    (512, 512, 1),
    (512, 512, 1),
    (512, 512, 1),
    (512, 512, 1),
    (512, 512, 1),
    (512, 1024, 2),
    (1024, 1024, 1),
)
FEATURE_MAP = 7  # 112 / 16
PIXEL_MEAN = 127.5
PIXEL_SCALE = 0.0078125


def _conv_prelu(cin: int, cout: int, kernel: int, stride: int, groups: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, stride, padding=kernel // 2, groups=groups, bias=True),
        nn.PReLU(cout),
    )


class SFaceNet(nn.Module):
    """(N, 3, 112, 112) float BGR 0-255 -> (N, 128) embeddings (not normalised)."""

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = [_conv_prelu(3, 32, 3, 1, 1)]
        for cin, cout, stride in BLOCKS:
            layers.append(_conv_prelu(cin, cin, 3, stride, cin))  # depthwise
            layers.append(_conv_prelu(cin, cout, 1, 1, 1))  # pointwise
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(1024 * FEATURE_MAP * FEATURE_MAP, EMBEDDING_SIZE)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x - PIXEL_MEAN) * PIXEL_SCALE
        x = self.features(x)
        return self.fc(x.flatten(1))


# --- reading OpenCV Zoo's ONNX file --------------------------------------------------


@dataclass(frozen=True)
class _Norm:
    """A batch norm as y = scale * x + shift (per channel)."""

    scale: np.ndarray
    shift: np.ndarray


def _dequantize(
    q: np.ndarray, scales: np.ndarray, zero: np.ndarray, axis: int, block: int
) -> np.ndarray:
    """ONNX DequantizeLinear with ``block_size``: (q - zero) * scale, one scale (and zero
    point) per block of ``block`` values along ``axis``."""
    if block <= 0 or scales.ndim != q.ndim:
        raise ModelFileError("only block-quantised weights are expected in the SFace file")
    index = np.repeat(np.arange(scales.shape[axis]), block)[: q.shape[axis]]
    s = np.take(scales.astype(np.float64), index, axis=axis)
    z = np.take(zero.astype(np.float64), index, axis=axis)
    return ((q.astype(np.float64) - z) * s).astype(np.float32)


def read_onnx(data: bytes) -> dict[str, torch.Tensor]:
    """The state dict of :class:`SFaceNet` from the bytes of OpenCV Zoo's ONNX file.

    Raises ``ModelFileError`` when the file is not the expected graph."""
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError as exc:  # pragma: no cover - a dependency of the project
        raise ModelFileError("the onnx package is missing; run `make setup`") from exc
    try:
        model = onnx.load_from_string(data)
    except Exception as exc:  # protobuf raises its own DecodeError
        raise ModelFileError(f"not an ONNX file ({exc})") from exc
    tensors = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    weights: dict[str, np.ndarray] = {}
    for node in model.graph.node:
        if node.op_type != "DequantizeLinear":
            continue
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        q, s, z = (tensors[name] for name in node.input)
        value = _dequantize(q, s, z, int(attrs.get("axis", 1)), int(attrs.get("block_size", 0)))
        name = node.output[0].removesuffix("_dequantized")
        shape = tensors.get(f"{name}_shape")
        weights[name] = value.reshape(tuple(int(v) for v in shape)) if shape is not None else value
    eps = {
        n.input[1].removesuffix("_gamma"): float(
            next(onnx.helper.get_attribute_value(a) for a in n.attribute if a.name == "epsilon")
        )
        for n in model.graph.node
        if n.op_type == "BatchNormalization"
    }

    def norm(prefix: str) -> _Norm:
        try:
            gamma, beta = tensors[f"{prefix}_gamma"], tensors[f"{prefix}_beta"]
            mean, var = tensors[f"{prefix}_moving_mean"], tensors[f"{prefix}_moving_var"]
        except KeyError as exc:
            raise ModelFileError(f"the ONNX file lacks the batch norm {prefix}") from exc
        scale = gamma.astype(np.float64) / np.sqrt(var.astype(np.float64) + eps[prefix])
        return _Norm(scale, beta.astype(np.float64) - mean.astype(np.float64) * scale)

    try:
        mean, scale = float(tensors["scalar_op1"][0]), float(tensors["scalar_op2"][0])
    except KeyError as exc:
        raise ModelFileError("the ONNX file lacks its input normalisation") from exc
    if (mean, scale) != (PIXEL_MEAN, PIXEL_SCALE):
        raise ModelFileError(f"unexpected input normalisation ({mean}, {scale})")

    state: dict[str, np.ndarray] = {}
    names = ["conv_1"]
    for i in range(2, 2 + len(BLOCKS)):
        names += [f"conv_{i}_dw", f"conv_{i}"]
    net = SFaceNet()
    expected = net.state_dict()
    for index, name in enumerate(names):
        weight = weights.get(f"{name}_conv2d_weight")
        if weight is None:
            raise ModelFileError(f"the ONNX file lacks the convolution {name}")
        bn = norm(f"{name}_batchnorm")
        prelu = tensors.get(f"{name}_relu_gamma")
        if prelu is None:
            raise ModelFileError(f"the ONNX file lacks the PReLU of {name}")
        state[f"features.{index}.0.weight"] = weight * bn.scale[:, None, None, None]
        state[f"features.{index}.0.bias"] = bn.shift
        state[f"features.{index}.1.weight"] = prelu.reshape(-1)
    # bn1 (per channel of the 1024x7x7 map) -> flatten -> fc -> fc1 (batch norm) folded
    # into one linear layer.
    bn1, fc1 = norm("bn1"), norm("fc1")
    w = weights.get("pre_fc1_weight")
    b = weights.get("pre_fc1_bias")
    if w is None or b is None:
        raise ModelFileError("the ONNX file lacks the fully connected layer")
    per_input_scale = np.repeat(bn1.scale, FEATURE_MAP * FEATURE_MAP)
    per_input_shift = np.repeat(bn1.shift, FEATURE_MAP * FEATURE_MAP)
    w64 = w.astype(np.float64)
    fc_w = w64 * per_input_scale[None, :]
    fc_b = w64 @ per_input_shift + b.astype(np.float64)
    state["fc.weight"] = fc_w * fc1.scale[:, None]
    state["fc.bias"] = fc_b * fc1.scale + fc1.shift
    out: dict[str, torch.Tensor] = {}
    for key, ref in expected.items():
        if key not in state:
            raise ModelFileError(f"the ONNX file gives no value for {key}")
        value = np.asarray(state[key], dtype=np.float32)
        if tuple(value.shape) != tuple(ref.shape):
            raise ModelFileError(
                f"{key} has shape {tuple(value.shape)} in the ONNX file, {tuple(ref.shape)} here"
            )
        out[key] = torch.from_numpy(np.ascontiguousarray(value))
    return out


def load_state(net: SFaceNet, state: Mapping[str, torch.Tensor]) -> SFaceNet:
    net.load_state_dict(dict(state))
    return net.eval()
