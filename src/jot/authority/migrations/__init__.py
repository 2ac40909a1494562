"""Alembic migrations of the authority's schema."""
