"""The enrollment database and the access log: SQLAlchemy models, repositories, unit of
work, Alembic migrations (in ``db/``) and encryption of biometric data at rest."""
