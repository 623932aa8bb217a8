"""A reader for dlib's serialisation format, enough to load the weights of
``dlib_face_recognition_resnet_model_v1.dat`` without dlib.

Encoding (dlib/serialize.h): an int is one control byte (number of magnitude bytes,
0x80 set when negative) then the magnitude little-endian; a float is an int mantissa and
an int exponent (value = m * 2**e; exponents 32000/32001/32002 mean +inf/-inf/NaN); a
string is an int length then the bytes; a bool is one ASCII '0' or '1'; a tensor is int
version 2, ints N K R C, then N*K*R*C raw little-endian float32.
"""

from __future__ import annotations

import builtins
import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt


class DlibFormatError(ValueError):
    """The bytes are not what a dlib file of the expected kind holds."""


@dataclass
class Reader:
    data: bytes
    pos: int = 0

    def _need(self, n: int) -> None:
        if self.pos + n > len(self.data):
            raise DlibFormatError(f"unexpected end of file at byte {self.pos}")

    def int(self) -> int:
        self._need(1)
        control = self.data[self.pos]
        self.pos += 1
        size = control & 0x0F
        if size > 8:
            raise DlibFormatError(f"bad integer control byte {control:#x} at {self.pos - 1}")
        self._need(size)
        value = int.from_bytes(self.data[self.pos : self.pos + size], "little")
        self.pos += size
        return -value if control & 0x80 else value

    def float(self) -> float:
        mantissa = self.int()
        exponent = self.int()
        if exponent == 32000:
            return math.inf
        if exponent == 32001:
            return -math.inf
        if exponent == 32002:
            return math.nan
        return math.ldexp(mantissa, exponent)

    def string(self) -> str:
        length = self.int()
        if length < 0 or length > 1 << 20:
            raise DlibFormatError(f"bad string length {length} at {self.pos}")
        self._need(length)
        raw = self.data[self.pos : self.pos + length]
        self.pos += length
        try:
            return raw.decode("ascii")
        except UnicodeDecodeError:
            raise DlibFormatError(f"non-text string at {self.pos - length}") from None

    def bool(self) -> bool:
        self._need(1)
        char = self.data[self.pos : self.pos + 1]
        self.pos += 1
        if char not in (b"0", b"1"):
            raise DlibFormatError(f"bad bool {char!r} at {self.pos - 1}")
        return char == b"1"

    def tensor(self) -> npt.NDArray[np.float32]:
        version = self.int()
        if version != 2:
            raise DlibFormatError(f"unsupported tensor version {version} at {self.pos}")
        shape = tuple(self.int() for _ in range(4))
        count = int(np.prod(shape))
        self._need(4 * count)
        array = np.frombuffer(self.data, dtype="<f4", count=count, offset=self.pos)
        self.pos += 4 * count
        return array.reshape(shape).astype(np.float32)

    def alias_shape(self) -> tuple[builtins.int, builtins.int, builtins.int, builtins.int]:
        version = self.int()
        if version != 1:
            raise DlibFormatError(f"unsupported alias_tensor version {version} at {self.pos}")
        n, k, r, c = (self.int() for _ in range(4))
        return (n, k, r, c)

    def peek_string(self) -> str | None:
        """The string at the current position, if one plausibly starts here."""
        saved = self.pos
        try:
            return self.string()
        except DlibFormatError:
            return None
        finally:
            self.pos = saved


@dataclass
class Layer:
    """One layer record of a dlib network file, in forward order."""

    kind: str  # con, affine, relu, max_pool, avg_pool, add_prev, fc
    params: dict[str, npt.NDArray[np.float32]] = field(default_factory=dict)
    ints: dict[str, int] = field(default_factory=dict)


@dataclass
class MetricNetFile:
    margin: float
    distance_threshold: float
    input_means: tuple[float, float, float]
    input_size: tuple[int, int]
    layers: list[Layer]


