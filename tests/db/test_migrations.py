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


def test_downgrade_to_base_removes_every_table(database_url):
    from alembic import command

    from canary.migrations import alembic_config

    db = Database(database_url)
    db.upgrade()
    try:
        cfg = alembic_config(db.engine)
        with db.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "base")
        with db.engine.connect() as conn:
            left = set(inspect(conn).get_table_names()) & set(Base.metadata.tables)
        assert left == set()
    finally:
        db.dispose()
