"""event: drop the caller-hash indexes, which no query filters on

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 09:40:00

Attribution reads callers' hashes as columns of events it has already selected by
time and number; nothing looks events up by caller. The two indexes had random keys
of 64 characters, so every stored webhook rewrote two more index pages.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.drop_index("ix_event_caller_hash", table_name="event")
    op.drop_index("ix_event_caller_block_hash", table_name="event")


def downgrade() -> None:
    """Downgrade schema."""
    op.create_index("ix_event_caller_block_hash", "event", ["caller_block_hash"], unique=False)
    op.create_index("ix_event_caller_hash", "event", ["caller_hash"], unique=False)
