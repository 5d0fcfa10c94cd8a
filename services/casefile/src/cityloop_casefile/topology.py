"""What case building (案卷建立) follows and emits: it keeps the site's whole case file, so it
follows every event another stage emits, and at a district every event of the city's about
the district's cases."""

from cityloop_shared.contract.events.casefile import (
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
from cityloop_shared.contract.events.time_limits import TimeLimitOverdue, TimeLimitWarning
from cityloop_shared.contract.registry import EVENT_TYPES
from cityloop_shared.contract.topics import Stage
from cityloop_shared.contract.topology import Topology
from cityloop_shared.contract.values import ClockStep

TOPOLOGY = Topology(
    stage=Stage.CASEFILE,
    follows=frozenset(
        model for model in EVENT_TYPES.values() if model.emitted_by - {Stage.CASEFILE}
    ),
    emits=frozenset(
        {
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
            TimeLimitWarning,
            TimeLimitOverdue,
        }
    ),
    clocks=frozenset(
        {
            ClockStep.ACCEPTANCE,
            ClockStep.VERIFICATION,
            ClockStep.REGISTRATION,
            ClockStep.FORWARDING,
            ClockStep.CITY_ACCEPTANCE,
        }
    ),
    # A district's case file shows the city's progress with a case it forwarded; the city's
    # meets a district's case when it is forwarded.
    follows_from_city=frozenset(EVENT_TYPES.values()),
    follows_from_districts=frozenset({CaseForwardedToCity}),
)
