"""Every label the console shows, in Chinese (the default) and English.

A page asks for a label by key (``t("accept")``) and for a code's name by its group and code
(``t.name("status", "closed")``); a key missing from either language fails loudly, and the
tests check both languages hold the same keys.
"""

from __future__ import annotations

from typing import Any

LANGUAGES = ("zh", "en")
LANG_COOKIE = "cityloop_lang"

_LABELS: dict[str, tuple[str, str]] = {
    # --- frame ----------------------------------------------------------------------------
    "app_name": ("CityLoop 数字化城市管理", "CityLoop digital city management"),
    "switch_language": ("English", "中文"),
    "signed_in_as": ("当前用户", "Signed in as"),
    "sign_out": ("退出", "Sign out"),
    "home": ("我的工作台", "My desk"),
    "dashboard": ("领导驾驶舱", "Dashboard"),
    "site": ("站点", "Site"),
    "role": ("角色", "Role"),
    "person": ("人员", "Person"),
    "refresh": ("刷新", "Refresh"),
    "nothing": ("暂无", "None"),
    "unavailable": ("暂时无法读取", "Cannot be read right now"),
    # --- sign-in ----------------------------------------------------------------------------
    "sign_in_title": ("登录", "Sign in"),
    "sign_in": ("登录", "Sign in"),
    "demo_sign_in_note": (
        "演示登录：从名单中选择人员。正式部署使用本市统一身份认证。",
        "Demo sign-in: pick a person from the list. A city's deployment signs people in "
        "through its identity provider.",
    ),
    "sign_in_refused": ("该站点和角色下没有此人员", "No such person at this site in this role"),
    # --- forbidden and errors ---------------------------------------------------------------
    "forbidden_title": ("无权访问", "Not allowed"),
    "forbidden_text": (
        "您当前的角色不能打开此页面。此页面供以下角色使用：",
        "Your role may not open this page. It is for:",
    ),
    "back_home": ("返回我的工作台", "Back to my desk"),
    "not_found_title": ("未找到", "Not found"),
    # --- tables and forms -------------------------------------------------------------------
    "case": ("案件", "Case"),
    "case_number": ("案卷号", "Case number"),
    "status": ("状态", "Status"),
    "channel": ("来源", "Channel"),
    "category": ("类别", "Category"),
    "grid": ("网格", "Grid"),
    "urgency": ("紧急程度", "Urgency"),
    "reported_at": ("上报时间", "Reported"),
    "registered_at": ("立案时间", "Registered"),
    "deadline": ("时限", "Deadline"),
    "department": ("部门", "Department"),
    "suggested_department": ("建议部门", "Suggested department"),
    "actions": ("操作", "Actions"),
    "reason": ("原因", "Reason"),
    "remarks": ("备注", "Remarks"),
    "details": ("详情", "Details"),
    "light": ("亮灯", "Light"),
    "overdue": ("超时", "Overdue"),
    "yes": ("是", "Yes"),
    "no": ("否", "No"),
    "submitting": ("正在提交……", "Submitting…"),
    "done": ("已提交，正在刷新……", "Done; refreshing…"),
    "refused": ("未能办理", "Refused"),
    "service_down": ("服务暂时无法连接，请稍后重试", "The service cannot be reached; try again"),
    "signed_out_answer": ("登录已过期，请重新登录", "Your sign-in expired; sign in again"),
    "field": ("字段", "Field"),
    # --- case page --------------------------------------------------------------------------
    "case_title": ("案卷", "Case file"),
    "timeline": ("办理过程", "Timeline"),
    "when": ("时间", "When"),
    "who": ("办理人", "Who"),
    "what": ("环节", "What"),
    "attachments": ("附件", "Attachments"),
    "city_view": ("市级视图", "As the city sees it"),
    "handled_by": ("办理站点", "Handled at"),
    # --- operator ----------------------------------------------------------------------------
    "operator_title": ("受理员工作台", "Acceptance desk"),
    "awaiting_acceptance": ("待受理", "Awaiting acceptance"),
    "awaiting_verification_request": ("待派发核实", "To send for verification"),
    "accept": ("受理", "Accept"),
    "needs_verification": ("需要核实", "Needs verification"),
    "request_verification": ("派发核实", "Send for verification"),
    "supervisor_optional": ("监督员（默认网格监督员）", "Supervisor (default: the grid's)"),
    "request_voiding": ("申请作废", "Request voiding"),
    "closed_cases": ("已结案案件", "Closed cases"),
    "satisfaction": ("满意度回访", "Satisfaction"),
    "score": ("评分", "Score"),
    "record_satisfaction": ("记录满意度", "Record satisfaction"),
    # --- chief -------------------------------------------------------------------------------
    "chief_title": ("值班长工作台", "Duty chief's desk"),
    "to_register": ("待立案", "To register"),
    "register": ("立案", "Register"),
    "level": ("层级", "Level"),
    "cancel_case": ("注销", "Cancel"),
    "to_forward": ("待转市级", "To forward to the city"),
    "forward_to_city": ("转市级", "Forward to the city"),
    "forwarded_in": ("区级转来案件", "Forwarded by the districts"),
    "accept_forwarding": ("批转", "Pass to the command centre"),
    "return_forwarding": ("退回", "Send back"),
    "to_close": ("待结案", "To close"),
    "close": ("结案", "Close"),
    "voiding_requests": ("作废申请", "Voiding requests"),
    "approve": ("同意", "Approve"),
    "refuse": ("不同意", "Refuse"),
    "category_dictionary": ("部件事件分类", "Category dictionary"),
    "disposal_limit": ("处置时限", "Disposal time limit"),
    "keep_operator_urgency": ("按受理时判定", "As judged at acceptance"),
    "requested_by": ("申请人", "Requested by"),
    # --- dispatcher -------------------------------------------------------------------------
    "dispatcher_title": ("派遣员工作台", "Dispatch board"),
    "to_dispatch": ("待派遣", "To dispatch"),
    "dispatch": ("派遣", "Dispatch"),
    "redispatch": ("改派", "Re-dispatch"),
    "instructions": ("派遣意见", "Instructions"),
    "pending_decisions": ("待审批申请", "Requests awaiting a decision"),
    "request": ("申请", "Request"),
    "proposed_deadline": ("申请延期至", "Proposed deadline"),
    "new_deadline": ("批准的时限（默认按申请）", "Deadline granted (default: as proposed)"),
    "suspended_cases": ("挂账案件", "Suspended cases"),
    "resume": ("恢复办理", "Resume"),
    # --- department ---------------------------------------------------------------------------
    "department_title": ("处置部门工作台", "Department's tasks"),
    "tasks": ("待办任务", "Tasks"),
    "task_state": ("任务状态", "Task state"),
    "accept_task": ("签收", "Accept"),
    "complete": ("处置反馈", "Report completion"),
    "result": ("处置结果", "Result"),
    "photo": ("处置照片", "Photo"),
    "request_return": ("申请回退", "Request return"),
    "request_extension": ("申请延期", "Request extension"),
    "request_suspension": ("申请挂账", "Request suspension"),
    "rework_count": ("返工次数", "Rework"),
    # --- dashboard ----------------------------------------------------------------------------
    "dashboard_title": ("领导驾驶舱", "Dashboard"),
    "city_dashboard_title": ("全市监督指挥驾驶舱", "City dashboard"),
    "map_title": ("网格案件亮灯图", "Open cases by grid"),
    "legend_green": ("绿灯：时限内", "Green: within the time limit"),
    "legend_yellow": ("黄灯：时限将到", "Yellow: the time limit is near"),
    "legend_red": ("红灯：已超时", "Red: past the time limit"),
    "legend_none": ("无在办案件", "No open case"),
    "open_cases": ("在办案件", "Open cases"),
    "overdue_cases": ("超时案件", "Overdue cases"),
    "by_district": ("各区统计", "By district"),
    "cases_total": ("案件数", "Cases"),
    "cases_open": ("在办", "Open"),
    "cases_closed": ("结案", "Closed"),
    "league_tables": ("综合评价", "Evaluation"),
    "period": ("评价周期", "Period"),
    "rank": ("排名", "Rank"),
    "name": ("名称", "Name"),
    "score_total": ("综合得分", "Score"),
    "grade": ("等级", "Grade"),
    "no_evaluation": ("本站点未运行综合评价服务", "This site runs no evaluation service"),
}

