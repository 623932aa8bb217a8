"""A stand-in for the challenge's random draw: a genuine answer, a replay or a test is
built for a known challenge, so the moves are given, not drawn."""

from __future__ import annotations

import random
from typing import Any


class FixedMoves(random.Random):
    """Draws the given moves (``"left"``, ``"right"``, ...) in order, one per draw;
    pass it as the ``rng`` of :class:`kiosk.liveness.check.ActiveLiveness`."""

    def __init__(self, *moves: str) -> None:
        super().__init__(0)
        self._moves = list(moves)

    def choice(self, seq: Any) -> Any:
        if not self._moves:  # more draws than given (a new try): a fixed, seeded choice
            return super().choice(seq)
        name = self._moves.pop(0)
        return next(m for m in seq if m.value == name)