def _read_trailer(r: Reader) -> None:
    """Each add_layer record ends with three bools and three (empty) gradient tensors."""
    for _ in range(3):
        r.bool()
    for _ in range(3):
        r.tensor()


def _read_layer(r: Reader) -> Layer:
    name = r.string()
    if name == "con_4":
        params = r.tensor().reshape(-1)
        ints = {
            k: r.int() for k in ("filters", "nr", "nc", "stride_y", "stride_x", "pad_y", "pad_x")
        }
        fshape = r.alias_shape()
        bshape = r.alias_shape()
        for _ in range(4):  # learning-rate and weight-decay multipliers
            r.float()
        nf = int(np.prod(fshape))
        if params.size != nf + int(np.prod(bshape)) or fshape[0] != ints["filters"]:
            raise DlibFormatError(f"conv parameter sizes disagree at {r.pos}")
        layer = Layer(
            "con",
            {"weight": params[:nf].reshape(fshape), "bias": params[nf:].copy()},
            ints,
        )
    elif name == "affine_":
        params = r.tensor().reshape(-1)
        gshape = r.alias_shape()
        r.alias_shape()
        mode = r.int()
        ng = int(np.prod(gshape))
        if params.size != 2 * ng:
            raise DlibFormatError(f"affine parameter sizes disagree at {r.pos}")
        layer = Layer(
            "affine", {"gamma": params[:ng].copy(), "beta": params[ng:].copy()}, {"mode": mode}
        )
    elif name == "relu_":
        layer = Layer("relu")
    elif name in ("max_pool_2", "avg_pool_2"):
        ints = {k: r.int() for k in ("nr", "nc", "stride_y", "stride_x", "pad_y", "pad_x")}
        layer = Layer(name[:-2], {}, ints)
    elif name == "add_prev_":
        layer = Layer("add_prev")
    elif name == "fc_2":
        outputs = r.int()
        inputs = r.int()
        params = r.tensor().reshape(-1)
        r.alias_shape()  # weights
        r.alias_shape()  # biases (empty for fc_no_bias)
        bias_mode = r.int()
        for _ in range(4):
            r.float()
        if params.size < inputs * outputs:
            raise DlibFormatError(f"fc parameter sizes disagree at {r.pos}")
        # dlib stores the matrix inputs x outputs; torch's Linear wants outputs x inputs.
        w = params[: inputs * outputs].reshape(inputs, outputs)
        layer = Layer(
            "fc",
            {"weight": w.T.copy()},
            {"outputs": outputs, "inputs": inputs, "bias_mode": bias_mode},
        )
    else:
        raise DlibFormatError(f"unsupported layer {name!r} at {r.pos}")
    _read_trailer(r)
    return layer


def read_metric_net(data: bytes) -> MetricNetFile:
    """Parse a dlib ``loss_metric`` network file into its layers, in forward order."""
    r = Reader(data)
    if r.int() != 1:  # net_to_xml / serialize version of dnn_trainer-free networks
        raise DlibFormatError("not a dlib network file")
    if r.string() != "loss_metric_2":
        raise DlibFormatError("not a dlib metric-learning network (loss_metric_2)")
    margin = r.float()
    threshold = r.float()
    # The version ints of every layer, from the output side down, until the input layer.
    while r.peek_string() != "input_rgb_image_sized":
        if r.int() not in (1, 2, 3):
            raise DlibFormatError(f"unexpected layer version at {r.pos}")
        if r.pos > 10_000:
            raise DlibFormatError("input layer not found")
    r.string()
    means = (r.float(), r.float(), r.float())
    size = (r.int(), r.int())
    layers: list[Layer] = []
    while r.pos < len(data):
        layers.append(_read_layer(r))
        if len(layers) == 1:
            r.int()  # the layer next to the input also stores the sample expansion factor
        if layers[-1].kind == "fc":
            break
    return MetricNetFile(margin, threshold, means, size, layers)
