"""What information collection (信息采集) follows and emits: it opens every case, and follows
only what the Open311 status of a request shows — its number and category, the department
and deadline, and its end. It records, too, what the supervision centre shows the public."""

from cityloop_shared.contract.events.casefile import (
    CaseCancelled,
    CaseForwardedToCity,
    CaseRegistered,
    CaseVoided,
    ForwardingReturned,
)
from cityloop_shared.contract.events.dispatch import (
    CaseDispatched,
    CaseRedispatched,
    CaseReopenedForRework,
    ExtensionDecided,
    SuspensionResumed,
)
from cityloop_shared.contract.events.intake import CaseReported, CaseSelfHandled, PublicityDecided
from cityloop_shared.contract.events.verification import CaseClosed, SatisfactionRecorded
from cityloop_shared.contract.topics import Stage
from cityloop_shared.contract.topology import Topology

TOPOLOGY = Topology(
    stage=Stage.INTAKE,
    follows=frozenset(
        {
            CaseRegistered,  # the case number and the category the duty chief set
            CaseForwardedToCity,
            CaseDispatched,  # the department responsible and the deadline
            CaseRedispatched,
            CaseReopenedForRework,
            ExtensionDecided,
            SuspensionResumed,
            CaseClosed,  # the ends: open or closed
            CaseCancelled,
            CaseVoided,
        }
    ),
    emits=frozenset({CaseReported, CaseSelfHandled, SatisfactionRecorded, PublicityDecided}),
    # A case the district forwarded goes on at the city: the request shows the city's
    # dispatch and deadlines, its end, or that it came back.
    follows_from_city=frozenset(
        {
            ForwardingReturned,
            CaseDispatched,
            CaseRedispatched,
            CaseReopenedForRework,
            ExtensionDecided,
            SuspensionResumed,
            CaseClosed,
            CaseVoided,
        }
    ),
)
