"""Plain data and policies: no Qt, torch, cv2 or SQLAlchemy here."""
