"""What training a head takes: its settings, the photos' embeddings, and how it stops."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from kiosk.domain.faces import FloatArray
from kiosk.vision.head import EMBEDDING_SIZE, KINDS


class Cancelled(Exception):
    """Training was asked to stop (the console's stop button, or its window closing)."""


@dataclass(frozen=True)
class AdaptConfig:
    """How a head is trained. The defaults were chosen on splits of the development sets
    that the reported figures do not use (``tools/adapt_eval.py --seed``)."""

    kind: str = "linear"  # linear | mlp
    hidden: int = 256  # the mlp's hidden width
    margin: float = 1.4  # negatives pushed beyond this distance
    pos_margin: float = 0.3  # positives pulled within this distance
    hard: int = 8  # the closest negatives of each anchor that count
    lr: float = 1e-3
    weight_decay: float = 1e-2  # towards the identity
    max_epochs: int = 200
    patience: int = 25
    batch_people: int = 32
    per_person: int = 4  # views of each person in a batch
    simsiam_weight: float = 0.0  # > 0: the SimSiam term on unlabelled views
    refit: bool = True  # train again on every photo for the best number of epochs
    seed: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"head kind must be one of {KINDS}, not {self.kind!r}")


@dataclass
class Views:
    """The training photos of a gallery: ``base`` (N, 128) raw embeddings with their
    person ``labels``; ``extra`` (N, K, 128) embeddings of K augmentations of each (K may
    be 0). ``unlabelled`` (U, V, 128): V >= 2 views of photos without labels (SimSiam)."""

    base: FloatArray
    labels: np.ndarray
    extra: FloatArray
    unlabelled: FloatArray | None = None

    def __post_init__(self) -> None:
        self.base = np.asarray(self.base, np.float32).reshape(-1, EMBEDDING_SIZE)
        self.labels = np.asarray(self.labels, np.int64).reshape(-1)
        if self.extra is None or np.size(self.extra) == 0:
            self.extra = np.zeros((len(self.base), 0, EMBEDDING_SIZE), np.float32)
        self.extra = np.asarray(self.extra, np.float32).reshape(len(self.base), -1, EMBEDDING_SIZE)
        if len(self.labels) != len(self.base):
            raise ValueError("one label per photo")

    def subset(self, rows: np.ndarray) -> Views:
        return Views(self.base[rows], self.labels[rows], self.extra[rows], self.unlabelled)

    @property
    def people(self) -> int:
        return len(np.unique(self.labels))


def config_dict(config: AdaptConfig) -> dict[str, Any]:
    return asdict(config)
