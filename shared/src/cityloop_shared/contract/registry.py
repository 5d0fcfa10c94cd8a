"""Every case event type by name: the single list parsers, schemas and folds read from."""

from __future__ import annotations

from types import MappingProxyType
from typing import Annotated, Union, get_args

from pydantic import Field

from .envelope import CaseEvent, Payload
from .events.casefile import (
    CaseAccepted,
    CaseCancelled,
    CaseForwardedToCity,
    CaseRegistered,
    CaseVoided,
    ForwardingAccepted,
    ForwardingReturned,
    VerificationReported,
    VerificationRequested,
    VoidRefused,
    VoidRequested,
)
from .events.dispatch import (
    CaseDispatched,
    CaseRedispatched,
    CaseReopenedForRework,
    ExtensionDecided,
    FeedbackForwarded,
    ReminderSent,
    ReturnApproved,
    ReturnRefused,
    SupervisionIssued,
    SuspensionApproved,
    SuspensionRefused,
    SuspensionResumed,
)
from .events.disposal import (
    DisposalAccepted,
    DisposalCompleted,
    ExtensionRequested,
    ReturnRequested,
    SuspensionRequested,
)
from .events.intake import CaseReported, CaseSelfHandled, PublicityDecided
from .events.time_limits import TimeLimitOverdue, TimeLimitWarning
from .events.verification import (
    CaseClosed,
    CheckFailed,
    CheckPassed,
    CheckRequested,
    SatisfactionRecorded,
)

AnyCaseEvent = Annotated[
    Union[  # noqa: UP007 - a discriminated union needs the Union form
        CaseReported,
        CaseSelfHandled,
        CaseAccepted,
        VerificationRequested,
        VerificationReported,
        CaseRegistered,
        CaseCancelled,
        VoidRequested,
        VoidRefused,
        CaseVoided,
        CaseForwardedToCity,
        ForwardingAccepted,
        ForwardingReturned,
        CaseDispatched,
        CaseRedispatched,
        ReturnRequested,
        ReturnApproved,
        ReturnRefused,
        ExtensionRequested,
        ExtensionDecided,
        SuspensionRequested,
        SuspensionApproved,
        SuspensionRefused,
        SuspensionResumed,
        DisposalAccepted,
        DisposalCompleted,
        FeedbackForwarded,
        CheckRequested,
        CheckPassed,
        CheckFailed,
        CaseClosed,
        CaseReopenedForRework,
        TimeLimitWarning,
        TimeLimitOverdue,
        ReminderSent,
        SupervisionIssued,
        SatisfactionRecorded,
        PublicityDecided,
    ],
    Field(discriminator="event_type"),
]

EVENT_TYPES: MappingProxyType[str, type[CaseEvent]] = MappingProxyType(
    {cls.type_name(): cls for cls in get_args(get_args(AnyCaseEvent)[0])}
)
"""Event type name → model."""


def payload_model(event_type: str) -> type[Payload]:
    """The payload model of an event type, e.g. to read a payload stored as JSON."""
    annotation = EVENT_TYPES[event_type].model_fields["payload"].annotation
    if not (isinstance(annotation, type) and issubclass(annotation, Payload)):
        raise TypeError(f"{event_type} has no payload model")
    return annotation
