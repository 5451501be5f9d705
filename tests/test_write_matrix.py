"""The role × action matrix for writes: every write action below is performed, through its service function, by
each role (the roles with a scope both inside and outside it), and must succeed for exactly the roles `MATRIX`
names and be refused (PermissionDenied) for every other. docs/permissions.md is generated from the same table;
a test fails when the committed document differs.

Regenerate the document: `.venv/bin/python -m tests.test_write_matrix > docs/permissions.md`
"""

from __future__ import annotations

import datetime as dt
import random
import sys
from decimal import Decimal
from functools import cached_property
from io import StringIO
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone
from stdnum.cn import uscc as uscc_lib

from huanxin.core.roles import Role
from huanxin.demo import identities

if TYPE_CHECKING:  # the models are imported where used, so `python -m` can print the document without Django set up
    from huanxin.core.models import Department, Organisation, Region, User

pytestmark = pytest.mark.django_db
DOC = Path(__file__).resolve().parent.parent / "docs" / "permissions.md"
REGENERATE = ".venv/bin/python -m tests.test_write_matrix > docs/permissions.md"

# The actors: each role once; a role that works for a department, county or organisation also from outside it.
ACTORS: dict[str, str] = {
    "task_force": "工作专班",
    "department_officer": "责任单位经办人（市住房和城乡建设局：举措二（二）2第一条款的牵头单位）",
    "department_officer:other": "责任单位经办人（市公安局：同一举措另一条款的牵头单位）",
    "county_officer": "县区经办人（张北县：记录所在县区）",
    "county_officer:other": "县区经办人（康保县）",
    "reviewer": "审核员",
    "finance_officer": "财务人员",
    "auditor": "审计监督",
    "merchant": "商户（记录所属商户）",
    "merchant:other": "商户（另一商户）",
    "recycler": "回收企业（记录所属企业）",
    "recycler:other": "回收企业（另一企业）",
    "enterprise": "企业（项目所属企业）",
    "enterprise:other": "企业（另一企业）",
    "citizen": "居民（预约人、申请人本人）",
    "citizen:other": "居民（另一居民）",
}

TF, DEPT, DEPT_OTHER = "task_force", "department_officer", "department_officer:other"
COUNTY, COUNTY_OTHER = "county_officer", "county_officer:other"
REVIEWER, FINANCE = "reviewer", "finance_officer"
MERCHANT, MERCHANT_OTHER = "merchant", "merchant:other"
RECYCLER, ENTERPRISE, CITIZEN, CITIZEN_OTHER = "recycler", "enterprise", "citizen", "citizen:other"

