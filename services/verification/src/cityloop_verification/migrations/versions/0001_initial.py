"""The shared tables and verification's own."""

from alembic import op

from cityloop_shared.store.tables import metadata as shared_metadata
from cityloop_verification.tables import metadata

revision = "0001"
down_revision = None


def upgrade() -> None:
    shared_metadata.create_all(op.get_bind())
    metadata.create_all(op.get_bind())
