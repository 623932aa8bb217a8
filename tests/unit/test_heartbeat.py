"""The kiosk's heartbeat (issue 26): written at start, at each change of state and every
interval; the worst state wins; a database that cannot be written never stops the kiosk."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from kiosk.domain.kiosk_state import Heartbeat, KioskState, is_stale, state_of
from kiosk.services.heartbeat import KioskHeartbeat

T0 = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t

    def now(self) -> datetime:
        return T0 + timedelta(seconds=self.t)


def test_beats_at_start_on_change_and_every_interval() -> None:
    clock, beats = Clock(), []
    beat = KioskHeartbeat(
        "k1", beats.append, liveness_on=True, interval=5, clock=clock, now=clock.now
    )
    assert beat.tick() and not beat.tick()  # the start, then nothing new
    clock.t = 3
    beat.door(False, "door controller answered 503")
    assert beat.tick()  # a change: at once, not at the next interval
    clock.t = 7
    assert not beat.tick()
    clock.t = 8.1
    assert beat.tick()  # due again, same state
    beat.camera(False, "webcam 0 stopped delivering frames")  # worse than the door
    beat.decided(clock.now())
    assert beat.tick()
    beat.camera(True)
    beat.door(True)
    assert beat.tick()
    beat.stop()
    states = [b.state for b in beats]
    assert states == [
        KioskState.RUNNING,
        KioskState.DOOR_FAILING,
        KioskState.DOOR_FAILING,
        KioskState.CAMERA_LOST,
        KioskState.RUNNING,
        KioskState.STOPPED,
    ]
    assert beats[1].detail == "door controller answered 503"
    assert beats[2].since == beats[1].since == T0 + timedelta(seconds=3)  # since the change
    assert beats[3].detail == "webcam 0 stopped delivering frames"
    assert beats[3].last_decision_at == T0 + timedelta(seconds=8.1)
    assert beats[4].detail == ""


def test_a_heartbeat_that_cannot_be_written_is_tried_again_and_never_raises() -> None:
    clock, beats, fail = Clock(), [], [True]

    def write(b: Heartbeat) -> None:
        if fail[0]:
            raise OSError("database is locked")
        beats.append(b)

    beat = KioskHeartbeat("k1", write, liveness_on=False, interval=5, clock=clock, now=clock.now)
    assert not beat.tick()
    clock.t = 0.5
    assert not beat.tick()  # tried again within a second, not before
    clock.t = 1.1
    fail[0] = False
    assert beat.tick()
    assert [b.state for b in beats] == [KioskState.LIVENESS_OFF]


def test_the_worst_state_wins_and_stale_is_about_the_clock() -> None:
    assert state_of(camera_ok=False, door_ok=False, liveness_on=False) is KioskState.CAMERA_LOST
    assert state_of(camera_ok=True, door_ok=False, liveness_on=False) is KioskState.DOOR_FAILING
    assert state_of(camera_ok=True, door_ok=True, liveness_on=False) is KioskState.LIVENESS_OFF
    running = Heartbeat("k", KioskState.RUNNING, T0, T0, T0)
    assert not is_stale(running, T0 + timedelta(seconds=15), 15)
    assert is_stale(running, T0 + timedelta(seconds=15.1), 15)
    stopped = Heartbeat("k", KioskState.STOPPED, T0, T0, T0)
    assert not is_stale(stopped, T0 + timedelta(days=3), 15)
