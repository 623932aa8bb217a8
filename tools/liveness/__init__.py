"""Research tools for the liveness check, not shipped with the kiosk.

- :mod:`tools.liveness.attacks`: made presentation attacks (prints, bent prints, phones,
  tablets held up to a modelled camera, moved by an attacker who follows the prompt);
- :mod:`tools.liveness.frames`: photos and clips through the real pipeline, as the check
  sees them;
- :mod:`tools.liveness.moves`: a challenge's moves given instead of drawn;
- :mod:`tools.liveness.evaluate`: the measurement (``python -m tools.liveness.evaluate``
  from the repository's root).
"""