# action → (what it is, the actors allowed). Every actor not named is refused.
MATRIX: dict[str, tuple[str, frozenset[str]]] = {
    # plans and supervision
    "plans.save_measure_action": ("填报落实举措", frozenset({DEPT, DEPT_OTHER})),
    "supervision.save_report": ("报告月度进展", frozenset({DEPT, DEPT_OTHER})),
    "supervision.add_milestone": ("为住建局设置里程碑", frozenset({TF, DEPT})),
    "supervision.complete_milestone": ("标记住建局的里程碑完成", frozenset({DEPT})),
    "supervision.cancel_milestone": ("取消住建局的里程碑", frozenset({TF, DEPT})),
    "supervision.issue_notice": ("发出督办单", frozenset({TF})),
    "supervision.answer_notice": ("答复给住建局的督办单", frozenset({DEPT})),
    "supervision.return_notice": ("退回督办答复", frozenset({TF})),
    "supervision.close_notice": ("办结督办单", frozenset({TF})),
    # monitoring
    "monitoring.configure_indicator": ("设置指标监测", frozenset({TF})),
    "monitoring.save_value": ("填写张北县的指标数值", frozenset({DEPT, COUNTY})),
    "monitoring.submit_values": ("报送指标数值", frozenset({DEPT})),
    "monitoring.approve_value": ("审核通过指标数值", frozenset({TF})),
    "monitoring.return_value": ("退回指标数值", frozenset({TF})),
    # recycling
    "recycling.save_site": ("为回收企业设立站点", frozenset({TF, RECYCLER})),
    "recycling.open_slots": ("开放上门回收时段", frozenset({RECYCLER})),
    "recycling.book_pickup": ("预约上门回收", frozenset({CITIZEN, CITIZEN_OTHER, MERCHANT, MERCHANT_OTHER})),
    "recycling.accept_booking": ("受理预约", frozenset({RECYCLER})),
    "recycling.complete_booking": ("完成上门回收", frozenset({RECYCLER})),
    "recycling.cancel_booking": ("取消预约", frozenset({CITIZEN, RECYCLER})),
    "recycling.record_collection": ("登记回收记录", frozenset({RECYCLER})),
    "recycling.record_collection_on_behalf": ("代录回收记录（写明原因）", frozenset({TF})),
    "recycling.issue_certificate": ("出具收旧凭证", frozenset({RECYCLER})),
    "recycling.issue_certificate_on_behalf": ("代录收旧凭证（写明原因）", frozenset({TF})),
    "recycling.revoke_certificate": ("作废回收企业出具的证明", frozenset({RECYCLER})),
    "recycling.record_invoice": ("反向开票", frozenset({RECYCLER})),
    "recycling.load_townships": ("导入乡镇（街道）", frozenset({TF})),
    # projects
    "projects.register_enterprise": ("登记张北县企业", frozenset({TF, DEPT, DEPT_OTHER, COUNTY})),
    "projects.add_recognition": ("登记企业认定", frozenset({TF, DEPT, DEPT_OTHER, COUNTY})),
    "projects.save_survey": ("填报企业年度调查", frozenset({TF, DEPT, DEPT_OTHER, COUNTY, ENTERPRISE})),
    "projects.save_project": ("申报项目", frozenset({ENTERPRISE})),
    "projects.save_item": ("填写设备清单", frozenset({ENTERPRISE})),
    "projects.submit_project": ("提交项目审核", frozenset({ENTERPRISE})),
    "projects.review_county": ("县区审核项目", frozenset({COUNTY})),
    "projects.review_city": ("行业主管部门审核项目（建筑和市政：住建局）", frozenset({DEPT})),
    "projects.record_loan": ("登记项目贷款", frozenset({TF, ENTERPRISE})),
    "projects.report_investment": ("填报投资完成情况", frozenset({ENTERPRISE})),
    # subsidies
    "subsidies.create_programme": ("设立补贴项目", frozenset({TF})),
    "subsidies.change_status": ("暂停补贴项目", frozenset({TF})),
    "subsidies.fund": ("追加额度", frozenset({TF, FINANCE})),
    "subsidies.promote_queue": ("处理排队申请", frozenset({TF, FINANCE})),
    "subsidies.submit_application": ("提交补贴申请", frozenset({CITIZEN, CITIZEN_OTHER, MERCHANT, MERCHANT_OTHER})),
    "subsidies.decide": ("审核张北县的申请", frozenset({REVIEWER, COUNTY})),
    "subsidies.supply_material": ("补充材料", frozenset({MERCHANT})),
    "subsidies.report_refund": ("登记退货", frozenset({MERCHANT})),
    "subsidies.save_merchant_account": ("维护商户结算账户", frozenset({MERCHANT, MERCHANT_OTHER})),
    "subsidies.create_batch": ("生成发放批次", frozenset({TF, FINANCE})),
    # core
    "core.issue_token": (
        "申请 API 令牌",
        frozenset({RECYCLER, "recycler:other", MERCHANT, MERCHANT_OTHER, ENTERPRISE, "enterprise:other"}),
    ),
    "core.verify_identity": ("实名认证", frozenset({CITIZEN, CITIZEN_OTHER})),
}


