"""Writes the kiosk's two short sounds (run once; the WAV files are committed).

``allowed.wav``: two rising tones; ``denied.wav``: one low buzz. 16-bit mono, 22050 Hz."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

RATE = 22050


def tone(freq: float, seconds: float, shape: str = "sine") -> np.ndarray:
    t = np.arange(int(RATE * seconds)) / RATE
    wave_ = np.sin(2 * np.pi * freq * t)
    if shape == "square":
        wave_ = np.sign(wave_) * 0.5
    fade = np.minimum(1.0, np.minimum(t, t[::-1]) / 0.01)  # no clicks
    return wave_ * fade


def write(path: Path, samples: np.ndarray) -> None:
    data = (np.clip(samples, -1, 1) * 0.6 * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(data.tobytes())


if __name__ == "__main__":
    here = Path(__file__).parent / "sounds"
    write(here / "allowed.wav", np.concatenate([tone(660, 0.12), tone(990, 0.2)]))
    write(here / "denied.wav", tone(220, 0.45, "square"))
