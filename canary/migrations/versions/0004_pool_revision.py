"""pool_revision: a counter that triggers on contact_point keep, so that a process
can tell whether its copy of the pool is still current with one small query

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 20:30:00

Every process matched webhooks against an in-memory copy of the pool and read the
whole pool again every few seconds to see changes made elsewhere: with 1,000 numbers
that read cost 17 ms of a worker's time each time. The triggers count every change to
the columns the copy holds; a process reads the count instead, and the pool only when
the count moved.

On SQLite, a later batch migration that rebuilds contact_point (copy, drop, rename)
drops these triggers with the old table and must create them again; the pool tests
check the triggers on the upgraded schema.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# What pool._snapshot keeps of each number, besides its id.
WATCHED = "country, state, quarantine_until, value_hash, forwards_to_hash"
BUMP = "UPDATE pool_revision SET revision = revision + 1 WHERE id = 1"


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "pool_revision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pool_revision")),
    )
    op.execute("INSERT INTO pool_revision (id, revision) VALUES (1, 0)")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION canary_bump_pool_revision() RETURNS trigger LANGUAGE plpgsql "
            f"AS $$ BEGIN {BUMP}; RETURN NULL; END $$"
        )
        op.execute(
            "CREATE TRIGGER contact_point_pool_revision AFTER INSERT OR DELETE OR UPDATE OF "
            f"{WATCHED} ON contact_point FOR EACH STATEMENT "
            "EXECUTE FUNCTION canary_bump_pool_revision()"
        )
    else:
        for name, event in (
            ("insert", "INSERT"),
            ("delete", "DELETE"),
            ("update", f"UPDATE OF {WATCHED}"),
        ):
            op.execute(
                f"CREATE TRIGGER contact_point_pool_revision_{name} AFTER {event} "
                f"ON contact_point BEGIN {BUMP}; END"
            )


def downgrade() -> None:
    """Downgrade schema."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER contact_point_pool_revision ON contact_point")
        op.execute("DROP FUNCTION canary_bump_pool_revision()")
    else:
        for name in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER contact_point_pool_revision_{name}")
    op.drop_table("pool_revision")
