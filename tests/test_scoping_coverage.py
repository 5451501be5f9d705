"""Every model of ours can be scoped: its default manager has `visible_to(user)`, and anonymous users get nothing.

A new model without it fails here, so scoping cannot be forgotten (the lesson of netbox#22283).
"""

import datetime as dt
from io import StringIO

import pytest
from django.apps import apps
from django.contrib.auth.models import AnonymousUser
from django.core.management import call_command

from huanxin.core.models import Region
from huanxin.monitoring import services as monitoring
from huanxin.monitoring.periods import PeriodRef
from huanxin.plans import services as plans
from huanxin.plans.models import Indicator, Measure
from tests.factories import OrganisationFactory, officer, task_force
from tests.subsidies.accounts import payee

OUR_APPS = ["core", "plans", "monitoring", "supervision", "recycling", "subsidies", "projects", "notices"]


def our_models():
    for label in OUR_APPS:
        yield from apps.get_app_config(label).get_models()


@pytest.mark.parametrize("model", list(our_models()), ids=lambda m: m._meta.label)
def test_model_has_visible_to(model) -> None:
    assert callable(getattr(model._default_manager, "visible_to", None)), f"{model._meta.label} has no visible_to()"


@pytest.mark.django_db
def test_anonymous_sees_nothing_of_anything(plan, settings, tmp_path) -> None:
    """One row of every model exists, and an anonymous user sees none of them."""
    OrganisationFactory()
    clerk = officer("市住房和城乡建设局")
    plans.save_measure_action(
        actor=clerk, measure=Measure.objects.get(plan=plan, code="二（二）1"), title="草稿", body="内容"
    )
    call_command("monitoring", "setup", stdout=StringIO())
    value = monitoring.save_value(
        actor=clerk,
        indicator=Indicator.objects.get(plan=plan, code="gas-pipeline-renewed-km"),
        period=monitoring.ensure_period(ref=PeriodRef.parse("2025-Q2")),
        region=Region.objects.get(code="130722"),
        value="1",
        today=dt.date(2025, 7, 1),
    )
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.MEDIA_ROOT = tmp_path
    monitoring.attach_evidence(
        actor=clerk, value=value, upload=SimpleUploadedFile("验收单.pdf", b"%PDF-1.4", "application/pdf")
    )
    from huanxin.monitoring import ledgers
    from huanxin.monitoring.models import LedgerKind

    ledgers.record_entry(
        actor=officer("市交通运输局"),
        kind=LedgerKind.objects.get(plan=plan, code="buses"),
        region=Region.objects.get(code="130722"),
        recorded_on=dt.date(2025, 3, 1),
        quantity="5",
        attributes={"fuel": "纯电动"},
    )
    from huanxin.core.models import Department
    from huanxin.supervision import services as supervision

    measure = Measure.objects.get(plan=plan, code="二（二）1")
    supervision.save_report(actor=clerk, measure=measure, period="2025-M06", text="进展")
    boss = task_force()
    housing = Department.objects.resolve("市住房和城乡建设局")
    supervision.add_milestone(
        actor=boss, measure=measure, department=housing, title="摸排", due_on=dt.date(2025, 6, 30)
    )
    notice = supervision.issue_notice(
        actor=boss, department=housing, subject="督办", body="内容", due_on=dt.date(2099, 1, 1), measure=measure
    )
    supervision.answer_notice(actor=clerk, notice=notice, text="答复")
    from huanxin.core import tokens
    from huanxin.core.roles import Role
    from tests.factories import user_with_role

    tokens.issue_token(actor=user_with_role(Role.MERCHANT), name="收银系统")
    _recycling_rows()
    _subsidies_rows()
    _projects_rows()
    from huanxin.plans import imports

    imports.create_import(actor=boss, filename="方案.xls", data=b"\xd0\xcf\x11\xe0")  # kept as a failed import
    for model in our_models():
        assert model._default_manager.exists(), f"no {model._meta.label} row to test with"
        assert not model._default_manager.visible_to(AnonymousUser()).exists(), model._meta.label


