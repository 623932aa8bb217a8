"""Liveness: a photo or a phone screen held up to the camera must not open the door.

Pure logic over the five facial landmarks, the face box, the embeddings and the pixels of
the frames of one attempt; numpy and OpenCV, no Qt, no models of its own.

- :mod:`kiosk.liveness.geometry`: the landmark cues. A flat picture moves as one plane,
  so one homography maps its eyes and mouth corners from frame to frame and predicts its
  nose exactly; a live head's nose moves off that prediction when it turns (parallax),
  and its five points fit a rigid head better than a plane.
- :mod:`kiosk.liveness.texture`: the pixel cues. The face's texture under the best
  homography (a picture fits one, a head does not), and the room around the head (it
  stays where it was while a head turns; a picture's own background moves with its face).
- :mod:`kiosk.liveness.evidence`: the cues of one turned frame combined into one score,
  with weights fitted on measured frames (``python -m tools.liveness.fit``).
- :mod:`kiosk.liveness.challenge`: the active challenge, random turns with a time limit.
- :mod:`kiosk.liveness.identity`: the same face from the matched frames to the end of the
  challenge (box continuity, near-frontal embeddings at the configured threshold).
- :mod:`kiosk.liveness.cues`: the border cue, a picture's straight edges framing the face.
- :mod:`kiosk.liveness.check`: the checks the kiosk loop uses (``make_liveness`` for the
  ``[liveness]`` mode: active by default, passive, off). While a challenge runs,
  ``assess`` answers *pending* with the prompt (``prompt``: words, ``move``: the arrow).

Made attacks and the measurement are research tools outside the package
(``tools/liveness``: ``python -m tools.liveness.evaluate`` from the repository's root).
"""
