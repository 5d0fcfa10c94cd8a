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
from .topics import Stage, event_topic
from .values import ClockStep


@dataclass(frozen=True)
class Topology:
    stage: Stage
    follows: frozenset[type[CaseEvent]]
    emits: frozenset[type[CaseEvent]]
    clocks: frozenset[ClockStep] = frozenset()
    """The steps whose time limits this stage watches (its clock scan signals them)."""
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
        object.__setattr__(self, "view", LifecycleView(self.follows_types | self.emits_types))

    @property
    def follows_types(self) -> frozenset[str]:
        return frozenset(model.type_name() for model in self.follows)

    @property
    def emits_types(self) -> frozenset[str]:
        return frozenset(model.type_name() for model in self.emits)

    @property
    def upstream(self) -> tuple[Stage, ...]:
        """The stages whose topics carry what this stage follows, in workflow order."""
        emitters = {stage for model in self.follows for stage in model.emitted_by}
        return tuple(stage for stage in Stage if stage in emitters and stage is not self.stage)

    def topics(self, site: str, namespace: str | None = None) -> list[str]:
        return [event_topic(site, stage, namespace) for stage in self.upstream]


def topology_table(topologies: Iterable[Topology]) -> str:
    """The published table of the site's stages (``docs/topology.md``)."""
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
    return "\n".join(lines) + "\n"


def _names(event_types: frozenset[str]) -> str:
    return ", ".join(f"`{name}`" for name in sorted(event_types)) or "—"
