"""Shared, slow-to-read real data for the liveness tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.liveness.frames import Seen, read_clip


@pytest.fixture(scope="session")
def krzysiek(faces_dir: Path, pipeline) -> tuple[str, list[Seen]]:  # type: ignore[no-untyped-def]
    """The genuine clip of a man turning his head left and right, through the real
    pipeline at 8 frames a second (every frame embedded, as the kiosk does)."""
    path = faces_dir / "video" / "liveness" / "genuine" / "krzysiek_real.mp4"
    if not path.is_file():
        pytest.skip(f"{path} is missing")
    return path.name, read_clip(pipeline, path, 8.0, embed_every=1)
