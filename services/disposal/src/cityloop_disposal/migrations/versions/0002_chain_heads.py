"""Case rows keep the head of disposal's own chain of each case's events."""

from cityloop_shared.adapters.sql.revisions import add_chain_heads_to_cases

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    add_chain_heads_to_cases()
