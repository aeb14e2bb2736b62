"""tipster follow-up: passphrase lookup id and a reply-waiting flag

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tips", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tipster_lookup", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("reply_waiting", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.create_unique_constraint(batch_op.f("uq_tips_tipster_lookup"), ["tipster_lookup"])


def downgrade() -> None:
    with op.batch_alter_table("tips", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_tips_tipster_lookup"), type_="unique")
        batch_op.drop_column("reply_waiting")
        batch_op.drop_column("tipster_lookup")
