"""The liveness check's part of the kiosk's loop: once the frames name an allowed person,
the check has the last word, asked at every frame while it is pending (the prompt sent
again while it stays the same), and a picture swapped for another enrolled person's
under it is noticed. Mixed into :class:`~kiosk.services.kiosk_loop.KioskLoop` (it uses
the loop's liveness check, clock, pace, messages and :meth:`_conclude`).
"""

from __future__ import annotations

from collections.abc import Callable

from kiosk.domain.access import Decision, Person
from kiosk.domain.policy import DecisionPace
from kiosk.services.attempt import Attempt, Pending
from kiosk.services.loop_messages import LivenessPrompt, LoopMessage
from kiosk.services.loop_ports import LivenessCheck

#: A liveness prompt is sent again this often while it stays the same.
PROMPT_REPEAT_SECONDS = 1.0


class LivenessStep:
    """:meth:`_ask_liveness` and :meth:`_face_changed` of the loop."""

    liveness: LivenessCheck
    pace: DecisionPace
    clock: Callable[[], float]
    emit: Callable[[LoopMessage], None]

    def _conclude(
        self,
        attempt: Attempt,
        decision: Decision,
        message: str,
        person: Person | None,
        distance: float,
        *,
        detail: str = "",
        log_person: Person | None = None,
        over: bool = False,
        replaced: bool = False,
    ) -> None:
        raise NotImplementedError

    def _face_changed(self, attempt: Attempt, pending: Pending) -> bool:
        """Under the liveness check, most of the last frames (as many as a decision
        takes) name another enrolled person: a picture swapped. A frame that names nobody
        does not count: a head turned 25 to 45 degrees is often not recognised against
        frontal templates, and the check follows the face's identity itself (box
        continuity, near-frontal frames against the matched ones: kiosk.liveness.identity)."""
        recent = attempt.recognitions[pending.since :][-self.pace.max_frames :]
        others = sum(r.label is not None and r.label != pending.person.id for r in recent)
        return len(recent) >= self.pace.max_frames and 2 * others > len(recent)

    def _ask_liveness(self, attempt: Attempt, person: Person, distance: float) -> None:
        """The frames name an allowed person: the liveness check has the last word. Asked
        at every frame while it is pending; there is no way around it."""
        verdict = self.liveness.assess()
        if verdict.pending:
            pending = attempt.pending
            if pending is None:
                pending = attempt.pending = Pending(person, distance, len(attempt.recognitions))
            now = self.clock()
            if verdict.prompt and (
                verdict.prompt != pending.prompt
                or now - pending.prompted_at >= PROMPT_REPEAT_SECONDS
            ):  # a check that asks nothing just keeps "checking"
                pending.prompt, pending.prompted_at = verdict.prompt, now
                self.emit(
                    LivenessPrompt(verdict.prompt, person.name, verdict.move or "", attempt.id)
                )
            return
        if verdict.live:  # the log says how the check passed (one clear turn or two)
            self._conclude(
                attempt,
                Decision.ALLOWED,
                f"Welcome, {person.name}!",
                person,
                distance,
                detail=verdict.detail,
            )
        else:
            reason = verdict.reason or "Please look at the camera yourself."
            self._conclude(
                attempt, Decision.DENIED_SPOOF, reason, person, distance, detail=verdict.detail
            )
