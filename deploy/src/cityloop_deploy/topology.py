"""``cityloop-topology``: write the site's published contract from what each service declares
in its ``topology.py``: the topology table (``docs/topology.md``), the topic catalogue
(``docs/topics.md``) and each service's AsyncAPI document (``docs/asyncapi/<stage>.json``)."""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path

from cityloop_deploy.fleet import WORKFLOW_STAGES
from cityloop_deploy.paths import find_repo_root
from cityloop_shared.contract.topology import Topology, topology_table
from cityloop_shared.messaging.asyncapi import mirror_asyncapi, render, rendered, topic_catalogue


def declared() -> list[Topology]:
    """Each workflow service's declaration, in workflow order."""
    return [
        importlib.import_module(f"cityloop_{stage}.topology").TOPOLOGY for stage in WORKFLOW_STAGES
    ]


def published() -> list[Topology]:
    """What the table shows: the workflow services, then evaluation, which follows them all."""
    return [*declared(), importlib.import_module("cityloop_evaluation.topology").TOPOLOGY]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("output", nargs="?", type=Path, help="default: docs/topology.md")
    args = parser.parse_args()
    output: Path = args.output or find_repo_root() / "docs" / "topology.md"
    output.write_text(topology_table(published()), encoding="utf-8")
    print(output)
    for path, text in contract_documents(output.parent).items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(path)


def contract_documents(docs: Path) -> dict[Path, str]:
    """The topic catalogue and every service's AsyncAPI document, by where they are kept."""
    topologies = published()
    documents = {docs / "topics.md": topic_catalogue(topologies)}
    for topology in topologies:
        documents[docs / "asyncapi" / f"{topology.stage.value}.json"] = render(topology)
    documents[docs / "asyncapi" / "sync.json"] = rendered(mirror_asyncapi())
    return documents
