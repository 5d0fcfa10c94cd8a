"""The published topology is the one the services declare, and the declarations hold
together: every type a stage follows is emitted by another, every type is emitted by a
stage that declares it, and each stage reads only the topics it needs."""

from __future__ import annotations

from pathlib import Path

from cityloop_deploy.topology import contract_documents, published
from cityloop_shared.contract.lifecycle import CaseState, IllegalTransition, LifecycleView
from cityloop_shared.contract.registry import EVENT_TYPES
from cityloop_shared.contract.schemas import event_schema
from cityloop_shared.contract.topics import Stage
from cityloop_shared.contract.topology import topology_table
from cityloop_shared.messaging.asyncapi import asyncapi

TABLE = Path(__file__).parents[1] / "docs" / "topology.md"


def test_the_published_table_is_the_declared_topology() -> None:
    assert TABLE.read_text(encoding="utf-8") == topology_table(published()), (
        "docs/topology.md disagrees with the services' topology.py: run `uv run cityloop-topology`"
    )


def test_the_table_changes_when_a_declaration_does() -> None:
    first, *rest = published()
    narrower = type(first)(
        stage=first.stage,
        follows=frozenset(list(first.follows)[1:]),
        emits=first.emits,
        clocks=first.clocks,
    )
    assert topology_table([narrower, *rest]) != TABLE.read_text(encoding="utf-8")


def test_every_followed_type_is_emitted_by_a_stage_that_declares_it() -> None:
    topologies = published()
    emitted = {model for topology in topologies for model in topology.emits}
    for topology in topologies:
        for model in topology.follows:
            emitters = model.emitted_by - {Stage.SYNC}
            assert model in emitted or not emitters, (
                f"{topology.stage} follows {model.type_name()}, which no stage emits"
            )


def test_every_event_type_of_a_site_is_emitted_by_its_declared_owner() -> None:
    topologies = published()
    for event_type, model in EVENT_TYPES.items():
        owners = {t.stage for t in topologies if model in t.emits}
        assert owners == model.emitted_by - {Stage.SYNC}, event_type


def test_a_stage_reads_only_the_topics_of_what_it_follows() -> None:
    for topology in published():
        assert topology.stage not in topology.upstream
        for stage in topology.upstream:
            assert any(stage in model.emitted_by for model in topology.follows)


def test_every_type_a_stage_emits_it_can_decide_somewhere() -> None:
    """Where the stage's view of a case can stand (by the moves it applies), some place allows
    each event it emits: a stage that missed a move that can end the case there (a voiding,
    say) would see every decision refused."""
    for topology in published():
        view = topology.view
        reachable = _reach_by(view, topology.follows_types | topology.emits_types)
        for model in topology.emits:
            event_type = model.type_name()
            assert any(view.allows(state, event_type) for state in reachable), (
                f"{topology.stage} can never decide {event_type}"
            )


def _reach_by(view: LifecycleView, applied: frozenset[str]) -> list[CaseState | None]:
    """The states the stage's view passes through, applying what it applies in any order."""
    seen: list[CaseState | None] = [None]
    for state in seen:
        for event_type in applied:
            try:
                following = view.receive(state, event_type)
            except IllegalTransition:
                continue
            if following not in seen:
                seen.append(following)
    return seen


def test_the_catalogue_and_the_asyncapi_documents_are_the_declared_ones() -> None:
    for path, text in contract_documents(TABLE.parent).items():
        assert path.read_text(encoding="utf-8") == text, (
            f"{path.name} disagrees with the services' topology.py: run `uv run cityloop-topology`"
        )


def test_an_asyncapi_document_names_what_its_service_sends_and_receives() -> None:
    for topology in published():
        document = asyncapi(topology)
        messages = document["components"]["messages"]
        sent = {
            ref["$ref"].rsplit("/", 1)[1]
            for operation in document["operations"].values()
            if operation["action"] == "send"
            for ref in operation["messages"]
        }
        received = {
            ref["$ref"].rsplit("/", 1)[1]
            for operation in document["operations"].values()
            if operation["action"] == "receive"
            for ref in operation["messages"]
        }
        assert {messages[m]["name"] for m in sent} == topology.emits_types
        across = topology.follows_from_city | topology.follows_from_districts
        assert {messages[m]["name"] for m in received} == topology.follows_types | {
            model.type_name() for model in across
        }
        for operation in document["operations"].values():
            channel = document["channels"][operation["channel"]["$ref"].rsplit("/", 1)[1]]
            for ref in operation["messages"]:
                assert ref["$ref"].rsplit("/", 1)[1] in channel["messages"]
        for message in messages.values():
            assert message["payload"] == event_schema(message["name"])
