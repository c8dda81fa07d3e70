"""initial schema (placeholder during initial development; regenerated before release)

Revision ID: 0001
Revises:
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    import canary.models  # noqa: F401
    from canary.db import Base

    Base.metadata.create_all(op.get_bind())


def downgrade() -> None:
    import canary.models  # noqa: F401
    from canary.db import Base

    Base.metadata.drop_all(op.get_bind())
