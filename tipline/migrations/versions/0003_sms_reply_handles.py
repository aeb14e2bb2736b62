"""SMS reply handles: the tipster's number sealed under the relay key

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reply_handles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tip_id", sa.Integer(), nullable=False),
        sa.Column("sealed_number", sa.LargeBinary(), nullable=False),
        sa.Column("last_message_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tip_id"], ["tips.id"], name=op.f("fk_reply_handles_tip_id_tips"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reply_handles")),
    )
    with op.batch_alter_table("reply_handles", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reply_handles_tip_id"), ["tip_id"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("reply_handles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reply_handles_tip_id"))
    op.drop_table("reply_handles")
