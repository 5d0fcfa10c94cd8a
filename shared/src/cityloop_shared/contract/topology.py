"""What each stage follows and emits: declared once in each service, published from there.

A stage *follows* the event types it acts on and *emits* the ones it decides. Its consumer
reads only the topics of the stages that emit what it follows and drops every other type
by the record's type header, before decoding; the lifecycle view it judges events by is
the one case state machine seen through what it applies (:class:`LifecycleView`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from .envelope import CaseEvent
from .lifecycle import LifecycleView
from .registry import EVENT_TYPES
from .sites import SiteLevel, other_level, site_level
from .topics import Stage, event_topic
from .values import ClockStep


@dataclass(frozen=True)
class Topology:
    stage: Stage
    follows: frozenset[type[CaseEvent]]
    emits: frozenset[type[CaseEvent]]
    clocks: frozenset[ClockStep] = frozenset()
    """The steps whose time limits this stage watches (its clock scan signals them)."""
    follows_from_city: frozenset[type[CaseEvent]] = frozenset()
    """What the stage reads, at a district, from its city's topics (which sync mirrors to the
    district's cluster with the district's cases only): the city's hand-offs and progress."""
    follows_from_districts: frozenset[type[CaseEvent]] = frozenset()
    """What the stage reads, at the city, from its districts' topics (mirrored to the city's
    cluster by sync): the districts' hand-offs."""
    view: LifecycleView = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        wrong = sorted(m.type_name() for m in self.emits if self.stage not in m.emitted_by)
        if wrong:
            raise ValueError(
                f"{self.stage} declares it emits {wrong}, which its topic may not carry"
            )
        own = sorted(m.type_name() for m in self.follows if m.emitted_by == {self.stage})
        if own:
            raise ValueError(f"{self.stage} follows {own}, which only it emits: it applies them")
        across = _types(self.follows_from_city) | _types(self.follows_from_districts)
        object.__setattr__(
            self, "view", LifecycleView(self.follows_types | self.emits_types | across)
        )

    @property
    def follows_types(self) -> frozenset[str]:
        return _types(self.follows)

    @property
    def emits_types(self) -> frozenset[str]:
        return _types(self.emits)

    @property
    def upstream(self) -> tuple[Stage, ...]:
        """The stages whose topics carry what this stage follows, in workflow order."""
        emitters = {stage for model in self.follows for stage in model.emitted_by}
        return tuple(stage for stage in Stage if stage in emitters and stage is not self.stage)

    def topics(self, site: str, namespace: str | None = None) -> list[str]:
        """The site's own topics the stage reads."""
        return [event_topic(site, stage, namespace) for stage in self.upstream]

    def sources(
        self, site: str, namespace: str | None = None, districts: Iterable[str] = ()
    ) -> dict[str, Source]:
        """Every topic the stage reads at ``site``, with the stage that owns it and the event
        types taken from it: its own site's, and the other level's mirrored to its cluster (at
        the city, those of ``districts``)."""
        found = {
            topic: Source(stage, self.follows_types)
            for topic, stage in zip(self.topics(site, namespace), self.upstream, strict=True)
        }
        at_district = site_level(site) is SiteLevel.DISTRICT
        across = self.follows_from_city if at_district else self.follows_from_districts
        for stage in _emitters(across):
            for other in other_level(site, districts):
                found[event_topic(other, stage, namespace)] = Source(stage, _types(across))
        return found


@dataclass(frozen=True, slots=True)
class Source:
    """A topic a stage reads: whose it is, and which event types the stage takes from it."""

    stage: Stage
    takes: frozenset[str]


def _types(models: Iterable[type[CaseEvent]]) -> frozenset[str]:
    return frozenset(model.type_name() for model in models)


def _emitters(models: Iterable[type[CaseEvent]]) -> tuple[Stage, ...]:
    emitters = {stage for model in models for stage in model.emitted_by}
    return tuple(stage for stage in Stage if stage in emitters)


def topology_table(topologies: Iterable[Topology]) -> str:
    """The published table of the site's stages (``docs/topology.md``)."""
    topologies = list(topologies)
    lines = [
        "# Topology",
        "",
        "Generated from each service's `topology.py` by `uv run cityloop-topology`; a test fails",
        "when this page and the declarations disagree. A stage reads the topics of the stages",
        "that emit what it follows and drops every other event type by its header.",
        "",
        "| Stage | Reads the topics of | Follows | Emits | Clocks |",
        "|---|---|---|---|---|",
    ]
    for topology in topologies:
        lines.append(
            f"| {topology.stage.value} "
            f"| {', '.join(stage.value for stage in topology.upstream) or '—'} "
            f"| {_names(topology.follows_types)} "
            f"| {_names(topology.emits_types)} "
            f"| {', '.join(sorted(step.value for step in topology.clocks)) or '—'} |"
        )
    lines += [
        "",
        "## Between the levels",
        "",
        "Sync mirrors each district's topics to the city's cluster, and the city's events about",
        "a district's cases to that district's cluster, under the same names. A district's stage",
        "reads from its city's topics, and the city's from its districts', only what follows.",
        "",
        "| Stage | At a district, from the city | At the city, from its districts |",
        "|---|---|---|",
    ]
    for topology in topologies:
        from_city = _types(topology.follows_from_city)
        shown = "every event type" if from_city == set(EVENT_TYPES) else _names(from_city)
        lines.append(
            f"| {topology.stage.value} "
            f"| {shown} "
            f"| {_names(_types(topology.follows_from_districts))} |"
        )
    return "\n".join(lines) + "\n"


def _names(event_types: frozenset[str]) -> str:
    return ", ".join(f"`{name}`" for name in sorted(event_types)) or "—"
