"""A merchant's settlement (商户清算): what it advanced at the till, what has been paid back, what is still owed and
for how many days, oldest first; officials see every merchant, the one owed longest first. Every date is derived
from one `now` the test fixes (the day ages are counted to included), so the figures never depend on the hour."""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from openpyxl import load_workbook

from huanxin.core.models import Organisation, Region, User
from huanxin.core.roles import Role
from huanxin.demo import identities
from huanxin.subsidies import payees, payments, refunds, rules, settlement, settlement_views
from huanxin.subsidies.applications import ItemIn, submit_application
from huanxin.subsidies.models import Application, Programme
from huanxin.subsidies.review import decide
from tests.factories import UserFactory, user_with_role
from tests.subsidies.accounts import payee
from tests.subsidies.conftest import make_programme

pytestmark = pytest.mark.django_db
YUAN = 100
FRIDGE_FEN = 999_80  # a grade-1 fridge at 4,999 元: 20%


@pytest.fixture
def now(monkeypatch) -> dt.datetime:
    """The moment the test runs at: submissions are made so many days before it, and ages are counted to its day."""
    moment = timezone.now()
    monkeypatch.setattr(settlement, "today", lambda: timezone.localdate(moment))
    return moment


def shop(name: str) -> User:
    store = Organisation.objects.create(name=name, kind="merchant", region=Region.objects.get(code="130702"))
    return UserFactory(role=Role.MERCHANT, organisation=store)


def sale(merchant: User, programme: Programme, n: int, days_ago: int, now: dt.datetime, **kwargs: Any) -> Application:
    """Customer n's fridge, sold at the merchant's till `days_ago` days before `now`."""
    at = now - dt.timedelta(days=days_ago)
    return submit_application(
        actor=merchant,
        programme=programme,
        applicant_name="林芳",
        applicant_id=identities.resident_id(random.Random(500 + n)),
        phone="13912345678",
        items=[
            ItemIn(
                kind="refrigerator",
                invoice_no=f"S-{programme.pk}-{n}",
                invoice_date=timezone.localdate(at),
                price_fen=4_999 * YUAN,
                grade="1",
            )
        ],
        now=at,
        **kwargs,
    )


@pytest.fixture
def world(boss, now) -> dict[str, Any]:
    """Two merchants' claims in a merchant-paid programme, in every state, and what is not a claim."""
    programme = make_programme(
        boss, parameters={**rules.DEFAULTS["appliance"], "sample_pct": 0}, budget_fen=100_000 * YUAN
    )
    a, b = shop("张家口焕新家电商行"), shop("宣化百货电器城")
    payees.save_merchant_account(
        actor=a, account_name="张家口焕新家电商行", account_no="110060149018000123456", bank="交通银行张家口分行",
        bank_code="301138000012",
    )  # fmt: skip
    reviewer, finance = user_with_role(Role.REVIEWER), user_with_role(Role.FINANCE_OFFICER)
    claims = {days: sale(a, programme, days, days, now) for days in (20, 10, 7, 5, 3, 1)}
    other = sale(b, programme, 99, 15, now)
    for days in (10, 5):
        decide(actor=reviewer, application=claims[days], decision="approve")
    decide(actor=reviewer, application=claims[3], decision="reject", reason="发票与商品不符")
    refunds.report_refund(actor=a, application=claims[7], reason="顾客退货")  # the sale undone: no claim
    batch = payments.create_batch(actor=finance, programme=programme)
    payments.export_bank_file(actor=finance, batch=batch)
    answer = f"申请编号,结果,银行流水号,失败原因\r\n{claims[5].number},成功,BANK-5,\r\n".encode()
    payments.import_bank_result(actor=finance, batch=batch, data=answer)  # 10 days' stays pending in the batch
    # not claims: a citizen filing alone, and a sale in a programme that pays the applicant
    alone = ItemIn(
        kind="tv", invoice_no="ALONE-1", invoice_date=timezone.localdate(now), price_fen=3_000 * YUAN, grade="1"
    )
    citizen = UserFactory(role=Role.CITIZEN)  # in the account's verified identity
    submit_application(
        actor=citizen, programme=programme, applicant_name="", applicant_id="", phone="", items=[alone], **payee()
    )
    to_applicant = make_programme(
        boss,
        code="appliance-to-applicant",
        payee=Programme.Payee.APPLICANT,
        parameters={**rules.DEFAULTS["appliance"], "sample_pct": 0},
        budget_fen=100_000 * YUAN,
    )
    sale(a, to_applicant, 30, 25, now, **payee("林芳"))
    return {"programme": programme, "a": a, "b": b, "claims": claims, "other": other, "batch": batch}


def test_a_merchants_figures_and_ages(world, now) -> None:
    a, claims = world["a"], world["claims"]
    totals = settlement.totals(a.organisation_id)
    assert (totals.advanced_count, totals.advanced_fen) == (5, 5 * FRIDGE_FEN)  # the refunded sale is no claim
    assert (totals.settled_count, totals.settled_fen) == (1, FRIDGE_FEN)
    assert (totals.pending_count, totals.pending_fen) == (3, 3 * FRIDGE_FEN)
    assert (totals.refused_count, totals.refused_fen) == (1, FRIDGE_FEN)
    assert totals.advanced_fen == totals.settled_fen + totals.pending_fen + totals.refused_fen
    today = timezone.localdate(now)
    assert totals.oldest_days(today) == 20
    pending = list(settlement.claims(a.organisation_id, "pending"))
    assert [c.number for c in pending] == [claims[d].number for d in (20, 10, 1)]  # oldest first
    assert [settlement.age_days(c.created_at, today) for c in pending] == [20, 10, 1]
    assert [c.batch_number for c in pending] == [None, world["batch"].number, None]
    settled = list(settlement.claims(a.organisation_id, "settled"))
    assert [c.number for c in settled] == [claims[5].number] and settled[0].paid_at is not None
    assert [c.number for c in settlement.claims(a.organisation_id, "refused")] == [claims[3].number]
    # the other merchant, and nobody else's sales
    other = settlement.totals(world["b"].organisation_id)
    assert (other.pending_count, other.oldest_days(today)) == (1, 15)
    assert [r.organisation for r in settlement.by_merchant()] == [a.organisation, world["b"].organisation]


