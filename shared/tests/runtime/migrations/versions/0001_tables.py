"""The shared tables and the test stage's records, as the code defines them now."""

from alembic import op

from cityloop_shared.testing.contracts import create_tables

revision = "0001"
down_revision = None


def upgrade() -> None:
    create_tables(op.get_bind())