def credit_code(n: int, region: str) -> str:
    body = f"91{region}MA0{n:05d}X"[:17]
    return body + uscc_lib.calc_check_digit(body)


class World:
    """The records the actions work on, each made when an action first needs it (by its rightful actor)."""

    def __init__(self) -> None:
        from huanxin.core.models import Organisation, Region
        from tests.factories import UserFactory, officer, task_force, user_with_role

        self.now = timezone.now()
        self.today = timezone.localdate()
        self.zhangbei = Region.objects.get(code="130722")
        self.kangbao = Region.objects.get(code="130723")

        def org(name: str, kind: str, region: Region) -> Organisation:
            return Organisation.objects.get_or_create(name=name, defaults={"kind": kind, "region": region})[0]

        def county(region: Region) -> User:
            office = org(f"{region.name}人民政府", Organisation.Kind.COUNTY_GOVERNMENT, region)
            return UserFactory(role=Role.COUNTY_OFFICER, organisation=office)

        self.shop = org("张北县国美电器", Organisation.Kind.MERCHANT, self.zhangbei)
        self.recycling_firm = org("张北县绿源再生资源回收有限公司", Organisation.Kind.RECYCLER, self.zhangbei)
        self.firm = org("张北县装配式建筑有限公司", Organisation.Kind.ENTERPRISE, self.zhangbei)
        self.actors: dict[str, User] = {
            TF: task_force(),
            DEPT: officer("市住房和城乡建设局"),
            DEPT_OTHER: officer("市公安局"),
            COUNTY: county(self.zhangbei),
            COUNTY_OTHER: county(self.kangbao),
            REVIEWER: user_with_role(Role.REVIEWER),
            FINANCE: user_with_role(Role.FINANCE_OFFICER),
            "auditor": user_with_role(Role.AUDITOR),
            MERCHANT: UserFactory(role=Role.MERCHANT, organisation=self.shop),
            MERCHANT_OTHER: UserFactory(
                role=Role.MERCHANT, organisation=org("康保县苏宁易购", Organisation.Kind.MERCHANT, self.kangbao)
            ),
            RECYCLER: UserFactory(role=Role.RECYCLER, organisation=self.recycling_firm),
            "recycler:other": UserFactory(
                role=Role.RECYCLER, organisation=org("康保县草原再生资源有限公司", "recycler", self.kangbao)
            ),
            ENTERPRISE: UserFactory(role=Role.ENTERPRISE, organisation=self.firm),
            "enterprise:other": UserFactory(
                role=Role.ENTERPRISE, organisation=org("康保县建材有限公司", Organisation.Kind.ENTERPRISE, self.kangbao)
            ),
            CITIZEN: UserFactory(role=Role.CITIZEN),
            CITIZEN_OTHER: UserFactory(role=Role.CITIZEN),
        }
        self.rng = random.Random(16)

    def __getitem__(self, key: str) -> User:
        return self.actors[key]

    # --- plans and supervision ---

    @cached_property
    def measure(self) -> Any:
        from huanxin.plans.models import Measure

        return Measure.objects.get(plan__code="zhangjiakou-2024", code="二（二）2")

    @cached_property
    def housing(self) -> Department:
        from huanxin.core.models import Department

        return Department.objects.resolve("市住房和城乡建设局")

    @cached_property
    def milestone(self) -> Any:
        from huanxin.supervision import services

        return services.add_milestone(
            actor=self[TF],
            measure=self.measure,
            department=self.housing,
            title="年度改造计划下达",
            due_on=dt.date(2026, 6, 30),
        )

    @cached_property
    def notice(self) -> Any:
        from huanxin.supervision import services

        return services.issue_notice(
            actor=self[TF],
            department=self.housing,
            subject="排水管网更新改造进度滞后",
            body="请分析原因。",
            due_on=self.today + dt.timedelta(days=10),
            measure=self.measure,
        )

    @cached_property
    def answered_notice(self) -> Any:
        from huanxin.supervision import services

        services.answer_notice(actor=self[DEPT], notice=self.notice, text="已制定加快推进方案")
        return self.notice

    @cached_property
    def unverified_citizens(self) -> None:
        """The citizens' verification undone by the task force, so that they verify again."""
        from huanxin.core import identity

        for who in (CITIZEN, CITIZEN_OTHER):
            self.actors[who] = identity.reset_identity(actor=self[TF], user=self[who], reason="矩阵测试：重新认证")

    # --- monitoring ---

    @cached_property
    def monitoring(self) -> tuple[Any, Any]:
        from huanxin.monitoring import services
        from huanxin.monitoring.periods import PeriodRef
        from huanxin.plans.models import Indicator

        call_command("monitoring", "setup", stdout=StringIO())
        gas = Indicator.objects.get(plan__code="zhangjiakou-2024", code="gas-pipeline-renewed-km")
        return gas, services.ensure_period(ref=PeriodRef.parse("2025-Q2"))

    @cached_property
    def value(self) -> Any:
        from huanxin.monitoring import services

        gas, q2 = self.monitoring
        return services.save_value(actor=self[DEPT], indicator=gas, period=q2, region=self.zhangbei, value="3.5")

    @cached_property
    def submitted_value(self) -> Any:
        from huanxin.monitoring import services

        services.submit_values(actor=self[DEPT], values=[self.value])
        self.value.refresh_from_db()
        return self.value

    # --- recycling ---

    @cached_property
    def site(self) -> Any:
        from huanxin.recycling import services
        from huanxin.recycling.models import Site

        services.ensure_default_tax_rule()
        return services.save_site(
            actor=self[RECYCLER],
            organisation=self.recycling_firm,
            name="张北镇回收站",
            kind=Site.Kind.POINT,
            region=self.zhangbei,
            address="张北县张北镇新村路12号",
            categories=["refrigerator", "tv", "scrap_steel", "paper"],
            offers_pickup=True,
        )

    @cached_property
    def slot(self) -> Any:
        from huanxin.recycling.models import PickupSlot

        start = self.now + dt.timedelta(days=1)
        return PickupSlot.objects.create(
            site=self.site, starts_at=start, ends_at=start + dt.timedelta(hours=3), capacity=5
        )

    def book(self, actor: User) -> Any:
        from huanxin.recycling import services

        return services.book_pickup(
            actor=actor,
            slot=self.slot,
            region=self.zhangbei,
            items=[services.ItemIn("refrigerator", 1)],
            contact_name="李明",
            phone="13812345678",
            address="张北县张北镇幸福小区3号楼2单元501",
        )

    @cached_property
    def booking(self) -> Any:
        return self.book(self[CITIZEN])

    @cached_property
    def accepted_booking(self) -> Any:
        from huanxin.recycling import services

        return services.accept_booking(actor=self[RECYCLER], booking=self.booking)

    @cached_property
    def certificate(self) -> Any:
        return self.issue(self[RECYCLER])

    def issue(self, actor: User, **kwargs: Any) -> Any:
        from huanxin.recycling import services

        return services.issue_certificate(
            actor=actor, kind="take_back", site=self.site, category="refrigerator", owner_name="赵建国", **kwargs
        )

    def intake(self, actor: User, **kwargs: Any) -> Any:
        from huanxin.recycling import services

        return services.record_collection(
            actor=actor,
            site=self.site,
            received_on=self.today,
            source="person",
            category="refrigerator",
            units=1,
            **kwargs,
        )

    # --- projects ---

    @cached_property
    def enterprise(self) -> Any:
        from huanxin.projects import services

        return services.register_enterprise(
            actor=self[TF],
            uscc=credit_code(1, "130722"),
            name=self.firm.name,
            region=self.zhangbei,
            field="construction",
            organisation=self.firm,
        )[0]

    @cached_property
    def project(self) -> Any:
        from huanxin.projects import services

        return services.save_project(
            actor=self[ENTERPRISE],
            enterprise=self.enterprise,
            title="装配式建筑生产线改造",
            field="construction",
            total_investment_fen=50_000_000_00,
            equipment_investment_fen=30_000_000_00,
            starts_on=dt.date(2025, 3, 1),
            ends_on=dt.date(2026, 6, 30),
            annual_energy_tce=Decimal("1200"),
        )

    def add_item(self, actor: User) -> Any:
        from huanxin.projects import services

        return services.save_item(
            actor=actor, project=self.project, name="螺杆空气压缩机", quantity=2, unit_price_fen=35_000_000,
            category="air_compressor", grade="1级",
        )  # fmt: skip

    @cached_property
    def submitted_project(self) -> Any:
        from huanxin.projects import services

        self.add_item(self[ENTERPRISE])
        return services.submit_project(actor=self[ENTERPRISE], project=self.project)

    @cached_property
    def county_approved_project(self) -> Any:
        from huanxin.projects import services

        return services.review_project(actor=self[COUNTY], project=self.submitted_project, decision="approve")

    @cached_property
    def approved_project(self) -> Any:
        from huanxin.projects import services

        return services.review_project(actor=self[DEPT], project=self.county_approved_project, decision="approve")

    # --- subsidies ---

    @cached_property
    def programme(self) -> Any:
        from huanxin.subsidies import rules
        from tests.subsidies.conftest import make_programme

        return make_programme(
            self[TF], code="matrix-appliance", parameters={**rules.DEFAULTS["appliance"], "sample_pct": 0}
        )

    def apply(self, actor: User) -> Any:
        from huanxin.subsidies.applications import ItemIn, submit_application
        from tests.subsidies.accounts import payee

        if actor.role == Role.CITIZEN:
            person = {"applicant_name": "", "applicant_id": actor.verified_resident_id, "phone": ""}
        else:
            person = {
                "applicant_name": "林芳",
                "applicant_id": identities.resident_id(self.rng),
                "phone": "13912345678",
            }
        item = ItemIn(
            kind="refrigerator",
            invoice_no=f"INV{self.rng.randrange(10**8)}",
            invoice_date=self.today,
            price_fen=4_999_00,
            grade="1",
            brand_model="海尔BCD-501",
            serial=f"SN{self.rng.randrange(10**9)}",
        )
        return submit_application(actor=actor, programme=self.programme, items=[item], **person, **payee("林芳"))

    @cached_property
    def application(self) -> Any:
        """Filed by the merchant for a customer of 张北县."""
        application = self.apply(self[MERCHANT])
        type(application).objects.filter(pk=application.pk).update(region=self.zhangbei)
        application.refresh_from_db()
        return application

    @cached_property
    def application_awaiting_material(self) -> Any:
        from huanxin.subsidies import review

        return review.decide(
            actor=self[REVIEWER], application=self.application, decision="more", reason="请补充发票照片"
        )

    @cached_property
    def approved_application(self) -> Any:
        from huanxin.subsidies import payees, review

        payees.save_merchant_account(
            actor=self[MERCHANT],
            account_name=self.shop.name,
            account_no="6222020200112233445",
            bank="中国工商银行张北支行",
            bank_code="102138000011",
        )
        return review.decide(actor=self[REVIEWER], application=self.application, decision="approve")


