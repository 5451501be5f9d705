"""The project library: declaring, the energy-efficiency rule, review by the county then the field department,
scoping, financing and investment reports, and the metrics."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from huanxin.core import metrics
from huanxin.core.models import AuditEvent, Organisation, Region
from huanxin.core.roles import Role
from huanxin.projects import rules, services
from huanxin.projects.models import Project
from tests.factories import UserFactory, officer
from tests.projects.conftest import add_item, credit_code, declare

pytestmark = pytest.mark.django_db


def codes(exc: ValidationError) -> set[str]:
    if hasattr(exc, "error_dict"):
        return {e.code for errors in exc.error_dict.values() for e in errors}
    return {e.code for e in exc.error_list}


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"total_investment_fen": -1}, "invalid_investment"),
        ({"equipment_investment_fen": -5}, "negative_investment"),
        ({"equipment_investment_fen": 60_000_000_00}, "equipment_above_total"),
        ({"ends_on": dt.date(2024, 1, 1)}, "dates_reversed"),
        ({"annual_energy_tce": Decimal(-1)}, "negative_energy"),
        ({"field": "space"}, "invalid_field"),
        ({"title": " "}, "required"),
        ({"ends_on": dt.date(9999, 12, 31)}, "date_out_of_range"),
        ({"starts_on": dt.date(1, 1, 1)}, "date_out_of_range"),
        ({"total_investment_fen": 10**13 + 1}, "investment_too_large"),
        ({"annual_energy_tce": Decimal("1e10")}, "energy_too_large"),
    ],
)
def test_bad_projects_are_refused(owner, enterprise, change, code) -> None:
    with pytest.raises(ValidationError) as exc:
        declare(owner, enterprise, **change)
    assert code in codes(exc.value)
    assert not Project.objects.exists()


def test_bad_items_are_refused(owner, enterprise) -> None:
    project = declare(owner, enterprise)
    with pytest.raises(ValidationError) as exc:
        add_item(owner, project, quantity=2**31)
    assert codes(exc.value) == {"invalid_quantity"}
    with pytest.raises(ValidationError) as exc:
        add_item(owner, project, grade="6级")
    assert codes(exc.value) == {"unknown_grade"}
    assert "1级、2级、3级" in exc.value.messages[0]
    with pytest.raises(ValidationError) as exc:
        add_item(owner, project, category="perpetual_motion")
    assert codes(exc.value) == {"unknown_category"}
    with pytest.raises(ValidationError) as exc:
        add_item(owner, project, category="unlabelled", grade="1级")
    assert codes(exc.value) == {"unknown_grade"}
    with pytest.raises(ValidationError) as exc:
        add_item(owner, project, unit_price_fen=-100)
    assert codes(exc.value) == {"negative_price"}
    assert not project.items.exists()


def test_the_rule_flags_items_below_the_energy_saving_level(owner, enterprise) -> None:
    project = declare(owner, enterprise)
    ok = add_item(owner, project, grade="2级")
    low = add_item(owner, project, grade="3级", name="老型号空压机")
    aircon = add_item(
        owner, project, category="room_air_conditioner", grade="3级", name="办公空调", unit_price_fen=400_000
    )
    pump = add_item(owner, project, category="pump", grade="能效限定值", name="清水泵", unit_price_fen=800_000)
    add_item(owner, project, category="unlabelled", grade="", name="五轴加工中心", unit_price_fen=5_000_000_00)
    assert rules.applicability(project).applies
    assert "12000吨标准煤" in rules.applicability(project).reason
    flagged = {f.item.pk: f.reason for f in rules.flags(project)}
    assert set(flagged) == {low.pk, aircon.pk, pump.pk}
    assert flagged[low.pk] == "容积式空气压缩机能效3级，低于节能水平（GB 19153-2019 2级）"
    assert ok.pk not in flagged


def test_the_rule_applies_by_energy_use_or_central_funds(owner, enterprise) -> None:
    small = declare(owner, enterprise, annual_energy_tce=Decimal("800"))
    add_item(owner, small, grade="3级")
    assert not rules.applicability(small).applies and rules.flags(small) == []
    funded = declare(owner, enterprise, annual_energy_tce=Decimal("800"), seeks_central_funds=True)
    add_item(owner, funded, grade="3级")
    assert rules.applicability(funded).applies and "申请中央财政资金" in rules.applicability(funded).reason
    assert len(rules.flags(funded)) == 1


def test_a_flagged_project_is_not_approved_until_fixed(owner, enterprise, county, miit) -> None:
    project = declare(owner, enterprise)
    item = add_item(owner, project, grade="3级")
    services.submit_project(actor=owner, project=project)
    with pytest.raises(ValidationError) as exc:
        services.review_project(actor=county, project=project, decision="approve")
    assert codes(exc.value) == {"below_energy_saving"}
    assert "低于节能水平" in exc.value.messages[0]
    project.refresh_from_db()
    assert project.status == Project.Status.SUBMITTED
    services.review_project(actor=county, project=project, decision="return", reason="空压机请换成2级能效")
    add_item(owner, project, grade="1级", item=item)
    services.submit_project(actor=owner, project=project)
    services.review_project(actor=county, project=project, decision="approve")
    with pytest.raises(PermissionDenied):
        services.review_project(actor=county, project=project, decision="approve")  # the city's step now
    services.review_project(actor=miit, project=project, decision="approve")
    project.refresh_from_db()
    assert project.status == Project.Status.APPROVED and project.approved_at is not None
    steps = list(project.events.values_list("status", flat=True))
    assert steps == ["draft", "submitted", "returned", "submitted", "county_approved", "approved"]
    assert AuditEvent.objects.filter(object_type="projects.project", action="projects.project_approve").count() == 2


def test_an_exemption_with_a_reason_lets_a_flagged_project_through(owner, enterprise, county) -> None:
    project = declare(owner, enterprise)
    add_item(owner, project, grade="3级")
    services.submit_project(actor=owner, project=project)
    with pytest.raises(ValidationError):
        services.exempt_project(actor=county, project=project, reason="短")
    services.exempt_project(actor=county, project=project, reason="该规格无达到节能水平的同类产品，附三家厂商说明")
    services.review_project(actor=county, project=project, decision="approve")
    project.refresh_from_db()
    assert project.status == Project.Status.COUNTY_APPROVED and project.exempted_by == county


def test_reviews_need_the_right_reviewer_and_a_reason(owner, enterprise, county, plan) -> None:
    project = declare(owner, enterprise)
    add_item(owner, project)
    services.submit_project(actor=owner, project=project)
    other_county = UserFactory(
        role=Role.COUNTY_OFFICER,
        organisation=Organisation.objects.create(
            name="张北县人民政府", kind="county_government", region=Region.objects.get(code="130722")
        ),
    )
    with pytest.raises(PermissionDenied):
        services.review_project(actor=other_county, project=project, decision="approve")
    with pytest.raises(ValidationError) as exc:
        services.review_project(actor=county, project=project, decision="reject")
    assert codes(exc.value) == {"reason_required"}
    services.review_project(actor=county, project=project, decision="approve")
    with pytest.raises(PermissionDenied, match="市工业和信息化局"):
        services.review_project(actor=officer("市交通运输局"), project=project, decision="approve")


def test_submission_needs_a_list_within_the_equipment_investment(owner, enterprise) -> None:
    project = declare(owner, enterprise, equipment_investment_fen=1_000_000)  # 1万元
    with pytest.raises(ValidationError) as exc:
        services.submit_project(actor=owner, project=project)
    assert codes(exc.value) == {"no_items"}
    add_item(owner, project)  # 70万元
    with pytest.raises(ValidationError) as exc:
        services.submit_project(actor=owner, project=project)
    assert codes(exc.value) == {"items_above_equipment_investment"}


def test_scoping(owner, enterprise, county, miit, boss, xuanhua) -> None:
    project = declare(owner, enterprise)
    add_item(owner, project)
    other_org = Organisation.objects.create(name="别家企业", kind="enterprise", region=xuanhua)
    stranger = UserFactory(role=Role.ENTERPRISE, organisation=other_org)
    assert list(Project.objects.visible_to(owner)) == [project]
    assert not Project.objects.visible_to(stranger).exists()
    assert not Project.objects.visible_to(county).exists()  # drafts stay with the enterprise
    services.submit_project(actor=owner, project=project)
    assert list(Project.objects.visible_to(county)) == [project]
    zhangbei = UserFactory(
        role=Role.COUNTY_OFFICER,
        organisation=Organisation.objects.create(
            name="张北县人民政府", kind="county_government", region=Region.objects.get(code="130722")
        ),
    )
    assert not Project.objects.visible_to(zhangbei).exists()
    assert not Project.objects.visible_to(miit).exists()  # until the county passes it
    services.review_project(actor=county, project=project, decision="approve")
    assert list(Project.objects.visible_to(miit)) == [project]
    assert not Project.objects.visible_to(officer("市交通运输局")).exists()
    assert Project.objects.visible_to(boss).exists()
    assert not Project.objects.visible_to(UserFactory(role=Role.CITIZEN)).exists()
    with pytest.raises(PermissionDenied):
        services.save_project(actor=stranger, enterprise=enterprise, project=project, title="改")


def _approved(owner, enterprise, county, miit, **kwargs) -> Project:
    project = declare(owner, enterprise, **kwargs)
    add_item(owner, project)
    services.submit_project(actor=owner, project=project)
    services.review_project(actor=county, project=project, decision="approve")
    return services.review_project(actor=miit, project=project, decision="approve")


def test_loans_earn_the_interest_subsidy_of_their_year(owner, enterprise, county, miit) -> None:
    project = _approved(owner, enterprise, county, miit, seeks_loan=True, loan_wanted_fen=20_000_000_00)
    loan = services.record_loan(
        actor=owner, project=project, bank="中国银行张家口分行", amount_fen=10_000_000_00, rate_bp=345,
        term_months=36, granted_on=dt.date(2025, 5, 1), relending=True,
    )  # fmt: skip
    assert loan.interest_subsidy_fen == 20_000_000  # 1000万元 × 1个百分点 × 2年 = 20万元
    assert (
        services.interest_subsidy_fen(amount_fen=10**9, rate_bp=120, term_months=12, granted_on=dt.date(2026, 1, 1))
        == 12_000_000
    )
    assert (
        services.interest_subsidy_fen(amount_fen=10**9, rate_bp=400, term_months=6, granted_on=dt.date(2026, 1, 1))
        == 7_500_000
    )
    assert (
        services.interest_subsidy_fen(amount_fen=10**9, rate_bp=400, term_months=12, granted_on=dt.date(2019, 1, 1))
        == 0
    )
    with pytest.raises(ValidationError) as exc:
        services.record_loan(
            actor=owner,
            project=project,
            bank="",
            amount_fen=0,
            rate_bp=0,
            term_months=0,
            granted_on=dt.date(2025, 1, 1),
        )
    assert {"required", "invalid_amount", "invalid_rate", "invalid_term"} <= codes(exc.value)


def test_investment_reports_and_the_metrics(owner, enterprise, county, miit, xuanhua, boss) -> None:
    project = _approved(owner, enterprise, county, miit)
    services.report_investment(
        actor=owner, project=project, period="2025-Q2", completed_fen=10_000_000_00, equipment_fen=6_000_000_00
    )
    services.report_investment(
        actor=owner, project=project, period="2025-Q2", completed_fen=12_000_000_00, equipment_fen=7_000_000_00
    )
    assert project.reports.count() == 1  # the quarter's second report replaces the first
    with pytest.raises(ValidationError) as exc:
        services.report_investment(
            actor=owner, project=project, period="2025-Q3", completed_fen=40_000_000_00, equipment_fen=0
        )
    assert codes(exc.value) == {"above_total_investment"}
    with pytest.raises(ValidationError) as exc:
        services.report_investment(actor=owner, project=project, period="2025-Q3", completed_fen=100, equipment_fen=200)
    assert codes(exc.value) == {"equipment_above_total"}
    with pytest.raises(ValidationError):
        services.report_investment(actor=owner, project=project, period="2025-06", completed_fen=1, equipment_fen=0)
    invest = metrics.get("projects.equipment-investment").compute(dt.date(2025, 1, 1), dt.date(2025, 12, 31))
    assert invest[xuanhua.pk] == Decimal("0.07") and invest[xuanhua.parent_id] == Decimal("0.07")  # 700万元 = 0.07亿元
    by_field = metrics.get("projects.equipment-investment.industry").compute(dt.date(2025, 4, 1), dt.date(2025, 6, 30))
    assert by_field[xuanhua.pk] == Decimal("0.07")
    assert (
        metrics.get("projects.equipment-investment.transport").compute(dt.date(2025, 1, 1), dt.date(2025, 12, 31)) == {}
    )

    services.add_recognition(actor=boss, enterprise=enterprise, level="provincial", year=2024)
    services.add_recognition(actor=boss, enterprise=enterprise, level="national", year=2025)
    sme = metrics.get("projects.specialised-sme").compute(dt.date(2025, 1, 1), dt.date(2025, 12, 31))
    assert sme[xuanhua.pk] == 1  # counted once however many recognitions
    assert metrics.get("projects.specialised-sme").compute(dt.date(2023, 1, 1), dt.date(2023, 12, 31)) == {}

    other, _ = services.register_enterprise(
        actor=boss, uscc=credit_code(2), name="第二家", region=xuanhua, field="industry", above_designated_size=True
    )
    services.save_survey(
        actor=owner,
        enterprise=enterprise,
        year=2025,
        digital_rd_tools=True,
        nc_rate=Decimal(80),
        capacity=Decimal(100),
        benchmark_capacity=Decimal(40),
    )
    services.save_survey(
        actor=boss,
        enterprise=other,
        year=2024,
        digital_rd_tools=False,
        nc_rate=Decimal(60),
        capacity=Decimal(300),
        benchmark_capacity=Decimal(60),
    )
    end = dt.date(2025, 12, 31)
    assert metrics.get("projects.digital-rd-tools-rate").compute(end, end)[xuanhua.pk] == Decimal("50.0")
    assert metrics.get("projects.nc-rate").compute(end, end)[xuanhua.pk] == Decimal("70.0")
    assert metrics.get("projects.benchmark-capacity-share").compute(end, end)[xuanhua.pk] == Decimal("25.0")
    with pytest.raises(ValidationError) as exc:
        services.save_survey(actor=owner, enterprise=enterprise, year=2025, digital_rd_tools=True, nc_rate=Decimal(120))
    assert codes(exc.value) == {"invalid_rate"}


def test_enterprise_registration_checks_the_credit_code(boss, xuanhua) -> None:
    good = credit_code(7)
    with pytest.raises(ValidationError) as exc:
        services.register_enterprise(
            actor=boss,
            uscc=good[:-1] + ("0" if good[-1] != "0" else "1"),
            name="某企业",
            region=xuanhua,
            field="industry",
        )
    assert codes(exc.value) == {"invalid_uscc"}
    enterprise, created = services.register_enterprise(
        actor=boss, uscc=good, name="某企业", region=xuanhua, field="industry"
    )
    again, created_again = services.register_enterprise(
        actor=boss, uscc=good.lower(), name="某企业", region=xuanhua, field="industry"
    )
    assert created and not created_again and again.pk == enterprise.pk
    with pytest.raises(PermissionDenied):
        services.register_enterprise(
            actor=UserFactory(role=Role.CITIZEN), uscc=good, name="x", region=xuanhua, field="industry"
        )
