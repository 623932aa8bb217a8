"""Face-recognition access-control kiosk."""

__version__ = "0.1.0"
