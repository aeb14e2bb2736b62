"""Workflow: assignee, first-triage and close times, SLA breach flag, tags, links

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tips", schema=None) as batch_op:
        batch_op.add_column(sa.Column("assignee_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("triaged_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("sla_breached", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_tips_assignee_id_staff"),
            "staff",
            ["assignee_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_index(batch_op.f("ix_tips_assignee_id"), ["assignee_id"], unique=False)
        # The queue's default order and its keyset pagination.
        batch_op.create_index("ix_tips_received_at_id", ["received_at", "id"], unique=False)
    op.create_table(
        "tip_tags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tip_id", sa.Integer(), nullable=False),
        sa.Column("tag", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["tip_id"], ["tips.id"], name=op.f("fk_tip_tags_tip_id_tips"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tip_tags")),
        sa.UniqueConstraint("tip_id", "tag", name=op.f("uq_tip_tags_tip_id")),
    )
    with op.batch_alter_table("tip_tags", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tip_tags_tag"), ["tag"], unique=False)
        batch_op.create_index(batch_op.f("ix_tip_tags_tip_id"), ["tip_id"], unique=False)
    op.create_table(
        "tip_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tip_id", sa.Integer(), nullable=False),
        sa.Column("linked_tip_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["tip_id"], ["tips.id"], name=op.f("fk_tip_links_tip_id_tips"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["linked_tip_id"],
            ["tips.id"],
            name=op.f("fk_tip_links_linked_tip_id_tips"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tip_links")),
        sa.UniqueConstraint("tip_id", "linked_tip_id", name=op.f("uq_tip_links_tip_id")),
    )
    with op.batch_alter_table("tip_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tip_links_tip_id"), ["tip_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_tip_links_linked_tip_id"), ["linked_tip_id"], unique=False
        )


def downgrade() -> None:
    op.drop_table("tip_links")
    op.drop_table("tip_tags")
    with op.batch_alter_table("tips", schema=None) as batch_op:
        batch_op.drop_index("ix_tips_received_at_id")
        batch_op.drop_index(batch_op.f("ix_tips_assignee_id"))
        batch_op.drop_constraint(batch_op.f("fk_tips_assignee_id_staff"), type_="foreignkey")
        batch_op.drop_column("sla_breached")
        batch_op.drop_column("triaged_at")
        batch_op.drop_column("closed_at")
        batch_op.drop_column("assignee_id")
