"""Storage ports and their SQLAlchemy Core adapters (SQLite, PostgreSQL); Alembic migrations."""
