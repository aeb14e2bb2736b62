"""Outbox: work that is not about one tip (Twilio deletes), a sealed payload, a claim

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("payload", sa.LargeBinary(), nullable=True))
        batch_op.add_column(
            sa.Column("claimed", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.alter_column("tip_id", existing_type=sa.Integer(), nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM outbox WHERE tip_id IS NULL")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.alter_column("tip_id", existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column("claimed")
        batch_op.drop_column("payload")
