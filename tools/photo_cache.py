"""The photo caches of the research tools: something computed from each photo file's main
face, kept on disk between runs (:class:`PhotoCache`), and the main-face embeddings of one
pipeline (:class:`EmbeddingCache`), as the photos are or as a mono door camera with side
light would see them (``LOOKS``). Used by ``tools.openset``, ``tools.calibrate`` and
``tools.adapt_eval``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from kiosk.domain.faces import DetectedFace
from kiosk.errors import KioskError
from kiosk.vision.imageio import read_image
from kiosk.vision.pipeline import FacePipeline, main_face_index
from kiosk.vision.weights import cache_dir


def _grey_side_light(rgb: np.ndarray, key: str) -> np.ndarray:
    """A mono door camera with light from one side: grey, and the brightness falling from
    full on one side of the image to 35 % on the other (the side drawn from the file)."""
    grey = rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    ramp = np.linspace(1.0, 0.35, rgb.shape[1], dtype=np.float32)
    if sum(key.encode()) % 2:
        ramp = ramp[::-1]
    out = np.clip(grey * ramp[None, :], 0, 255).astype(np.uint8)
    return np.repeat(out[:, :, None], 3, axis=2)


#: how the photos are shown to the pipeline: as they are, or as a mono camera with side
#: light would see them (``--look grey-side-light``)
LOOKS = {"photo": lambda rgb, key: rgb, "grey-side-light": _grey_side_light}


class PhotoCache:
    """Something computed from each photo file's main face (``compute``), kept on disk
    between runs in one ``.npz`` file; ``None`` for a photo without a face."""

    #: the name of the array in the file, and the shape of one photo's value
    ARRAY = "embeddings"
    SHAPE: tuple[int, ...] = (128,)

    def __init__(self, pipeline: FacePipeline, max_side: int, faces: Path, file: Path) -> None:
        self.pipeline = pipeline
        self.max_side = max_side
        self.faces = faces
        self.file = file
        self.cache: dict[str, np.ndarray | None] = {}
        if self.file.is_file():
            with np.load(self.file, allow_pickle=False) as data:
                keys, values, found = data["keys"], data[self.ARRAY], data["found"]
                for k, e, f in zip(keys, values, found, strict=True):
                    self.cache[str(k)] = e if f else None
        self.dirty = False

    def key(self, path: Path) -> str:
        st = path.stat()
        return f"{path.relative_to(self.faces)}:{st.st_size}:{st.st_mtime_ns}"

    def compute(self, rgb: np.ndarray, face: DetectedFace, key: str) -> np.ndarray:
        raise NotImplementedError

    def look(self, rgb: np.ndarray, key: str) -> np.ndarray:
        """The photo as the pipeline is shown it (as it is, by default)."""
        return rgb

    def get(self, path: Path) -> np.ndarray | None:
        k = self.key(path)
        if k not in self.cache:
            value = None
            try:
                rgb = self.look(read_image(path, self.max_side).rgb, k)
                faces = self.pipeline.detect(rgb)
                idx = main_face_index(faces, rgb.shape[1], rgb.shape[0])
                if idx is not None:
                    value = self.compute(rgb, faces[idx], k)
            except KioskError:
                pass
            self.cache[k] = value
            self.dirty = True
        return self.cache[k]

    def save(self) -> None:
        if not self.dirty:
            return
        keys = sorted(self.cache)
        zero = np.zeros(self.SHAPE, np.float32)
        rows: list[np.ndarray] = []
        for k in keys:
            value = self.cache[k]
            rows.append(zero if value is None else value)
        values = np.stack(rows).astype(np.float32)
        found = np.array([self.cache[k] is not None for k in keys])
        self.file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.file.with_name(self.file.stem + ".tmp.npz")
        arrays = {"keys": np.array(keys), "found": found, self.ARRAY: values}
        np.savez(tmp, **arrays)  # type: ignore[arg-type]
        os.replace(tmp, self.file)
        self.dirty = False


class EmbeddingCache(PhotoCache):
    """Main-face embeddings of photo files for one pipeline (and one ``look``)."""

    def __init__(
        self, pipeline: FacePipeline, max_side: int, faces: Path, look: str = "photo"
    ) -> None:
        info = pipeline.model_info
        suffix = "" if look == "photo" else f"-{look}"
        name = f"{info.name}-{info.version}-{info.checksum[:12]}{suffix}.npz"
        super().__init__(pipeline, max_side, faces, cache_dir() / "eval" / name)
        self.look_name = look

    def look(self, rgb: np.ndarray, key: str) -> np.ndarray:
        return LOOKS[self.look_name](rgb, key)

    def compute(self, rgb: np.ndarray, face: DetectedFace, key: str) -> np.ndarray:
        return self.pipeline.analyze(rgb, [face])[0].embedding
