"""Alembic migrations, run programmatically so no alembic.ini is needed at run time."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine

HERE = Path(__file__).resolve().parent


def alembic_config(engine: Engine | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    if engine is not None:
        cfg.set_main_option(
            "sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%")
        )
        cfg.attributes["engine"] = engine
    return cfg


# The PostgreSQL advisory lock that queues upgrades (any fixed number: "canary").
UPGRADE_LOCK_KEY = 0x63616E617279


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision``, one process at a time.

    Every gunicorn worker upgrades as it starts. After a deploy that brings a new
    migration they start together, and two running the same DDL at once made one
    fail to boot ("table already exists"), which stops gunicorn. Each waits its turn:
    on SQLite for the file lock that queues writers, on PostgreSQL for an advisory
    lock held until its transaction ends. The ones after the first find nothing to do.
    """
    from canary.db import sqlite_writer_turn

    cfg = alembic_config(engine)
    url = engine.url.render_as_string(hide_password=False)
    with sqlite_writer_turn(url), engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({UPGRADE_LOCK_KEY})")
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
