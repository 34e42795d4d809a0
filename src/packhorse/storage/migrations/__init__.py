"""Alembic migration scripts. One history for SQLite and PostgreSQL."""
