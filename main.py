"""Entry point: ``python main.py ...`` is the same as the installed ``kiosk`` command."""

from kiosk.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
