"""What the departments' stage (任务处理 + 处理反馈) follows and emits."""

from cityloop_shared.contract.events.casefile import CaseVoided
from cityloop_shared.contract.events.dispatch import (
    CaseDispatched,
    CaseRedispatched,
    CaseReopenedForRework,
    ExtensionDecided,
    ReturnApproved,
    ReturnRefused,
    SuspensionApproved,
    SuspensionRefused,
    SuspensionResumed,
)
from cityloop_shared.contract.events.disposal import (
    DisposalAccepted,
    DisposalCompleted,
    ExtensionRequested,
    ReturnRequested,
    SuspensionRequested,
)
from cityloop_shared.contract.topics import Stage
from cityloop_shared.contract.topology import Topology

TOPOLOGY = Topology(
    stage=Stage.DISPOSAL,
    follows=frozenset(
        {
            CaseDispatched,  # a task on a department's list
            CaseRedispatched,
            CaseReopenedForRework,
            ReturnApproved,  # the dispatcher's answers to the department's requests
            ReturnRefused,
            ExtensionDecided,
            SuspensionApproved,
            SuspensionRefused,
            SuspensionResumed,
            CaseVoided,  # the task ends with the case
        }
    ),
    emits=frozenset(
        {
            DisposalAccepted,
            ReturnRequested,
            ExtensionRequested,
            SuspensionRequested,
            DisposalCompleted,
        }
    ),
)
