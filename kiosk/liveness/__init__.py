"""Liveness: a photo or a phone screen held up to the camera must not open the door.

Pure logic over the five facial landmarks, the embeddings and the pixels of the frames of
one attempt; numpy and OpenCV, no Qt, no models of its own.

- :mod:`kiosk.liveness.geometry`: the 3-D motion test. A flat picture moves as one plane,
  so one homography maps its eyes and mouth corners from frame to frame and predicts its
  nose exactly; a live head's nose moves off that prediction when it turns (parallax).
- :mod:`kiosk.liveness.challenge`: the active challenge, random moves with a time limit.
- :mod:`kiosk.liveness.cues`: the passive border cue, a picture's straight edges framing
  the face (needs the frame's pixels, not just the landmarks).
- :mod:`kiosk.liveness.check`: the checks the kiosk loop uses (``make_liveness`` for the
  ``[liveness]`` mode: off, passive, active). While a challenge runs, ``assess`` answers
  *pending* with the prompt (``prompt``: words, ``move``: the arrow's direction).
- :mod:`kiosk.liveness.attacks` and :mod:`kiosk.liveness.evaluate`: made attacks and the
  measurement (``python -m kiosk.liveness.evaluate``), not used by the kiosk itself.
"""
