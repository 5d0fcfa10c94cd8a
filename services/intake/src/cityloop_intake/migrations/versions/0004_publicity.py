"""A report keeps the supervision centre's word on showing its case to the public
(``publicity.decided``); no report had one before, so every existing row starts with none."""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    with op.batch_alter_table("reports") as batch:
        batch.add_column(sa.Column("published", sa.Boolean(), nullable=True))
