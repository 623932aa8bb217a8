"""A site-adapted head: a small projection applied on top of the frozen embeddings.

The network's raw embeddings stay stored; a head maps them (queries and templates alike)
to another 128-d unit vector at match time:

    z = normalise(x + W2 relu(W1 x + b1) + b2)      ("mlp")
    z = normalise(x + W x + b)                       ("linear")

The residual form starts as the identity (W2 or W is zero before training), so a head
that learned nothing is the plain network. A head belongs to the gallery it was trained
on: it carries the hash of that training set (:func:`training_hash`) and the distance
curve measured for it on the site's own people (people the head did not see, see
``kiosk.vision.adapt``); the threshold for a level is chosen from that curve, never from
the development curve of the plain network.

Numpy only: the kiosk applies a head without importing the training code.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from kiosk.config import VisionSettings
from kiosk.domain.faces import FloatArray
from kiosk.domain.operating import DistanceCurve, OperatingPoint, choose, level_for
from kiosk.errors import KioskError

FORMAT = 1
EMBEDDING_SIZE = 128
KINDS = ("linear", "mlp")


class HeadError(KioskError):
    """A stored head that cannot be used (damaged, another network, another gallery)."""

    exit_code = 2


def training_hash(embeddings: FloatArray, labels: Sequence[int]) -> str:
    """A hash of a gallery: its people and their templates, whatever their order. Any
    enrollment, erasure or change of template gives another hash."""
    x = np.ascontiguousarray(np.asarray(embeddings, dtype="<f4").reshape(-1, EMBEDDING_SIZE))
    lab = np.asarray(labels, dtype="<i8").reshape(-1)
    if len(lab) != len(x):
        raise ValueError("one label per template")
    # order-free: each (person, template) row as one byte string, the rows sorted
    rec = np.concatenate(
        [lab[:, None].view(np.uint8).reshape(len(lab), -1), x.view(np.uint8).reshape(len(x), -1)],
        axis=1,
    )
    rows = np.sort(np.ascontiguousarray(rec).view(np.dtype((np.void, rec.shape[1]))).ravel())
    h = hashlib.sha256(b"kiosk gallery v1\0")
    h.update(len(rows).to_bytes(8, "little"))
    h.update(rows.tobytes())
    return h.hexdigest()


def head_operating_point(
    curve: DistanceCurve, vision: VisionSettings, people: int
) -> OperatingPoint:
    """The threshold for ``people`` enrolled people at the configured level (or the
    explicit one), chosen from a head's own curve, measured on the site's people.

    The level's floor (the number of measured stranger comparisons a threshold may accept
    where the target cannot be resolved) was set for the development curve's hundreds of
    thousands of comparisons; a site's curve is much smaller, so with a head the threshold
    is then held below every stranger comparison the site's measurements hold."""
    level = replace(level_for(vision.level), floor=0)
    return choose(curve, people, level, vision.threshold)


