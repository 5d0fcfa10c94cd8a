"""What the command centre (指挥中心) follows and emits."""

from cityloop_shared.contract.events.casefile import (
    CaseForwardedToCity,
    CaseRegistered,
    CaseVoided,
    ForwardingAccepted,
    ForwardingReturned,
)
from cityloop_shared.contract.events.dispatch import (
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
from cityloop_shared.contract.events.disposal import (
    DisposalCompleted,
    ExtensionRequested,
    ReturnRequested,
    SuspensionRequested,
)
from cityloop_shared.contract.events.time_limits import TimeLimitOverdue, TimeLimitWarning
from cityloop_shared.contract.events.verification import CheckFailed
from cityloop_shared.contract.topics import Stage
from cityloop_shared.contract.topology import Topology
from cityloop_shared.contract.values import ClockStep

TOPOLOGY = Topology(
    stage=Stage.DISPATCH,
    follows=frozenset(
        {
            CaseRegistered,  # 立案: the case waits for dispatch
            CaseForwardedToCity,  # 转市级: not the district's to dispatch any more
            ForwardingAccepted,  # 批转 (at the city): the city's command centre dispatches it
            ReturnRequested,  # a department's requests wait for the dispatcher
            ExtensionRequested,
            SuspensionRequested,
            DisposalCompleted,  # forwarded to the supervision centre (处理反馈)
            CheckFailed,  # back to the same department (返工)
            CaseVoided,  # the end of a case stops its clocks
        }
    ),
    emits=frozenset(
        {
            CaseDispatched,
            CaseRedispatched,
            ReturnApproved,
            ReturnRefused,
            ExtensionDecided,
            SuspensionApproved,
            SuspensionRefused,
            SuspensionResumed,
            FeedbackForwarded,
            CaseReopenedForRework,
            ReminderSent,
            SupervisionIssued,
            TimeLimitWarning,
            TimeLimitOverdue,
        }
    ),
    clocks=frozenset({ClockStep.DISPATCH, ClockStep.DISPOSAL}),
    follows_from_city=frozenset({ForwardingReturned}),  # the city sent it back: dispatch here
    follows_from_districts=frozenset({CaseForwardedToCity}),  # what the city dispatches by
)
