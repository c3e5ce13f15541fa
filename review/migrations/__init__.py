"""Alembic migrations of the review database; run by review.db.migrate()."""
