"""The shared tables and intake's own, as first released."""

import sqlalchemy as sa
from alembic import op

from cityloop_shared.adapters.sql.revisions import create_shared_tables

revision = "0001"
down_revision = None


def upgrade() -> None:
    create_shared_tables()
    op.create_table(
        "reports",
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("category_kind", sa.String(length=16), nullable=True),
        sa.Column("category_code", sa.String(length=5), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("grid_code", sa.String(length=15), nullable=False),
        sa.Column("address", sa.String(length=500), nullable=True),
        sa.Column("description", sa.String(length=4000), nullable=False),
        sa.Column("media_url", sa.String(length=2000), nullable=True),
        sa.Column("token", sa.String(length=64), nullable=True),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("case_id"),
        sa.UniqueConstraint("token"),
    )
    op.create_index("reports_recent_nearby", "reports", ["reported_at", "lat", "lon"], unique=False)
