"""The configured liveness check inside the kiosk's recognition loop, with the real
pipeline and gallery: a photo held up and tilted as the screen asks is denied as a spoof
and recorded so; a live person's head turns open the door; mode off lets the face in."""

from __future__ import annotations

import random
import re
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from kiosk.camera.frames import CameraStatus, Frame, FrameSlot
from kiosk.config import LivenessSettings, Settings
from kiosk.domain.access import AccessEvent, AccessSchedule, Decision, Person
from kiosk.domain.faces import FloatArray, ModelInfo
from kiosk.liveness.check import make_liveness
from kiosk.services.door import DoorRequest, DoorResult
from kiosk.services.kiosk_loop import Decided, KioskLoop, LivenessPrompt
from kiosk.vision.antispoof import PassiveScorer
from kiosk.vision.matcher import build_gallery
from kiosk.vision.networks import network
from tools.liveness.attacks import (
    Attacker,
    AttackKind,
    Camera,
    CameraEffects,
    Strategy,
    background,
    make_medium,
)
from tools.liveness.frames import load_photo
from tools.liveness.moves import FixedMoves

FPS = 8.0


class Store:
    """One enrolled person whose template is given; events are kept."""

    def __init__(self, template: FloatArray) -> None:
        self.template = template
        self.events: list[AccessEvent] = []

    def load_gallery(self, model: ModelInfo | None = None) -> tuple[FloatArray, list[int]]:
        return self.template[None, :], [1]

    def get_person(self, person_id: int) -> Person:
        return Person(1, "Ada Lovelace", "B1")

    def get_schedule(self, group: str) -> AccessSchedule | None:
        return None

    def record_event(self, event: AccessEvent) -> int:
        self.events.append(event)
        return len(self.events)

    def people_count(self, *, active_only: bool = False) -> int:
        return 1


class Door:
    def __init__(self) -> None:
        self.requests: list[DoorRequest] = []

    def open(self, request: DoorRequest) -> DoorResult:
        self.requests.append(request)
        return DoorResult(True, "opened")


def _loop(
    pipeline, template: FloatArray, liveness: LivenessSettings, rng: random.Random, passive=None
):  # type: ignore[no-untyped-def]
    # The most lenient threshold the network allows: these tests are about the liveness
    # check, so the rendered photo of the enrolled person must be recognised first (at the
    # door's own threshold SFace does not even match some renders: tested elsewhere).
    base = Settings(home=Path("/nonexistent"))
    # The clips' people turn on their own schedule, not at the prompt: the challenge must
    # start by the third frame (the kiosk's default waits for up to five).
    decision = replace(base.decision, max_frames=3)
    settings = replace(
        base,
        liveness=liveness,
        vision=replace(base.vision, threshold=1.3),
        decision=decision,
    )
    out: list[object] = []
    store, door = Store(template), Door()
    loop = KioskLoop(
        settings,
        FrameSlot(CameraStatus(True, "", "x", (640, 480, 30.0))),
        out.append,
        load_recognizer=lambda: pipeline,
        store=store,
        door=door,
        make_gallery=lambda e, labels: build_gallery(e, labels, settings.vision),
        liveness=make_liveness(
            settings.liveness,
            rng,
            identity_threshold=network(settings.vision.network).same_face,
            passive=passive,
        ),
    )
    loop.recognizer = pipeline
    loop._refresh_gallery(force=True)
    return loop, out, store, door


def test_a_photo_tilted_as_asked_is_denied_as_spoof_and_recorded(faces_dir: Path, pipeline) -> None:  # type: ignore[no-untyped-def]
    photo = load_photo(faces_dir / "deepface" / "Angelina" / "img1.jpg", pipeline)
    assert photo is not None
    # the challenge alone (the border cue, which may deny first, is tested below; the
    # passive model is not given to this loop): one try, since without either cue a
    # replay of the person's turns gets no second draw
    liveness = LivenessSettings(mode="active", time_limit_seconds=3.0, border_check=False)
    loop, out, store, door = _loop(pipeline, photo.template, liveness, random.Random(2))
    rng = random.Random(5)
    camera = Camera(480, 360)
    medium = make_medium(photo.rgb, photo.face, AttackKind.PHONE, rng)
    attacker = Attacker(camera, medium, Strategy.FOLLOW, rng)
    # tilted by 30 degrees: further, the detector loses the face and the attempt just ends
    attacker.amplitude = 30.0
    scene = background(480, 360, rng)
    effects = CameraEffects(rng, 480, 360)
    move, since = None, 0.0
    prompts: list[LivenessPrompt] = []
    for seq in range(1, int(FPS * 12)):  # two tries of 3 s each would fit
        t = seq / FPS
        pose = attacker.pose(t, move, since)
        frame = effects(camera.render(medium, pose, scene), t, pose)
        loop.step(Frame(seq, t, frame))
        prompts = [o for o in out if isinstance(o, LivenessPrompt)]
        if prompts and prompts[-1].move != move:  # the attacker reads the screen, follows it
            move = prompts[-1].move
            since = t
        if any(isinstance(o, Decided) for o in out):
            break
    assert move is not None, "the screen never asked for a move"
    decided = [o for o in out if isinstance(o, Decided)]
    assert decided and decided[0].decision is Decision.DENIED_SPOOF
    # no second try without the border cue or the passive model: the failed challenge
    # ends the attempt (or the picture, tilted far, was lost by the detector for over a
    # second: the check was not finished)
    assert not any(p.prompt.startswith("Once more: ") for p in prompts)
    assert decided[0].message in (
        "Please turn your head as shown.",
        "The liveness check was not finished. Please look at the camera and try again.",
    )
    assert [e.decision for e in store.events] == [Decision.DENIED_SPOOF]
    assert "liveness failed" in store.events[0].reason  # what staff read in the log
    assert "try 2" not in store.events[0].reason
    assert door.requests == []
    prompt = next(o for o in out if isinstance(o, LivenessPrompt))
    assert prompt.move in ("left", "right") and prompt.prompt.startswith(
        f"Turn your head {prompt.move}"
    )  # the arrow and the words agree


