"""The liveness verdict: what a check that the face is a live person (not a photo or a
screen) says to the kiosk's loop. One type, shared by the checks (``kiosk.liveness``) and
the loop that acts on it (``kiosk.services.kiosk_loop``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LivenessVerdict:
    """What a liveness check says.

    ``live`` opens the way to the door. ``pending`` means not decided yet: keep
    observing and ask again; ``prompt`` (words) and ``move`` (``left``, ``right``, ``up``,
    ``down``, for an arrow) say what the person has to do now, ``step`` / ``steps`` how far
    they are. ``reason`` is for the person when not live; ``detail`` for staff (the
    access log): what was asked and measured."""

    live: bool
    reason: str = ""
    pending: bool = False
    prompt: str = ""
    move: str | None = None
    step: int = 0
    steps: int = 0
    detail: str = ""


#: every face is live (liveness off)
LIVE = LivenessVerdict(True)


class NoLiveness:
    """The check of mode ``off``: every face is live."""

    def observe(self, frame: object, face: object) -> None:
        pass

    def assess(self) -> LivenessVerdict:
        return LIVE

    def reset(self) -> None:
        pass

    def abandon(self) -> LivenessVerdict | None:
        return None