# The records an action works on, made before any actor tries it: made inside one actor's attempt, they would be
# rolled back with it.
NEEDS: dict[str, tuple[str, ...]] = {
    "supervision.complete_milestone": ("milestone",),
    "supervision.cancel_milestone": ("milestone",),
    "supervision.answer_notice": ("notice",),
    "supervision.return_notice": ("answered_notice",),
    "supervision.close_notice": ("answered_notice",),
    "monitoring.configure_indicator": ("monitoring",),
    "monitoring.save_value": ("monitoring",),
    "monitoring.submit_values": ("value",),
    "monitoring.approve_value": ("submitted_value",),
    "monitoring.return_value": ("submitted_value",),
    "recycling.open_slots": ("site",),
    "recycling.book_pickup": ("slot",),
    "recycling.accept_booking": ("booking",),
    "recycling.complete_booking": ("accepted_booking",),
    "recycling.cancel_booking": ("booking",),
    "recycling.record_collection": ("site",),
    "recycling.record_collection_on_behalf": ("site",),
    "recycling.issue_certificate": ("site",),
    "recycling.issue_certificate_on_behalf": ("site",),
    "recycling.revoke_certificate": ("certificate",),
    "recycling.record_invoice": ("site",),
    "projects.add_recognition": ("enterprise",),
    "projects.save_survey": ("enterprise",),
    "projects.save_project": ("enterprise",),
    "projects.save_item": ("project",),
    "projects.submit_project": ("project",),
    "projects.review_county": ("submitted_project",),
    "projects.review_city": ("county_approved_project",),
    "projects.record_loan": ("approved_project",),
    "projects.report_investment": ("approved_project",),
    "subsidies.change_status": ("programme",),
    "subsidies.fund": ("programme",),
    "subsidies.promote_queue": ("programme",),
    "subsidies.submit_application": ("programme",),
    "subsidies.decide": ("application",),
    "subsidies.supply_material": ("application_awaiting_material",),
    "subsidies.report_refund": ("application",),
    "subsidies.create_batch": ("approved_application",),
    "core.verify_identity": ("unverified_citizens",),
}


