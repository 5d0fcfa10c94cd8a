"""The shared tables and disposal's own."""

from alembic import op

from cityloop_disposal.tables import metadata
from cityloop_shared.store.tables import metadata as shared_metadata

revision = "0001"
down_revision = None


def upgrade() -> None:
    shared_metadata.create_all(op.get_bind())
    metadata.create_all(op.get_bind())