def _recycling_rows() -> None:
    """One row of every recycling model, made through the services."""
    import random

    from django.utils import timezone

    from huanxin.core.models import Organisation
    from huanxin.core.roles import Role
    from huanxin.demo import identities
    from huanxin.recycling import services as recycling
    from huanxin.recycling.models import PickupSlot, ReverseInvoice
    from tests.factories import UserFactory

    county = Region.objects.get(code="130722")
    recycling.load_townships(actor=None, data={"130722": ["张北镇"]})
    org = Organisation.objects.create(name="回收公司", kind=Organisation.Kind.RECYCLER, region=county)
    recycler = UserFactory(role=Role.RECYCLER, organisation=org)
    site = recycling.save_site(
        actor=recycler,
        organisation=org,
        name="拆解厂",
        kind="dismantler",
        region=county,
        address="张北县工业园区1号",
        categories=["car", "refrigerator"],
        qualification_no="001",
        offers_pickup=True,
    )
    start = timezone.now() + dt.timedelta(days=1)
    slot = PickupSlot.objects.create(site=site, starts_at=start, ends_at=start + dt.timedelta(hours=2), capacity=3)
    recycling.book_pickup(
        actor=UserFactory(role=Role.CITIZEN),
        slot=slot,
        region=county,
        items=[recycling.ItemIn("refrigerator", 1)],
        contact_name="李明",
        phone="13812345678",
        address="张北县幸福小区1号楼",
    )
    recycling.record_collection(
        actor=recycler, site=site, received_on=timezone.localdate(), source="person", category="refrigerator", units=1
    )
    rng = random.Random(1)
    owner = identities.resident_id(rng)
    recycling.issue_certificate(
        actor=recycler,
        kind="vehicle",
        site=site,
        category="car",
        owner_name="赵某",
        owner_id=owner,
        vin=identities.vin(rng),
        plate="冀G12345",
        fuel="petrol",
        registered_on=dt.date(2010, 1, 1),
    )
    ReverseInvoice.objects.create(
        number="FK2025000001",
        organisation=org,
        region=county,
        seller_name="赵某",
        seller_id=owner,
        seller_id_hash="x",
        sold_on=dt.date(2025, 6, 1),
        category="scrap_steel",
        amount_fen=100,
        vat_fen=0,
        iit_fen=1,
        rule=recycling.ensure_default_tax_rule(),
        created_by=recycler,
    )


def _projects_rows() -> None:
    """One row of every projects model, made through the services."""
    from decimal import Decimal

    from huanxin.core.models import Organisation
    from huanxin.core.roles import Role
    from huanxin.projects import services as projects
    from tests.factories import UserFactory, officer
    from tests.projects.conftest import credit_code

    county = Region.objects.get(code="130705")
    org = Organisation.objects.create(name="装备公司", kind=Organisation.Kind.ENTERPRISE, region=county)
    boss = task_force()
    enterprise, _ = projects.register_enterprise(
        actor=boss, uscc=credit_code(99), name="装备公司", region=county, field="industry", organisation=org
    )
    owner = UserFactory(role=Role.ENTERPRISE, organisation=org)
    projects.add_recognition(actor=boss, enterprise=enterprise, level="municipal", year=2024)
    projects.save_survey(actor=owner, enterprise=enterprise, year=2024, digital_rd_tools=True, nc_rate=Decimal(70))
    project = projects.save_project(
        actor=owner,
        enterprise=enterprise,
        title="改造",
        field="industry",
        total_investment_fen=10**10,
        equipment_investment_fen=10**9,
        starts_on=dt.date(2025, 1, 1),
        ends_on=dt.date(2025, 12, 31),
    )
    projects.save_item(
        actor=owner, project=project, name="电机", quantity=1, unit_price_fen=10**6, category="motor", grade="1级"
    )
    projects.submit_project(actor=owner, project=project)
    gov = Organisation.objects.create(name="宣化区政府", kind=Organisation.Kind.COUNTY_GOVERNMENT, region=county)
    projects.review_project(
        actor=UserFactory(role=Role.COUNTY_OFFICER, organisation=gov), project=project, decision="approve"
    )
    project = projects.review_project(actor=officer("市工业和信息化局"), project=project, decision="approve")
    projects.record_loan(
        actor=owner,
        project=project,
        bank="银行",
        amount_fen=10**8,
        rate_bp=300,
        term_months=12,
        granted_on=dt.date(2025, 6, 1),
    )
    projects.report_investment(actor=owner, project=project, period="2025-Q2", completed_fen=10**8, equipment_fen=10**7)


