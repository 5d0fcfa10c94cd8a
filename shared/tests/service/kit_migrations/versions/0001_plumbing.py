"""The shared tables only: what every service's first revision creates."""

from alembic import op

from cityloop_shared.store.tables import metadata

revision = "0001"
down_revision = None


def upgrade() -> None:
    metadata.create_all(op.get_bind())