_NAMES: dict[str, dict[str, tuple[str, str]]] = {
    "role": {
        "field_supervisor": ("信息监督员", "Field supervisor"),
        "acceptance_operator": ("受理员", "Acceptance operator"),
        "duty_chief": ("值班长", "Duty chief"),
        "dispatcher": ("派遣员", "Dispatcher"),
        "department": ("专业部门", "Department"),
        "upper_department": ("上级专业部门", "Upper-level department"),
        "leader": ("领导", "Leader"),
        "public": ("社会公众", "The public"),
        "system": ("系统", "System"),
    },
    "status": {
        "reported": ("上报", "Reported"),
        "accepted": ("已受理", "Accepted"),
        "verifying": ("核实中", "Verifying"),
        "verified": ("核实完成", "Verified"),
        "registered": ("已立案", "Registered"),
        "forwarded_to_city": ("已转市级", "Forwarded to the city"),
        "with_city_command": ("已批转", "With the city command centre"),
        "dispatched": ("已派遣", "Dispatched"),
        "return_requested": ("回退申请中", "Return requested"),
        "awaiting_redispatch": ("待改派", "Awaiting re-dispatch"),
        "in_disposal": ("处置中", "In disposal"),
        "extension_requested": ("延期申请中", "Extension requested"),
        "suspension_requested": ("挂账申请中", "Suspension requested"),
        "suspended": ("挂账", "Suspended"),
        "disposed": ("处置完成", "Disposed"),
        "feedback_forwarded": ("已反馈", "Feedback forwarded"),
        "checking": ("核查中", "Checking"),
        "check_passed": ("核查通过", "Check passed"),
        "rework": ("返工", "Rework"),
        "closed": ("已结案", "Closed"),
        "cancelled": ("已注销", "Cancelled"),
        "voided": ("已作废", "Voided"),
        "self_handled": ("自处理", "Self-handled"),
    },
    "channel": {
        "supervisor": ("监督员上报", "Field supervisor"),
        "video": ("视频监控", "Video"),
        "public": ("公众举报", "Public"),
        "leader": ("领导交办", "Leader"),
    },
    "urgency": {
        "ordinary": ("一般", "Ordinary"),
        "urgent": ("紧急", "Urgent"),
    },
    "level": {
        "district": ("区级", "District"),
        "city": ("市级", "City"),
    },
    "task_state": {
        "awaiting_acceptance": ("待签收", "Awaiting acceptance"),
        "in_hand": ("处置中", "In hand"),
        "suspended": ("挂账", "Suspended"),
        "completed": ("处置完成", "Completed"),
        "returned": ("已回退", "Returned"),
        "closed": ("已关闭", "Closed"),
    },
    "request": {
        "return": ("回退", "Return"),
        "extension": ("延期", "Extension"),
        "suspension": ("挂账", "Suspension"),
    },
    "unit": {
        "working_minutes": ("工作分钟", "working minutes"),
        "working_hours": ("工作小时", "working hours"),
        "working_days": ("工作日", "working days"),
    },
    "light": {
        "green": ("绿灯", "Green"),
        "yellow": ("黄灯", "Yellow"),
        "red": ("红灯", "Red"),
        "none": ("无", "None"),
    },
    "subject": {
        "department": ("专业部门评价", "Departments"),
        "district": ("区评价", "Districts"),
        "street": ("街道评价", "Streets"),
    },
    "event": {
        "case.reported": ("上报", "Reported"),
        "case.self_handled": ("自处理", "Self-handled"),
        "publicity.decided": ("公开决定", "Publicity decided"),
        "case.accepted": ("受理", "Accepted"),
        "verification.requested": ("派发核实", "Verification requested"),
        "verification.reported": ("核实反馈", "Verification reported"),
        "case.registered": ("立案", "Registered"),
        "case.cancelled": ("注销", "Cancelled"),
        "void.requested": ("申请作废", "Voiding requested"),
        "void.refused": ("作废不同意", "Voiding refused"),
        "case.voided": ("作废", "Voided"),
        "case.forwarded_to_city": ("转市级", "Forwarded to the city"),
        "forwarding.accepted": ("批转", "Passed to the city command centre"),
        "forwarding.returned": ("退回区级", "Sent back to the district"),
        "case.dispatched": ("派遣", "Dispatched"),
        "case.redispatched": ("改派", "Re-dispatched"),
        "disposal.accepted": ("签收", "Accepted by the department"),
        "return.requested": ("申请回退", "Return requested"),
        "return.approved": ("同意回退", "Return approved"),
        "return.refused": ("不同意回退", "Return refused"),
        "extension.requested": ("申请延期", "Extension requested"),
        "extension.decided": ("延期审批", "Extension decided"),
        "suspension.requested": ("申请挂账", "Suspension requested"),
        "suspension.approved": ("同意挂账", "Suspension approved"),
        "suspension.refused": ("不同意挂账", "Suspension refused"),
        "suspension.resumed": ("恢复办理", "Resumed"),
        "disposal.completed": ("处置完成", "Disposal completed"),
        "feedback.forwarded": ("反馈", "Feedback forwarded"),
        "case.reopened_for_rework": ("返工", "Reopened for rework"),
        "reminder.sent": ("催办", "Reminder sent"),
        "supervision.issued": ("督办", "Supervision issued"),
        "check.requested": ("派发核查", "Check requested"),
        "check.passed": ("核查通过", "Check passed"),
        "check.failed": ("核查不通过", "Check failed"),
        "case.closed": ("结案", "Closed"),
        "satisfaction.recorded": ("满意度回访", "Satisfaction recorded"),
        "time_limit.warning": ("黄灯预警", "Yellow warning"),
        "time_limit.overdue": ("红灯超时", "Overdue"),
    },
}


def _index(lang: str) -> int:
    return LANGUAGES.index(lang)


class Translator:
    """The labels of one language."""

    def __init__(self, lang: str) -> None:
        self.lang = lang if lang in LANGUAGES else LANGUAGES[0]
        self._i = _index(self.lang)

    def __call__(self, key: str) -> str:
        return _LABELS[key][self._i]

    def name(self, group: str, code: Any) -> str:
        """The name of a code of ``group``; an unknown code shows as itself."""
        if code is None:
            return ""
        found = _NAMES[group].get(str(code))
        return found[self._i] if found else str(code)


def labels(lang: str) -> dict[str, str]:
    """Every label of ``lang``: what the pages' script shows."""
    i = _index(lang)
    return {key: pair[i] for key, pair in _LABELS.items()}


def all_texts() -> dict[str, tuple[str, str]]:
    """Every label and code name, in both languages (for the dictionary's own checks)."""
    names = {
        f"{group}.{code}": pair for group, codes in _NAMES.items() for code, pair in codes.items()
    }
    return {**_LABELS, **names}
