"""Strangers on camera frames: what the door decides about people it has never enrolled,
on real video and on photos degraded as a door camera degrades them (issue 22).

- :mod:`tools.frames.seen`: the faces the kiosk decides on, in every clip, cached;
- :mod:`tools.frames.calibrate`: the frame distance curve shipped beside the photo one;
- :mod:`tools.frames.strangers`: the per-attempt evaluation through the kiosk's loop.
"""
