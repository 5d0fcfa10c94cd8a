"""The event contract: envelope, event types, the case lifecycle, topics and JSON.

Every service speaks only this contract to every other: a service learns about another
through these events on Kafka, never through its code.
"""

from .actors import Actor, Role
from .codec import UndecodableEvent, decode, encode, redact
from .envelope import CaseEvent, ChainLink, Payload, event_hash, verify_chain
from .ids import CaseKind, case_number, new_id
from .lifecycle import CaseState, CaseStatus, IllegalTransition, allowed, apply, fold
from .registry import EVENT_TYPES, AnyCaseEvent
from .sites import SiteLevel, city_of, site_level
from .topics import Stage, dead_letter_topic, event_topic

__all__ = [
    "EVENT_TYPES",
    "Actor",
    "AnyCaseEvent",
    "CaseEvent",
    "CaseKind",
    "CaseState",
    "CaseStatus",
    "ChainLink",
    "IllegalTransition",
    "Payload",
    "Role",
    "SiteLevel",
    "Stage",
    "UndecodableEvent",
    "allowed",
    "apply",
    "case_number",
    "city_of",
    "dead_letter_topic",
    "decode",
    "encode",
    "event_hash",
    "event_topic",
    "fold",
    "new_id",
    "redact",
    "site_level",
    "verify_chain",
]
