"""Statistics: the exact rollup (filled from the tips already there) and the release ledger

Revision ID: 0007
Revises: 0006
"""

from collections import Counter

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

KEY = ("received_at", "zone", "category", "channel", "priority", "status", "disposition")


def upgrade() -> None:
    op.create_table(
        "stats_rollup",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("zone", sa.String(length=64), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("priority", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("disposition", sa.String(length=32), nullable=False),
        sa.Column("tips", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stats_rollup")),
        sa.UniqueConstraint(*KEY, name="uq_stats_rollup_key"),
    )
    op.create_table(
        "stats_releases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("made_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("k", sa.Integer(), nullable=False),
        sa.Column("rounding", sa.Boolean(), nullable=False),
        sa.Column("scheme", sa.Integer(), nullable=False),
        sa.Column("published", sa.Integer(), nullable=False),
        sa.Column("withheld", sa.Integer(), nullable=False),
        sa.Column("by_audit", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stats_releases")),
        sa.UniqueConstraint("month", name=op.f("uq_stats_releases_month")),
    )
    op.create_table(
        "stats_release_tables",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("release_id", sa.Integer(), nullable=False),
        sa.Column("population", sa.String(length=80), nullable=False),
        sa.Column("grouping", sa.String(length=80), nullable=False),
        sa.Column("level", sa.String(length=8), nullable=False),
        sa.Column("cells", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["release_id"],
            ["stats_releases.id"],
            name=op.f("fk_stats_release_tables_release_id_stats_releases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stats_release_tables")),
        sa.UniqueConstraint(
            "release_id",
            "population",
            "grouping",
            "level",
            name=op.f("uq_stats_release_tables_release_id"),
        ),
    )
    with op.batch_alter_table("stats_release_tables", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_stats_release_tables_release_id"), ["release_id"], unique=False
        )
    _fill_rollup()


def _fill_rollup() -> None:
    """Count the tips already routed, as tipline.stats.rollup would have (self-contained:
    a migration must not change when the code it once ran with does)."""
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute(
            """
            INSERT INTO stats_rollup (received_at, zone, category, channel, priority, status,
                                      disposition, tips)
            SELECT date_trunc('hour', received_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC',
                   coalesce(zone, ''), category, channel, priority, status,
                   coalesce(disposition, ''), count(*)
            FROM tips
            WHERE status <> 'received'
            GROUP BY 1, 2, 3, 4, 5, 6, 7
            """
        )
        return
    # SQLite (the embedded demo: small): in Python, with SQLite's own datetime format.
    counts: Counter[tuple[str, ...]] = Counter()
    rows = bind.execute(
        sa.text(
            "SELECT received_at, zone, category, channel, priority, status, disposition "
            "FROM tips WHERE status <> 'received'"
        )
    )
    for received, zone, category, channel, priority, status, disposition in rows:
        hour = str(received)[:13] + ":00:00.000000"
        counts[(hour, zone or "", category, channel, priority, status, disposition or "")] += 1
    if counts:
        bind.execute(
            sa.text(
                "INSERT INTO stats_rollup (received_at, zone, category, channel, priority, "
                "status, disposition, tips) VALUES (:received_at, :zone, :category, "
                ":channel, :priority, :status, :disposition, :tips)"
            ),
            [{**dict(zip(KEY, key, strict=True)), "tips": n} for key, n in counts.items()],
        )


def downgrade() -> None:
    with op.batch_alter_table("stats_release_tables", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stats_release_tables_release_id"))
    op.drop_table("stats_release_tables")
    op.drop_table("stats_releases")
    op.drop_table("stats_rollup")
