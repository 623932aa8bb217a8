"""The embedding half of the Siamese network: chips in, 128-d vectors out, batched."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from kiosk.domain.faces import FloatArray, ImageArray, ModelInfo
from kiosk.vision.networks import Network, network

EMBEDDING_SIZE = 128


def resolve_device(name: str) -> torch.device:
    """``auto`` picks the GPU when there is one; an unavailable GPU falls back to the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        return torch.device("cpu")
    return device


class Embedder:
    """Runs one embedding network (``[vision] network``) in inference mode on a device.

    With ``flip_average`` the embedding of a chip is the mean of the embeddings of the chip
    and its mirror image, computed in one batch. Networks whose distances are defined on
    the unit sphere (SFace) have their output scaled to length 1."""

    def __init__(
        self,
        device: torch.device,
        flip_average: bool | None = None,
        batch_size: int = 64,
        precision: str = "fp32",
        network_key: str = "sface",
    ) -> None:
        if precision not in ("fp32", "fp16"):
            raise ValueError(f"precision must be fp32 or fp16, not {precision!r}")
        self.spec: Network = network(network_key)
        self.device = device
        self.flip_average = self.spec.flip if flip_average is None else flip_average
        self.batch_size = batch_size
        # Half precision only pays (and is only checked) on a GPU.
        self.half = precision == "fp16" and device.type == "cuda"
        net = self.spec.build().to(device)
        if self.half:
            net = net.half().to(memory_format=torch.channels_last)
        self.net = net
        self.model_info = ModelInfo(
            self.spec.model_name,
            self.spec.version + ("+flip" if self.flip_average else ""),
            self.spec.sha256,
        )

    @property
    def chip_size(self) -> int:
        return self.spec.chip_size

    def embed(self, chips: Sequence[ImageArray]) -> FloatArray:
        """(N, 128) float32 embeddings of N chip_size x chip_size x 3 uint8 RGB chips."""
        if len(chips) == 0:
            return np.zeros((0, EMBEDDING_SIZE), dtype=np.float32)
        size = self.spec.chip_size
        out = []
        for start in range(0, len(chips), self.batch_size):
            batch = np.stack(
                [np.asarray(c, dtype=np.uint8) for c in chips[start : start + self.batch_size]]
            )
            if batch.shape[1:] != (size, size, 3):
                raise ValueError(f"chips must be {size}x{size}x3, got {batch.shape[1:]}")
            out.append(self._embed_batch(batch))
        return np.concatenate(out).astype(np.float32)

    def _embed_batch(self, batch: np.ndarray) -> FloatArray:
        with torch.inference_mode():
            x = torch.from_numpy(batch).to(self.device).permute(0, 3, 1, 2)
            if self.spec.bgr:
                x = x.flip(1)
            x = x.half().contiguous(memory_format=torch.channels_last) if self.half else x.float()
            if self.flip_average:
                n = x.shape[0]
                y = self.net(torch.cat([x, x.flip(3)])).float()
                if self.spec.normalized:
                    y = torch.nn.functional.normalize(y, dim=1)
                y = (y[:n] + y[n:]) / 2
            else:
                y = self.net(x).float()
            if self.spec.normalized:
                y = torch.nn.functional.normalize(y, dim=1)
            return y.cpu().numpy()
