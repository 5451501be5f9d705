from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from huanxin.core.models import User
from huanxin.core.roles import Role
from huanxin.demo.flows import jumin_car_vin
from huanxin.monitoring.models import IndicatorValue
from huanxin.monitoring.periods import Frequency
from huanxin.monitoring.selectors import latest_open_period
from huanxin.plans.models import MeasureAction, PlanImport
from huanxin.projects.models import InvestmentReport, Loan, Project
from huanxin.recycling.models import Booking, Certificate, ReverseInvoice, Site
from huanxin.subsidies import selectors
from huanxin.subsidies.models import Application, MerchantAccount, PaymentBatch, Programme

pytestmark = pytest.mark.django_db


def test_demo_creates_a_user_for_every_role_and_runs_twice(plan) -> None:
    out = StringIO()
    call_command("demo", stdout=out)
    assert "huanxin-demo-2024" in out.getvalue()
    assert {u.role for u in User.objects.all()} == set(Role.values)
    counts = (User.objects.count(), MeasureAction.objects.count(), Site.objects.count(), Certificate.objects.count())
    call_command("demo", stdout=StringIO())
    assert (
        User.objects.count(),
        MeasureAction.objects.count(),
        Site.objects.count(),
        Certificate.objects.count(),
    ) == counts
    assert MeasureAction.objects.filter(status="draft").exists()
    assert PlanImport.objects.filter(status="draft").count() == 1  # a county plan for 方案文件导入, imported once
    imported = PlanImport.objects.select_related("job__owner").get()  # by a finished job of 王建国's
    assert (imported.job.kind, imported.job.state, imported.job.owner.username) == ("plan_import", "done", "zhuanban")
    assert MeasureAction.objects.filter(status="submitted").exists()
    # the reporting history: approved quarters, and the latest one half-done for the review queue
    statuses = set(IndicatorValue.objects.values_list("status", flat=True))
    assert statuses == {"approved", "submitted", "returned", "draft"}

    # the recycling network: every kind of site, bookings in every state, certificates, invoices; the plan's
    # scrapped-car and appliance indicators are derived from it, not typed in
    assert set(Site.objects.values_list("kind", flat=True)) == set(Site.Kind.values)
    assert set(Booking.objects.values_list("status", flat=True)) == set(Booking.Status.values)
    assert set(Certificate.objects.values_list("kind", flat=True)) == set(Certificate.Kind.values)
    assert ReverseInvoice.objects.exists()
    for code in ("scrapped-cars-collected-growth", "appliances-collected-growth", "recycling-sorting-centres"):
        values = IndicatorValue.objects.filter(indicator__code=code)
        assert values.exists() and all(v.derived for v in values), code

    # the project library: every state, flagged and exempted projects, loans and investment reports
    assert set(Project.objects.values_list("status", flat=True)) == set(Project.Status.values)
    assert (
        Project.objects.exclude(exemption="").exists() and Loan.objects.exists() and InvestmentReport.objects.exists()
    )
    for code in ("specialised-sme-enterprises", "digital-rd-tools-rate", "key-process-nc-rate"):
        values = IndicatorValue.objects.filter(indicator__code=code)
        assert values.exists() and all(v.derived for v in values), code

    # subsidies: open programmes with money reserved, applications reserved and in review, car ones among them
    assert set(Programme.objects.values_list("category", flat=True)) == set(Programme.Category.values)
    assert {"reserved", "in_review", "queued"} <= set(Application.objects.values_list("status", flat=True))
    for category in Programme.Category.values:
        assert Application.objects.filter(programme__category=category).exists(), category
    assert Application.objects.filter(programme__category="ebike", status="queued").exists()
    assert all(selectors.check_ledger(p).problems == [] for p in Programme.objects.all())
    # payments: the merchant's settlement account, a batch settled and batches to export (made once, not twice);
    # every application paid to its applicant carries the account
    assert MerchantAccount.objects.filter(organisation__name="张家口焕新家电商行").exists()
    assert {"settled", "draft"} <= set(PaymentBatch.objects.values_list("status", flat=True))
    assert Application.objects.filter(status="refunded", refund__isnull=False).count() == 1  # 退货, once
    assert PaymentBatch.objects.count() == 3
    assert not Application.objects.filter(programme__payee="applicant", payee_account="").exists()

    # every README flow has its accounts and its data (tests/test_flows_browser.py walks them in Chromium)
    qiye = Project.objects.filter(enterprise__organisation__users__username="qiye", status="submitted")
    assert qiye.filter(region__code="130705").exists()  # waits for 宣化区's officer
    assert User.objects.get(username="xuanhua").organisation.region.code == "130705"
    two_person = Application.objects.filter(status="in_review", decisions__actor__username="shenhe")
    assert two_person.filter(programme__category="car_scrap").count() == 2  # waiting for shenhe2
    scrapped = Certificate.objects.get(vin=jumin_car_vin())  # 林芳's old car, by the dismantler's clerk
    assert scrapped.kind == "vehicle" and scrapped.issued_by.username == "chaijie"
    latest = latest_open_period(Frequency.QUARTER, timezone.localdate())
    assert not IndicatorValue.objects.filter(region__code="130722", period__code=latest.code, derived=False).exists()

    # the printed password works
    client = Client()
    response = client.post("/accounts/login/", {"username": "zhujian", "password": "huanxin-demo-2024"})
    assert response.status_code == 302
    assert "我的任务" in client.get("/").content.decode()


def test_demo_refuses_production(settings) -> None:
    from django.core.management import CommandError

    settings.PRODUCTION = True
    with pytest.raises(CommandError, match="生产模式"):
        call_command("demo", stdout=StringIO())
