"""Badge + face mode for the kiosk's loop: a badge read by a card reader (a keyboard wedge)
or typed on the screen's keypad names the person whose face is then checked 1:1. Mixed
into :class:`~kiosk.services.kiosk_loop.KioskLoop` (it uses the loop's attempt, store,
settings and announcer)."""

from __future__ import annotations

from collections.abc import Callable

from kiosk.config import Settings
from kiosk.domain.access import Decision, Person
from kiosk.services import loop_messages as words
from kiosk.services.announce import Announcer
from kiosk.services.attempt import Attempt, BadgeInbox, Claim
from kiosk.services.loop_messages import BadgeRead, LoopMessage
from kiosk.services.loop_ports import AccessStore


class BadgeMode:
    """The loop's badge half: :meth:`claim` (from any thread) and, at each frame,
    :meth:`_take_badges`."""

    settings: Settings
    store: AccessStore
    announcer: Announcer
    attempt: Attempt | None
    emit: Callable[[LoopMessage], None]
    _claim: Claim | None
    _badges: BadgeInbox

    def _end_attempt(self, *, face_left: bool = True) -> None:
        raise NotImplementedError

    @property
    def badge_mode(self) -> bool:
        return self.settings.decision.mode == "badge+face"

    def claim(self, badge: str) -> None:
        """Badge + face mode: a badge number (or PIN) was read or typed at the screen.
        Thread-safe; the loop takes it up at its next frame."""
        self._badges.put(badge)

    def _take_badges(self, now: float) -> None:
        """Badges typed since the last frame (the last one counts), and a badge whose
        face did not come in time."""
        badge = self._badges.latest()
        claim, attempt = self._claim, self.attempt
        face_came = attempt is not None and bool(attempt.recognitions)
        if badge is None and claim is not None and now > claim.until and not face_came:
            self._badge_denied(
                words.NO_FACE_MESSAGE, claim.person, f"badge {claim.badge!r}: no face in time"
            )
        if badge is None or not self.badge_mode:
            return
        person = self.store.person_by_badge(badge)
        if person is None:
            self._badge_denied(words.UNKNOWN_BADGE_MESSAGE, None, f"unknown badge {badge!r}")
            return
        seconds = self.settings.decision.badge_seconds
        if attempt is not None and attempt.outcome is not None and not attempt.spoofed:
            self._end_attempt()  # a new badge is a new attempt for the same face
        self._claim = Claim(person, badge, now + seconds)
        if self.attempt is not None and not self.attempt.recognitions:
            self.attempt.since = now  # the face waited for the badge: time it from here
        self.emit(BadgeRead(seconds))

    def _badge_denied(self, message: str, holder: Person | None, detail: str) -> None:
        """A badge that names nobody, or whose face did not come: denied, logged (with
        the badge's holder, for staff), shown to whoever is in front of the kiosk."""
        attempt = self.attempt
        self._claim = None
        self.announcer.announce(
            Decision.DENIED_UNKNOWN,
            message,
            None,
            float("nan"),
            attempt=attempt.id if attempt is not None else None,
            over=attempt is None,
            since_face_ms=None,
            detail=detail,
            log_person=holder,
        )