def _clip_frames(path: Path, start: float, seconds: float) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    native = cap.get(cv2.CAP_PROP_FPS) or 25.0
    frames, i = [], 0
    while True:
        ok, bgr = cap.read()
        if not ok or i / native > start + seconds:
            break
        if i / native >= start and len(frames) < (i / native - start) * FPS + 1:
            small = cv2.resize(bgr, (640, 360), interpolation=cv2.INTER_AREA)
            frames.append(np.ascontiguousarray(cv2.cvtColor(small, cv2.COLOR_BGR2RGB)))
        i += 1
    cap.release()
    return frames


@pytest.fixture(scope="module")
def passive_model():  # type: ignore[no-untyped-def]
    scorer = PassiveScorer()
    scorer.load()
    return scorer.score


@pytest.mark.parametrize("mode", ["active", "active-one", "active-one-no-model", "passive", "off"])
def test_a_live_person_turning_the_head_gets_in(
    mode: str, faces_dir: Path, pipeline, passive_model
) -> None:  # type: ignore[no-untyped-def]
    path = faces_dir / "video" / "liveness" / "genuine" / "krzysiek_real.mp4"
    if not path.is_file():
        pytest.skip(f"{path} is missing")
    frames = _clip_frames(path, 0.5, 4.5)  # still, then turns left, then right
    first = pipeline.analyze(frames[0])
    assert len(first) == 1
    # active: two turns (one_clear_turn off), through the loop; active-one: the default,
    # one clear turn is enough (at Normal, with the passive model's score confidently
    # real: MiniFASNet, real weights), and his clear turn left is; without the model,
    # both are asked
    one = mode.startswith("active-one")
    liveness = LivenessSettings(mode=mode.split("-")[0], count=2, one_clear_turn=one)
    loop, out, store, door = _loop(
        pipeline,
        first[0].embedding,
        liveness,
        FixedMoves("left", "right"),
        passive_model if mode == "active-one" else None,
    )
    for seq, rgb in enumerate(frames[1:], start=1):
        loop.step(Frame(seq, seq / FPS, rgb))
        if any(isinstance(o, Decided) for o in out):
            break
    decided = [o for o in out if isinstance(o, Decided)]
    assert decided and decided[0].decision is Decision.ALLOWED, store.events
    assert [e.decision for e in store.events] == [Decision.ALLOWED]
    assert len(door.requests) == 1
    prompts = [o.prompt for o in out if isinstance(o, LivenessPrompt)]
    # both moves are shown at once, then the one that is left
    if mode == "active-one":
        assert prompts[0] == "Turn your head left, then right"
        assert "Now turn your head right" not in prompts
        assert "passed on one clear turn" in store.events[0].reason  # for the auditors
        # what vouched for it: the passive model's mean, 0.9 or more
        assert re.search(r"passive model (0\.9\d|1\.00) over \d frames", store.events[0].reason)
    elif mode in ("active", "active-one-no-model"):
        assert prompts[0] == "Turn your head left, then right"
        assert "Now turn your head right" in prompts
        assert "passed; asked left, right; done 2/2" in store.events[0].reason
    else:
        assert prompts == []


def test_a_tablet_held_up_upright_is_denied_for_its_frame(faces_dir: Path, pipeline) -> None:  # type: ignore[no-untyped-def]
    photo = load_photo(faces_dir / "deepface" / "Angelina" / "img1.jpg", pipeline)
    assert photo is not None
    loop, out, store, door = _loop(
        pipeline, photo.template, LivenessSettings(mode="active"), random.Random(2)
    )
    rng = random.Random(11)
    camera = Camera(480, 360)
    medium = make_medium(photo.rgb, photo.face, AttackKind.TABLET, rng)
    attacker = Attacker(camera, medium, Strategy.HANDHELD, rng)
    attacker.face_px = 0.2 * camera.width  # the whole tablet in view
    attacker.z0 = camera.distance_for(medium, attacker.face_px)
    scene = background(480, 360, rng)
    effects = CameraEffects(rng, 480, 360)
    for seq in range(1, int(FPS * 3)):
        t = seq / FPS
        pose = attacker.pose(t, None, 0.0)
        frame = effects(camera.render(medium, pose, scene), t, pose)
        loop.step(Frame(seq, t, frame))
        if any(isinstance(o, Decided) for o in out):
            break
    decided = [o for o in out if isinstance(o, Decided)]
    assert decided and decided[0].decision is Decision.DENIED_SPOOF
    assert decided[0].message == "A photo or a screen was seen. Please look at the camera yourself."
    assert [e.decision for e in store.events] == [Decision.DENIED_SPOOF]
    assert "a picture's edges framed the face" in store.events[0].reason
    assert not any(isinstance(o, LivenessPrompt) for o in out)  # denied before any prompt
    assert door.requests == []