def _perform(action: str, w: World, actor: User) -> None:  # one case per action
    from huanxin.core import identity, tokens
    from huanxin.monitoring import services as monitoring
    from huanxin.plans import services as plans
    from huanxin.projects import services as projects
    from huanxin.recycling import invoices
    from huanxin.recycling import services as recycling
    from huanxin.subsidies import ledger, payees, payments, refunds, review
    from huanxin.subsidies import queue as subsidy_queue
    from huanxin.supervision import services as supervision

    reason = "企业系统故障，经企业书面申请由专班代录"
    match action:
        case "plans.save_measure_action":
            plans.save_measure_action(actor=actor, measure=w.measure, title="落实方案", body="分三年实施")
        case "supervision.save_report":
            supervision.save_report(actor=actor, measure=w.measure, period="2025-M06", text="本月完成8公里")
        case "supervision.add_milestone":
            supervision.add_milestone(
                actor=actor,
                measure=w.measure,
                department=w.housing,
                title="主城区改造过半",
                due_on=dt.date(2026, 6, 30),
            )
        case "supervision.complete_milestone":
            supervision.complete_milestone(actor=actor, milestone=w.milestone, done_on=w.today)
        case "supervision.cancel_milestone":
            supervision.cancel_milestone(actor=actor, milestone=w.milestone, reason="并入年度计划")
        case "supervision.issue_notice":
            supervision.issue_notice(
                actor=actor, department=w.housing, subject="进度滞后", body="请说明", due_on=w.today, measure=w.measure
            )
        case "supervision.answer_notice":
            supervision.answer_notice(actor=actor, notice=w.notice, text="已制定方案")
        case "supervision.return_notice":
            supervision.return_notice(actor=actor, notice=w.answered_notice, reason="请补充时间表")
        case "supervision.close_notice":
            supervision.close_notice(actor=actor, notice=w.answered_notice, note="已落实")
        case "monitoring.configure_indicator":
            gas, _ = w.monitoring
            monitoring.configure_indicator(actor=actor, indicator=gas, baseline_value=Decimal("10"))
        case "monitoring.save_value":
            gas, q2 = w.monitoring
            monitoring.save_value(actor=actor, indicator=gas, period=q2, region=w.zhangbei, value="4")
        case "monitoring.submit_values":
            monitoring.submit_values(actor=actor, values=[w.value])
        case "monitoring.approve_value":
            monitoring.approve_value(actor=actor, value=w.submitted_value)
        case "monitoring.return_value":
            monitoring.return_value(actor=actor, value=w.submitted_value, reason="请核实")
        case "recycling.save_site":
            recycling.save_site(
                actor=actor, organisation=w.recycling_firm, name="公会镇回收点", kind="point", region=w.zhangbei,
                address="张北县公会镇政府路1号", categories=["tv"],
            )  # fmt: skip
        case "recycling.open_slots":
            first = w.today + dt.timedelta(days=2)
            recycling.open_slots(
                actor=actor,
                site=w.site,
                first_day=first,
                last_day=first,
                windows=[(dt.time(9), dt.time(12))],
                capacity=2,
            )
        case "recycling.book_pickup":
            w.book(actor)
        case "recycling.accept_booking":
            recycling.accept_booking(actor=actor, booking=w.booking)
        case "recycling.complete_booking":
            line = recycling.LineIn("refrigerator", 1, Decimal("50"), 3000)
            recycling.complete_booking(actor=actor, booking=w.accepted_booking, lines=[line])
        case "recycling.cancel_booking":
            recycling.cancel_booking(actor=actor, booking=w.booking, reason="无法上门")
        case "recycling.record_collection":
            w.intake(actor)
        case "recycling.record_collection_on_behalf":
            w.intake(actor, on_behalf_reason=reason)
        case "recycling.issue_certificate":
            w.issue(actor)
        case "recycling.issue_certificate_on_behalf":
            w.issue(actor, on_behalf_reason=reason)
        case "recycling.revoke_certificate":
            recycling.revoke_certificate(actor=actor, certificate=w.certificate, reason="所有人填写错误")
        case "recycling.record_invoice":
            invoices.record_invoice(
                actor=actor, site=w.site, seller_name="王强", seller_id=identities.resident_id(w.rng), sold_on=w.today,
                category="scrap_steel", description="废钢", weight_kg="100", amount_fen=20_000,
            )  # fmt: skip
        case "recycling.load_townships":
            recycling.load_townships(actor=actor, data={"130722": ["矩阵测试镇"]})
        case "projects.register_enterprise":
            projects.register_enterprise(
                actor=actor, uscc=credit_code(2, "130722"), name="张北县测试企业", region=w.zhangbei, field="industry"
            )
        case "projects.add_recognition":
            projects.add_recognition(actor=actor, enterprise=w.enterprise, level="municipal", year=w.today.year)
        case "projects.save_survey":
            projects.save_survey(
                actor=actor, enterprise=w.enterprise, year=w.today.year, digital_rd_tools=True, nc_rate=Decimal("50")
            )
        case "projects.save_project":
            projects.save_project(
                actor=actor, enterprise=w.enterprise, title="节能改造", field="construction",
                total_investment_fen=10_000_000_00, equipment_investment_fen=5_000_000_00,
                starts_on=dt.date(2025, 3, 1), ends_on=dt.date(2026, 6, 30), annual_energy_tce=Decimal("100"),
            )  # fmt: skip
        case "projects.save_item":
            w.add_item(actor)
        case "projects.submit_project":
            w.add_item(w[ENTERPRISE])
            projects.submit_project(actor=actor, project=w.project)
        case "projects.review_county":
            projects.review_project(actor=actor, project=w.submitted_project, decision="approve")
        case "projects.review_city":
            projects.review_project(actor=actor, project=w.county_approved_project, decision="approve")
        case "projects.record_loan":
            projects.record_loan(
                actor=actor, project=w.approved_project, bank="中国银行张北支行", amount_fen=1_000_000_00, rate_bp=350,
                term_months=36, granted_on=w.today,
            )  # fmt: skip
        case "projects.report_investment":
            projects.report_investment(
                actor=actor, project=w.approved_project, period="2025-Q2", completed_fen=100_000_00, equipment_fen=0
            )
        case "subsidies.create_programme":
            from tests.subsidies.conftest import make_programme

            make_programme(actor, code="matrix-new")
        case "subsidies.change_status":
            ledger.change_status(actor=actor, programme=w.programme, status="paused", reason="核查")
        case "subsidies.fund":
            ledger.fund(actor=actor, programme=w.programme, amount_fen=100_00, note="追加")
        case "subsidies.promote_queue":
            subsidy_queue.promote_queue(actor=actor, programme=w.programme)
        case "subsidies.submit_application":
            w.apply(actor)
        case "subsidies.decide":
            review.decide(actor=actor, application=w.application, decision="approve")
        case "subsidies.supply_material":
            review.supply_material(actor=actor, application=w.application_awaiting_material, note="已补充发票照片")
        case "subsidies.report_refund":
            refunds.report_refund(actor=actor, application=w.application, reason="顾客七日无理由退货")
        case "subsidies.save_merchant_account":
            payees.save_merchant_account(
                actor=actor, account_name="某商户", account_no="6222020200112233445", bank="中国工商银行张北支行",
                bank_code="102138000011",
            )  # fmt: skip
        case "subsidies.create_batch":
            payments.create_batch(actor=actor, programme=w.approved_application.programme)
        case "core.issue_token":
            tokens.issue_token(actor=actor, name="对接系统")
        case "core.verify_identity":
            identity.verify_identity(
                actor=actor, name="林芳", resident_id=identities.resident_id(w.rng), phone="13912345678"
            )
        case _:
            raise AssertionError(f"no way to perform {action}")


