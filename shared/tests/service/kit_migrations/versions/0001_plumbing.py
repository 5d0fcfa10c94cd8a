"""The shared tables only: what every service's first revision creates."""

from cityloop_shared.store.schema import create_shared_tables

revision = "0001"
down_revision = None


def upgrade() -> None:
    create_shared_tables()
