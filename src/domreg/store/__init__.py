"""Persistence: SQLAlchemy Core tables, Alembic migrations, the database engine and query helpers."""
