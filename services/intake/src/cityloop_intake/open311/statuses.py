"""Every case status as the public reads it: GeoReport v2 knows only ``open`` and ``closed``,
so ``status_notes`` tells the ends apart — a problem fixed and checked, one a supervisor
fixed on the spot, a report not registered, a registration voided. Only the first two say
the problem was dealt with."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from cityloop_shared.contract.lifecycle import CaseStatus

S = CaseStatus

OpenOrClosed = Literal["open", "closed"]


@dataclass(frozen=True, slots=True)
class PublicStatus:
    status: OpenOrClosed
    notes: str
    """What the status means to the person who reported, without naming anybody."""


def _open(notes: str) -> PublicStatus:
    return PublicStatus("open", notes)


def _closed(notes: str) -> PublicStatus:
    return PublicStatus("closed", notes)


PUBLIC_STATUSES: Mapping[CaseStatus, PublicStatus] = MappingProxyType(
    {
        S.REPORTED: _open("已上报，等待受理"),
        S.ACCEPTED: _open("已受理"),
        S.VERIFYING: _open("监督员正在现场核实"),
        S.VERIFIED: _open("已核实，等待立案"),
        S.REGISTERED: _open("已立案，等待派遣"),
        S.FORWARDED_TO_CITY: _open("已立案，转市级处理"),
        S.WITH_CITY_COMMAND: _open("市级已受理，等待派遣"),
        S.DISPATCHED: _open("已派遣至专业部门"),
        S.RETURN_REQUESTED: _open("专业部门申请回退，等待审核"),
        S.AWAITING_REDISPATCH: _open("等待改派"),
        S.IN_DISPOSAL: _open("专业部门正在处置"),
        S.EXTENSION_REQUESTED: _open("专业部门正在处置（申请延期）"),
        S.SUSPENSION_REQUESTED: _open("专业部门正在处置（申请挂账）"),
        S.SUSPENDED: _open("已挂账，暂缓处置"),
        S.DISPOSED: _open("处置完成，等待核查"),
        S.FEEDBACK_FORWARDED: _open("处置完成，等待核查"),
        S.CHECKING: _open("监督员正在现场核查"),
        S.CHECK_PASSED: _open("核查通过，等待结案"),
        S.REWORK: _open("核查未通过，返工处置"),
        S.CLOSED: _closed("已结案：问题已处置，经现场核查通过"),
        S.SELF_HANDLED: _closed("已结案：问题已处置，监督员发现后当场处理（自处理）"),
        S.CANCELLED: _closed("不予立案：本案不予处置（不属于受理范围、经核实不存在或重复上报）"),
        S.VOIDED: _closed("已作废：立案已撤销，本案不再处置（重复或错误立案）"),
    }
)


def statuses_shown_as(wanted: Collection[OpenOrClosed]) -> frozenset[CaseStatus] | None:
    """The case statuses a GET requests ``status`` filter selects; ``None`` for all of them."""
    if not wanted or set(wanted) == {"open", "closed"}:
        return None
    return frozenset(status for status, shown in PUBLIC_STATUSES.items() if shown.status in wanted)