@dataclass(frozen=True)
class Head:
    """A trained head and what is known about it.

    ``weights``: "w" (128x128) and "b" for a linear head; "w1", "b1", "w2", "b2" for an
    mlp; as numpy arrays (y = x @ w.T + b). ``curve``: distances measured on the site's
    own people with heads trained without them (the threshold is chosen from it)."""

    kind: str
    weights: dict[str, np.ndarray]
    network_checksum: str
    training_hash: str
    people: int
    templates: int
    created_at: str
    curve: DistanceCurve
    #: how it was trained and what was measured (epochs, losses, augmentation, figures)
    report: dict[str, Any] = field(default_factory=dict)
    #: the site's photos measured leave-people-out with heads that did not see them, per
    #: photo: "own" (to its person's other photos; inf when none), "best_other",
    #: "second_other"; and "impostor_sample" (photo to other person, for a plot)
    site: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise HeadError(f"unknown head kind {self.kind!r}")
        needed = {"linear": ("w", "b"), "mlp": ("w1", "b1", "w2", "b2")}[self.kind]
        if sorted(self.weights) != sorted(needed):
            raise HeadError(f"a {self.kind} head needs the weights {', '.join(needed)}")
        if any(not np.all(np.isfinite(w)) for w in self.weights.values()):
            raise HeadError("the head's weights are not finite numbers")

    @property
    def version(self) -> str:
        """A short name for the audit log and the page: kind and training set."""
        return f"{self.kind}-{self.training_hash[:12]}"

    def project(self, embeddings: FloatArray) -> FloatArray:
        """(N, 128) raw embeddings -> (N, 128) unit vectors in the head's space."""
        x = np.asarray(embeddings, dtype=np.float32).reshape(-1, EMBEDDING_SIZE)
        w = self.weights
        if self.kind == "linear":
            delta = x @ w["w"].T + w["b"]
        else:
            hidden = np.maximum(x @ w["w1"].T + w["b1"], 0.0)
            delta = hidden @ w["w2"].T + w["b2"]
        z = x + delta
        z /= np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)
        return z.astype(np.float32)

    def operating_point(self, vision: VisionSettings, people: int) -> OperatingPoint:
        """The threshold in force with this head (see :func:`head_operating_point`)."""
        return head_operating_point(self.curve, vision, people)

    # -- stored form ---------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        meta = {
            "format": FORMAT,
            "kind": self.kind,
            "network_checksum": self.network_checksum,
            "training_hash": self.training_hash,
            "people": self.people,
            "templates": self.templates,
            "created_at": self.created_at,
            "curve": {
                "network": self.curve.network,
                "scoring": self.curve.scoring,
                "model": self.curve.model,
                "impostor_comparisons": self.curve.impostor_comparisons,
                "impostor_tail": list(self.curve.impostor_tail),
                "genuine": list(self.curve.genuine),
                "impostor_grid": [list(g) for g in self.curve.impostor_grid],
            },
            "report": self.report,
        }
        arrays: dict[str, Any] = {
            f"weight_{k}": np.asarray(v, dtype="<f4") for k, v in self.weights.items()
        }
        arrays.update({f"site_{k}": np.asarray(v, dtype="<f4") for k, v in self.site.items()})
        buffer = io.BytesIO()
        arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
        np.savez(buffer, **arrays)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> Head:
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as npz:
                meta = json.loads(bytes(npz["meta"]).decode())
                weights = {
                    k.removeprefix("weight_"): np.asarray(npz[k], dtype=np.float32)
                    for k in npz.files
                    if k.startswith("weight_")
                }
                site = {
                    k.removeprefix("site_"): np.asarray(npz[k], dtype=np.float32)
                    for k in npz.files
                    if k.startswith("site_")
                }
            if meta.get("format") != FORMAT:
                raise HeadError(f"the stored head has format {meta.get('format')!r}; retrain it")
            c = meta["curve"]
            curve = DistanceCurve(
                network=str(c["network"]),
                scoring=str(c["scoring"]),
                model=str(c["model"]),
                impostor_comparisons=int(c["impostor_comparisons"]),
                impostor_tail=tuple(float(v) for v in c["impostor_tail"]),
                genuine=tuple(float(v) for v in c["genuine"]),
                impostor_grid=tuple((float(t), int(n)) for t, n in c["impostor_grid"]),
            )
            head = cls(
                kind=str(meta["kind"]),
                weights=weights,
                network_checksum=str(meta["network_checksum"]),
                training_hash=str(meta["training_hash"]),
                people=int(meta["people"]),
                templates=int(meta["templates"]),
                created_at=str(meta["created_at"]),
                curve=curve,
                report=dict(meta.get("report", {})),
                site=site,
            )
        except HeadError:
            raise
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise HeadError(f"the stored head is damaged ({exc}); retrain it") from None
        shapes = {k: v.shape for k, v in head.weights.items()}
        expected_in = shapes.get("w", shapes.get("w1", (0, 0)))[1]
        if expected_in != EMBEDDING_SIZE:
            raise HeadError("the stored head does not take 128-d embeddings; retrain it")
        return head