class _Undo(Exception):
    """Raised to roll one actor's attempt back, so every actor meets the same records."""


def _outcome(action: str, world: World, who: str) -> str:
    try:
        with transaction.atomic():
            _perform(action, world, world[who])
            raise _Undo
    except _Undo:
        return "allowed"
    except PermissionDenied:
        return "refused"
    except ValidationError as exc:
        return f"invalid: {exc.messages}"


@pytest.mark.parametrize("action", list(MATRIX))
def test_each_role_may_do_what_the_matrix_says(plan: Any, action: str) -> None:
    world = World()
    for name in NEEDS.get(action, ()):
        getattr(world, name)
    allowed = MATRIX[action][1]
    outcomes = {who: _outcome(action, world, who) for who in ACTORS}
    expected = {who: "allowed" if who in allowed else "refused" for who in ACTORS}
    assert {who: got for who, got in outcomes.items() if got != expected[who]} == {}


def test_the_matrix_names_only_known_actors() -> None:
    for action, (_, allowed) in MATRIX.items():
        assert allowed <= set(ACTORS), action


def render() -> str:
    """docs/permissions.md, from MATRIX."""
    columns = list(ACTORS)
    lines = [
        "# 写操作权限表（角色 × 操作）",
        "",
        "<!-- Generated from tests/test_write_matrix.py (MATRIX); do not edit by hand. Regenerate with:",
        f"     {REGENERATE} -->",
        "",
        "Each write below goes through its service function, which checks the caller; `tests/test_write_matrix.py`",
        "performs every one as every actor and asserts exactly these outcomes (✓ allowed, — refused with",
        "PermissionDenied). Roles that work for a department, county or organisation are tried inside and outside it.",
        "",
        "| 列 | 角色 |",
        "|---|---|",
        *(f"| {n} | {label} |" for n, label in enumerate(ACTORS.values(), start=1)),
        "",
        "| 操作 | 服务 | " + " | ".join(str(n) for n in range(1, len(columns) + 1)) + " |",
        "|---|---|" + "---|" * len(columns),
    ]
    for action, (label, allowed) in MATRIX.items():
        marks = " | ".join("✓" if who in allowed else "—" for who in columns)
        lines.append(f"| {label} | `{action}` | {marks} |")
    return "\n".join(lines) + "\n"


def test_the_committed_document_is_the_matrix() -> None:
    assert DOC.read_text(encoding="utf-8") == render(), f"docs/permissions.md is stale: run {REGENERATE}"


if __name__ == "__main__":
    sys.stdout.write(render())
