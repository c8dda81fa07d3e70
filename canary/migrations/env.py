from alembic import context
from alembic.autogenerate import render as autogen_render
from sqlalchemy import create_engine
from sqlalchemy.types import TypeDecorator

import canary.models  # noqa: F401  (registers every table on Base.metadata)
from canary.db import Base

config = context.config
target_metadata = Base.metadata


def render_item(type_, obj, autogen_context):
    """Write our TypeDecorators as their database type, so that migrations never
    import application code that may later move or change."""
    if type_ == "type" and isinstance(obj, TypeDecorator):
        return autogen_render._repr_type(obj.impl, autogen_context)
    return False


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        engine = create_engine(config.get_main_option("sqlalchemy.url"))
        with engine.begin() as connection:
            _run(connection)
    else:
        _run(connection)


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
        render_item=render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
