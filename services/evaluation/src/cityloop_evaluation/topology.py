"""What evaluation (综合评价) follows: every case event of its site, and of the other level —
at a district, the city's events about the district's cases; at the city, every event of
its districts (mirrored to the city's cluster by sync), so city-wide results count every
district. It emits nothing: it judges."""

from cityloop_shared.contract.registry import EVENT_TYPES
from cityloop_shared.contract.topics import Stage
from cityloop_shared.contract.topology import Topology

TOPOLOGY = Topology(
    stage=Stage.EVALUATION,
    follows=frozenset(EVENT_TYPES.values()),
    emits=frozenset(),
    follows_from_city=frozenset(EVENT_TYPES.values()),
    follows_from_districts=frozenset(EVENT_TYPES.values()),
)
