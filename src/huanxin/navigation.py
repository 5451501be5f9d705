"""The top navigation and the "may this user open it" questions pages ask before showing a link or a button.

Each answer is the same check the page's view makes (review.can_review, payments.can_pay, …), so a link is never
shown to someone the page would answer 403; tests/test_navigation.py follows every link for every role. Where a
role may open a page that is not its work (a reviewer may read the monitoring dashboard), the link is left out to
keep the bar short: `_roles` narrows, it never widens what the view allows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils.functional import SimpleLazyObject

from huanxin.core import tokens
from huanxin.core.roles import Role, is_authenticated, is_official
from huanxin.subsidies import payments, review, settlement


@dataclass(frozen=True)
class Link:
    label: str
    url: str
    active: bool


class Access:
    """What `user` may open, asked once per request and only when a template reads it."""

    def __init__(self, user: Any) -> None:
        self.user = user

    def _roles(self, *roles: str) -> bool:
        return is_authenticated(self.user) and (self.user.is_superuser or self.user.role in roles)

    @cached_property
    def official(self) -> bool:
        return is_official(self.user)

    @cached_property
    def monitoring(self) -> bool:  # monitoring/dashboard.py: officials only
        return self.official and self._roles(
            Role.DEPARTMENT_OFFICER, Role.TASK_FORCE, Role.AUDITOR, Role.COUNTY_OFFICER
        )

    @cached_property
    def ledgers(self) -> bool:
        return self._roles(Role.DEPARTMENT_OFFICER, Role.TASK_FORCE, Role.AUDITOR)

    @cached_property
    def reporting(self) -> bool:
        return is_authenticated(self.user) and self.user.role in (Role.DEPARTMENT_OFFICER, Role.COUNTY_OFFICER)

    @cached_property
    def value_review(self) -> bool:  # monitoring/views.py review: is_task_force
        return self._roles(Role.TASK_FORCE)

    @cached_property
    def supervision(self) -> bool:  # supervision/views.py: officials only
        return self.official and self._roles(Role.DEPARTMENT_OFFICER, Role.TASK_FORCE, Role.AUDITOR)

    @cached_property
    def projects(self) -> bool:
        return self._roles(Role.ENTERPRISE, Role.TASK_FORCE, Role.DEPARTMENT_OFFICER, Role.COUNTY_OFFICER, Role.AUDITOR)

    @cached_property
    def subsidies(self) -> bool:
        # the county officer reviews its county's applications (review.REVIEWER_ROLES), so it has the section too
        return self._roles(
            *(Role.CITIZEN, Role.MERCHANT, Role.TASK_FORCE, Role.REVIEWER),
            *(Role.FINANCE_OFFICER, Role.AUDITOR, Role.COUNTY_OFFICER),
        )

    @cached_property
    def subsidy_review(self) -> bool:  # subsidies/views.py review_queue
        return review.can_review(self.user)

    @cached_property
    def subsidy_payments(self) -> bool:  # subsidies/views.py payments
        return payments.can_pay(self.user)

    @cached_property
    def settlement(self) -> bool:  # subsidies/settlement_views.py settlement_home
        return settlement.own_merchant(self.user) is not None or settlement.sees_every_merchant(self.user)

    @cached_property
    def settlement_overview(self) -> bool:  # every merchant's settlement, not one's own
        return settlement.sees_every_merchant(self.user)

    @cached_property
    def recycling(self) -> bool:
        return is_authenticated(self.user) and self.user.role != Role.ENTERPRISE

    @cached_property
    def tokens(self) -> bool:  # core/token_views.py; superusers may, but it is not their work
        return tokens.may_hold_tokens(self.user) and self.user.role in (Role.MERCHANT, Role.RECYCLER, Role.ENTERPRISE)

    @cached_property
    def checks(self) -> bool:  # jobs/views.py checks
        return is_authenticated(self.user) and self.user.role == Role.AUDITOR

    @cached_property
    def unread_messages(self) -> int:  # notices: a citizen's 消息, the badge in the user area
        from huanxin.notices.notify import unread_count

        return unread_count(self.user)


def links(request: HttpRequest, can: Access) -> list[Link]:
    """The navigation bar of a logged-in user, in order, with the current section marked."""
    user = getattr(request, "user", None)
    match = request.resolver_match
    here = match.url_name if match else ""
    app = match.app_name if match else ""
    entries: list[tuple[bool, str, str, Callable[[], bool]]] = [
        (True, "工作台", "home", lambda: here == "home"),
        (True, "实施方案", "plans:list", lambda: app == "plans" and here in ("list", "detail", "measure")),
        (can.official, "责任单位", "plans:departments", lambda: here in ("departments", "department")),
        (getattr(user, "department", None) is not None, "我的任务", "plans:my_tasks", lambda: False),
        (can.monitoring, "监测总览", "monitoring:dashboard", lambda: here in ("dashboard", "indicator")),
        (can.ledgers, "工作台账", "monitoring:ledgers", lambda: here in ("ledgers", "ledger")),
        (can.reporting, "数据填报", "monitoring:report", lambda: app == "monitoring" and here == "report"),
        (can.value_review, "数据审核", "monitoring:review", lambda: app == "monitoring" and here == "review"),
        (can.supervision, "调度督办", "supervision:mine", lambda: app == "supervision"),
        (
            can.projects,
            "我的项目" if getattr(user, "role", None) == Role.ENTERPRISE else "项目库",
            "projects:list",
            lambda: app == "projects",
        ),
        (can.subsidies, "补贴", "subsidies:home", lambda: app == "subsidies" and here not in SETTLEMENT_PAGES),
        (can.settlement, "补贴结算", "subsidies:settlement", lambda: app == "subsidies" and here in SETTLEMENT_PAGES),
        (
            can.recycling,
            "上门回收" if getattr(user, "role", None) in (Role.CITIZEN, Role.MERCHANT) else "回收网络",
            "recycling:home",
            lambda: app == "recycling",
        ),
        (can.tokens, "API 令牌", "tokens", lambda: here == "tokens"),
        (bool(getattr(user, "is_staff", False)), "后台", "admin:index", lambda: False),
    ]
    return [Link(label, reverse(name), active()) for shown, label, name, active in entries if shown]


SETTLEMENT_PAGES = ("settlement", "settlement_merchant", "merchant_account")


def frame(request: HttpRequest) -> dict[str, Any]:
    """Context processor: `can` (Access) and `nav_links` for base.html; both computed only when read."""
    can = Access(getattr(request, "user", None))
    return {"can": can, "nav_links": SimpleLazyObject(lambda: links(request, can))}
