"""Alembic migrations (a top-level folder, installed with the package)."""
