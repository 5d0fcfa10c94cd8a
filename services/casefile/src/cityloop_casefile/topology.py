"""What case building (案卷建立) follows and emits: it keeps the site's whole case file, so it
follows every event another stage emits."""

from cityloop_shared.contract.events.casefile import (
    CaseAccepted,
    CaseCancelled,
    CaseForwardedToCity,
    CaseRegistered,
    CaseVoided,
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
            TimeLimitWarning,
            TimeLimitOverdue,
        }
    ),
    clocks=frozenset({ClockStep.ACCEPTANCE, ClockStep.VERIFICATION, ClockStep.REGISTRATION}),
)
