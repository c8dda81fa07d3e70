"""event.evidence_pending: events stored before their evidence-log entry is appended

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 07:05:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    # Existing events already have their entries (intake appended them in-transaction).
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("evidence_pending", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.create_index(
            batch_op.f("ix_event_evidence_pending"), ["evidence_pending"], unique=False
        )
    # Events whose in-transaction append failed were flagged in their detail instead.
    event = sa.table("event", sa.column("detail", sa.Text), sa.column("evidence_pending"))
    op.execute(
        event.update()
        .where(sa.cast(event.c.detail, sa.Text).like('%"evidence_pending": true%'))
        .values(evidence_pending=sa.true())
    )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_event_evidence_pending"))
        batch_op.drop_column("evidence_pending")
