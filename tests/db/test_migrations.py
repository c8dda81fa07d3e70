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


def _upgrade_in_a_process(database_url: str, start, results) -> None:
    start.wait()
    try:
        db = Database(database_url)
        db.upgrade()
        db.dispose()
        results.put("ok")
    except Exception as exc:  # reported to the test, which names it
        results.put(f"{type(exc).__name__}: {exc}")


def test_processes_starting_together_upgrade_one_at_a_time(database_url):
    # gunicorn workers after a deploy: each upgrades as it starts, all at once.
    import multiprocessing

    spawn = multiprocessing.get_context("spawn")
    start, results = spawn.Event(), spawn.Queue()
    processes = [
        spawn.Process(target=_upgrade_in_a_process, args=(database_url, start, results))
        for _ in range(4)
    ]
    for process in processes:
        process.start()
    start.set()
    outcomes = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(30)
    assert outcomes == ["ok"] * 4
