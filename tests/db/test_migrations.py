"""The Alembic migrations, not create_all, own the schema; they must match the models."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

import canary.models  # noqa: F401
from canary.db import Base, Database


def test_upgrade_creates_every_table_and_matches_the_models(database_url):
    db = Database(database_url)
    db.upgrade()
    try:
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
            tables = set(inspect(conn).get_table_names())
        assert set(Base.metadata.tables) <= tables
        assert diff == [], f"models and migrations differ: {diff}"
    finally:
        db.dispose()


def test_upgrade_is_idempotent(database_url):
    db = Database(database_url)
    db.upgrade()
    db.upgrade()
    db.dispose()
