"""What checking and closing (核查结案) follows and emits."""

from cityloop_shared.contract.events.casefile import CaseVoided
from cityloop_shared.contract.events.dispatch import FeedbackForwarded
from cityloop_shared.contract.events.time_limits import TimeLimitOverdue, TimeLimitWarning
from cityloop_shared.contract.events.verification import (
    CaseClosed,
    CheckFailed,
    CheckPassed,
    CheckRequested,
    SatisfactionRecorded,
)
from cityloop_shared.contract.topics import Stage
from cityloop_shared.contract.topology import Topology
from cityloop_shared.contract.values import ClockStep

TOPOLOGY = Topology(
    stage=Stage.VERIFICATION,
    follows=frozenset(
        {
            FeedbackForwarded,  # the department's report: a check task to the grid's supervisor
            CaseVoided,  # a pending check ends with the case
        }
    ),
    emits=frozenset(
        {
            CheckRequested,
            CheckPassed,
            CheckFailed,
            CaseClosed,
            SatisfactionRecorded,
            TimeLimitWarning,
            TimeLimitOverdue,
        }
    ),
    clocks=frozenset({ClockStep.CHECK}),
)
