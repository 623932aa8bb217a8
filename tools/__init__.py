"""Research and measurement tools: run from the repository root as ``python -m tools.X``.
Not part of the shipped ``kiosk`` package, and the tests do not import them."""