def _subsidies_rows() -> None:
    """A programme with its accounts and entries, an application reviewed (more material, approval) and put into
    a payment batch, made through the services."""

    from django.utils import timezone

    from huanxin.core.roles import Role
    from huanxin.subsidies import ledger, rules
    from huanxin.subsidies.applications import ItemIn, submit_application
    from tests.factories import UserFactory

    programme = ledger.create_programme(
        actor=task_force(),
        code="appliance-scoping",
        name="2025年家电以旧换新补贴",
        category="appliance",
        region=Region.objects.get(code="130700"),
        opens_on=dt.date(2000, 1, 1),
        closes_on=dt.date(2099, 12, 31),
        status="open",
        budget_fen=1_000_000,
        stripes=2,
        parameters={**rules.DEFAULTS["appliance"], "sample_pct": 0},
    )
    ledger.reserve(actor=None, programme=programme, reference="APP-1", amount_fen=10_000)
    citizen = UserFactory(role=Role.CITIZEN)
    application = submit_application(
        actor=citizen,
        programme=programme,
        applicant_name="林芳",
        applicant_id=citizen.verified_resident_id,  # a citizen applies in their own verified identity
        phone="13912345678",
        **payee("林芳"),
        items=[
            ItemIn(
                kind="tv",
                invoice_no="INV1",
                invoice_date=timezone.localdate(),
                price_fen=300_000,
                grade="1",
                serial="S1",
            )
        ],
    )
    from huanxin.subsidies import payments, review
    from tests.factories import user_with_role

    reviewer = user_with_role(Role.REVIEWER)
    review.decide(actor=reviewer, application=application, decision="more", reason="请补充旧机照片")
    review.supply_material(actor=citizen, application=application, note="已补充")
    from huanxin.subsidies import evidence  # a file of evidence with it (MEDIA_ROOT is the test's tmp_path)

    evidence.attach(
        actor=citizen, application=application, files=[evidence.Checked("invoice", b"%PDF-1.4", "application/pdf")]
    )
    review.decide(actor=reviewer, application=application, decision="approve")
    finance = user_with_role(Role.FINANCE_OFFICER)
    payments.export_bank_file(actor=finance, batch=payments.create_batch(actor=finance, programme=programme))
    from huanxin.subsidies import payees

    payees.save_merchant_account(  # a merchant's settlement account
        actor=user_with_role(Role.MERCHANT), account_name="焕新家电商行", account_no="1234567890123", bank="工行",
        bank_code="102138000018",
    )  # fmt: skip
    # a till's sale in a programme with a daily quota (its striped rows), then returned (a refund)
    import random

    from huanxin.core.models import Organisation
    from huanxin.demo import identities
    from huanxin.subsidies import refunds

    quota_programme = ledger.create_programme(
        actor=task_force(), code="appliance-quota-scoping", name="2025年家电以旧换新补贴（限额）", category="appliance",
        region=Region.objects.get(code="130700"), opens_on=dt.date(2000, 1, 1), closes_on=dt.date(2099, 12, 31),
        status="open", budget_fen=1_000_000, daily_quota_fen=500_000, stripes=2,
        parameters={**rules.DEFAULTS["appliance"], "sample_pct": 0},
    )  # fmt: skip
    store = Organisation.objects.create(name="退货商行", kind="merchant", region=Region.objects.get(code="130702"))
    till = UserFactory(role=Role.MERCHANT, organisation=store)
    sold = submit_application(
        actor=till, programme=quota_programme, applicant_name="赵敏",
        applicant_id=identities.resident_id(random.Random(9)), phone="13912345678",
        items=[ItemIn(kind="tv", invoice_no="INV-Q1", invoice_date=timezone.localdate(), price_fen=300_000, grade="1")],
    )  # fmt: skip
    refunds.report_refund(actor=till, application=sold, reason="顾客退货")
