"""tips.priority_rank: the priority as a number, stored, indexed for the queue's sort

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

RANK = (
    "CASE priority WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 WHEN 'normal' THEN 2 "
    "WHEN 'low' THEN 3 ELSE 4 END"
)


def upgrade() -> None:
    # Rewrites the table (seconds per million tips) under a lock: run it in a quiet hour.
    with op.batch_alter_table("tips", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "priority_rank",
                sa.SmallInteger(),
                sa.Computed(RANK, persisted=True),
                nullable=True,
            )
        )
        batch_op.create_index(
            "ix_tips_priority_rank_received_at_id",
            ["priority_rank", "received_at", "id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("tips", schema=None) as batch_op:
        batch_op.drop_index("ix_tips_priority_rank_received_at_id")
        batch_op.drop_column("priority_rank")
