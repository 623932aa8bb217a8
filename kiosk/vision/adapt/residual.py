"""The trainable head (a residual map that starts as the identity) and its stored form."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from kiosk.domain.operating import DistanceCurve
from kiosk.vision.head import EMBEDDING_SIZE, Head


class ResidualHead(nn.Module):
    """z = normalise(x + f(x)); f is zero at the start, so the head starts as the identity."""

    def __init__(self, kind: str = "linear", hidden: int = 256) -> None:
        super().__init__()
        self.kind = kind
        if kind == "linear":
            self.f: nn.Module = nn.Linear(EMBEDDING_SIZE, EMBEDDING_SIZE)
            nn.init.zeros_(self.f.weight)
            nn.init.zeros_(self.f.bias)
        else:
            last = nn.Linear(hidden, EMBEDDING_SIZE)
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)
            self.f = nn.Sequential(nn.Linear(EMBEDDING_SIZE, hidden), nn.ReLU(), last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(x + self.f(x), dim=-1)

    def numpy_weights(self) -> dict[str, np.ndarray]:
        def arr(t: torch.Tensor) -> np.ndarray:
            return np.asarray(t.detach().cpu().numpy(), dtype=np.float32).copy()

        f = self.f
        if isinstance(f, nn.Linear):
            return {"w": arr(f.weight), "b": arr(f.bias)}
        assert isinstance(f, nn.Sequential)
        first, last = f[0], f[2]
        assert isinstance(first, nn.Linear) and isinstance(last, nn.Linear)
        return {
            "w1": arr(first.weight),
            "b1": arr(first.bias),
            "w2": arr(last.weight),
            "b2": arr(last.bias),
        }


def make_head(
    trained: ResidualHead,
    *,
    network_checksum: str,
    training_hash: str,
    people: int,
    templates: int,
    created_at: str,
    curve: DistanceCurve,
    report: dict[str, Any],
    site: dict[str, np.ndarray] | None = None,
) -> Head:
    return Head(
        kind=trained.kind,
        weights=trained.numpy_weights(),
        network_checksum=network_checksum,
        training_hash=training_hash,
        people=people,
        templates=templates,
        created_at=created_at,
        curve=curve,
        report=report,
        site=site or {},
    )