def test_the_merchant_sees_its_own_only(world, now) -> None:
    a, b, claims = world["a"], world["b"], world["claims"]
    client = Client()
    client.force_login(a)
    page = client.get("/subsidies/settlement/").content.decode()
    assert "补贴垫付与结算" in page and "4,999.00" in page and "2,999.40" in page and "最久 20 天" in page
    table = page[page.index('id="claims"') :]
    assert table.index(claims[20].number) < table.index(claims[10].number) < table.index(claims[1].number)
    assert world["batch"].number in table and world["other"].number not in page
    assert "1100*************3456" in page and "110060149018000123456" not in page  # its account, masked
    settled = client.get("/subsidies/settlement/", {"show": "settled"}).content.decode()
    assert claims[5].number in settled and claims[20].number not in settled and "到账时间" in settled
    assert claims[3].number in client.get("/subsidies/settlement/", {"show": "refused"}).content.decode()
    assert client.get(f"/subsidies/settlement/{b.organisation_id}/").status_code == 404
    assert client.get(f"/subsidies/settlement/{a.organisation_id}/").status_code == 200
    exported = client.get("/subsidies/settlement/", {"format": "csv"})
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert rows[0][:6] == ["申请编号", "补贴项目", "提交日期", "补贴金额（元）", "状态", "账龄（天）"]
    assert [(r[0], r[3], r[5]) for r in rows[1:]] == [
        (claims[20].number, "999.80", "20"),
        (claims[10].number, "999.80", "10"),
        (claims[1].number, "999.80", "1"),
    ]
    assert [r[6] for r in rows[1:]] == ["", world["batch"].number, ""]
    workbook = client.get("/subsidies/settlement/", {"format": "xlsx", "show": "settled"})
    sheet = load_workbook(io.BytesIO(workbook.content)).active
    submitted = timezone.localdate(claims[5].created_at).isoformat()
    assert [c.value for c in sheet[2]][:5] == [claims[5].number, world["programme"].name, submitted, "999.80", "已发放"]


def test_officials_see_every_merchant_owed_longest_first(world, now) -> None:
    a, b = world["a"], world["b"]
    for role in (Role.FINANCE_OFFICER, Role.TASK_FORCE, Role.AUDITOR):
        client = Client()
        client.force_login(user_with_role(role))
        page = client.get("/subsidies/settlement/").content.decode()
        assert page.index(a.organisation.name) < page.index(b.organisation.name), role
        assert f'href="/subsidies/settlement/{a.organisation_id}/"' in page
    detail = client.get(f"/subsidies/settlement/{b.organisation_id}/").content.decode()
    assert world["other"].number in detail and world["claims"][20].number not in detail
    rows = list(csv.reader(io.StringIO(client.get("/subsidies/settlement/?format=csv").content.decode("utf-8-sig"))))
    assert rows[0][0] == "商户" and rows[0][7] == "最久未结算（天）"
    assert [(r[0], r[5], r[6], r[7]) for r in rows[1:]] == [
        (a.organisation.name, "3", "2999.40", "20"),
        (b.organisation.name, "1", "999.80", "15"),
    ]
    for role in (Role.REVIEWER, Role.DEPARTMENT_OFFICER, Role.CITIZEN):
        client = Client()
        client.force_login(user_with_role(role))
        assert client.get("/subsidies/settlement/").status_code == 403, role
        assert client.get(f"/subsidies/settlement/{a.organisation_id}/").status_code == 404, role


def test_pages_and_empty_states(world, now, monkeypatch) -> None:
    monkeypatch.setattr(settlement_views, "PAGE", 2)
    client = Client()
    client.force_login(world["a"])
    first = client.get("/subsidies/settlement/").content.decode()
    assert "第 1 / 2 页" in first and world["claims"][1].number not in first
    second = client.get("/subsidies/settlement/", {"page": 2}).content.decode()
    assert world["claims"][1].number in second and world["claims"][20].number not in second
    newcomer = Client()
    newcomer.force_login(shop("新开业电器店"))
    empty = newcomer.get("/subsidies/settlement/").content.decode()
    assert "没有待结算的补贴" in empty and "尚未设置结算账户" in empty
    assert "还没有已结算的补贴" in newcomer.get("/subsidies/settlement/?show=settled").content.decode()


def test_nobody_has_advanced_anything_yet(plan, now) -> None:
    client = Client()
    client.force_login(user_with_role(Role.FINANCE_OFFICER))
    page = client.get("/subsidies/settlement/").content.decode()
    assert "还没有商户垫付的补贴" in page and "补贴结算" in page  # and the navigation has the entry


def test_the_navigation_leads_there(world) -> None:
    for user, shown in (
        (world["a"], True),
        (user_with_role(Role.FINANCE_OFFICER), True),
        (user_with_role(Role.REVIEWER), False),
    ):
        client = Client()
        client.force_login(user)
        assert ('href="/subsidies/settlement/"' in client.get("/subsidies/").content.decode()) is shown
