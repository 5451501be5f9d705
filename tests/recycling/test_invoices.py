"""反向开票: the 12-month cap over all recyclers (backdating included), VAT and IIT in integer fen, ID numbers,
retries, who sees what, personal data at rest, on screen, in the audit log and in the export, the form, the
demo data, and (PostgreSQL) parallel invoices for one seller near the cap."""

from __future__ import annotations

import datetime as dt
import io
import json
import random
import threading
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, connections
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook
from stdnum.cn import ric

from huanxin.core import pii
from huanxin.core.models import AuditEvent, Organisation, Region
from huanxin.core.roles import Role
from huanxin.demo import recycling_invoices as demo
from huanxin.recycling import invoices
from huanxin.recycling.models import NumberSequence, ReverseInvoice, Site
from tests.conftest import postgres_only
from tests.factories import UserFactory, task_force, user_with_role

pytestmark = pytest.mark.django_db

TODAY = dt.date(2025, 6, 30)
YUAN = 100  # fen


def rid(body: str) -> str:
    """A resident ID from its first 17 digits, with its check digit."""
    return body + demo.check_digit(body)


ZHANG = rid("13072219950312123")  # 张三丰, born 1995 in 张北县
LI = rid("13072219960101456")
WANG = rid("13072319970505789")


def codes(exc: ValidationError) -> set[str]:
    if hasattr(exc, "error_dict"):
        return {e.code or "" for errs in exc.error_dict.values() for e in errs}
    return {e.code or "" for e in exc.error_list}


# --- fixtures ----------------------------------------------------------------------------------------------


@pytest.fixture
def county(plan: Any) -> Region:
    return Region.objects.get(code="130722")


@pytest.fixture
def other_county(plan: Any) -> Region:
    return Region.objects.get(code="130723")


def _recycler(region: Region, name: str, site_name: str) -> tuple[Any, Site]:
    org = Organisation.objects.create(name=name, kind=Organisation.Kind.RECYCLER, region=region)
    user = UserFactory(role=Role.RECYCLER, organisation=org, display_name=f"{name}开票员")
    site = Site.objects.create(
        organisation=org,
        name=site_name,
        kind=Site.Kind.POINT,
        region=region,
        address=f"{region.name}幸福路1号",
        categories=["scrap_steel", "nonferrous", "paper", "refrigerator"],
        status=Site.Status.OPERATING,
    )
    return user, site


@pytest.fixture
def clerk_site(county: Region) -> tuple[Any, Site]:
    return _recycler(county, "张北县绿源再生资源回收有限公司", "张北县城区回收网点")


@pytest.fixture
def clerk(clerk_site: tuple[Any, Site]) -> Any:
    return clerk_site[0]


@pytest.fixture
def site(clerk_site: tuple[Any, Site]) -> Site:
    return clerk_site[1]


@pytest.fixture
def rival_site(other_county: Region) -> tuple[Any, Site]:
    return _recycler(other_county, "康保县再生资源回收站", "康保县城关回收网点")


def issue(user: Any, site: Site, **overrides: Any) -> ReverseInvoice:
    fields: dict[str, Any] = {
        "seller_name": "张三丰",
        "seller_id": ZHANG,
        "sold_on": dt.date(2025, 6, 10),
        "category": "scrap_steel",
        "description": "废钢（重废）",
        "weight_kg": Decimal("520.5"),
        "amount_fen": 1_200 * YUAN,
        "today": TODAY,
        **overrides,
    }
    return invoices.record_invoice(actor=user, site=site, **fields)


# --- amounts -----------------------------------------------------------------------------------------------


def test_an_invoice_gets_its_number_taxes_and_audit_event(clerk, site) -> None:
    invoice = issue(clerk, site, amount_fen=1_234_57)
    assert invoice.number == "FK2025000001"
    assert (invoice.organisation, invoice.region, invoice.created_by) == (site.organisation, site.region, clerk)
    assert invoice.vat_fen == 0  # far below 100,000 yuan this month
    assert invoice.iit_fen == 617  # 123457 × 0.5% = 617.285 fen
    assert invoice.rule.source == "国家税务总局公告2024年第5号"
    second = issue(clerk, site, seller_id=LI, seller_name="李四")
    assert second.number == "FK2025000002"
    assert NumberSequence.objects.get(key="FK2025").last == 2
    event = AuditEvent.objects.get(action="invoice.recorded", object_id=str(invoice.pk))
    assert event.changes["amount_fen"] == 1_234_57 and event.changes["number"] == "FK2025000001"


@pytest.mark.parametrize(
    ("amount_fen", "iit_fen"),
    [(100, 1), (300, 2), (99, 0), (101, 1), (199, 1), (12_345, 62), (1_000_000, 5_000)],
)
def test_income_tax_is_half_a_percent_rounded_half_up_to_the_fen(clerk, site, amount_fen, iit_fen) -> None:
    assert issue(clerk, site, amount_fen=amount_fen).iit_fen == iit_fen
    assert invoices.quote(seller_id=LI, sold_on=TODAY, amount_fen=amount_fen).iit_fen == iit_fen


def test_vat_starts_when_the_sellers_month_over_all_recyclers_passes_100000_yuan(clerk, site, rival_site) -> None:
    rival, rival_point = rival_site
    may = dt.date(2025, 5, 3)
    assert issue(clerk, site, sold_on=may, amount_fen=60_000 * YUAN).vat_fen == 0
    assert issue(rival, rival_point, sold_on=dt.date(2025, 5, 20), amount_fen=39_000 * YUAN).vat_fen == 0
    # exactly 100,000 yuan in the month: still exempt
    assert issue(clerk, site, sold_on=dt.date(2025, 5, 21), amount_fen=1_000 * YUAN).vat_fen == 0
    crossing = issue(rival, rival_point, sold_on=dt.date(2025, 5, 31), amount_fen=1_234_56)
    assert crossing.vat_fen == 1_235  # 1% of 1,234.56 yuan = 12.3456 yuan → 12.35
    assert issue(clerk, site, sold_on=dt.date(2025, 5, 25), amount_fen=50).vat_fen == 1  # 0.5 fen rounds up
    # a new month starts from nothing; other sellers are not affected
    assert issue(clerk, site, sold_on=dt.date(2025, 6, 1), amount_fen=500 * YUAN).vat_fen == 0
    assert issue(clerk, site, seller_id=LI, sold_on=dt.date(2025, 5, 31), amount_fen=500 * YUAN).vat_fen == 0
    q = invoices.quote(seller_id=ZHANG, sold_on=dt.date(2025, 5, 31), amount_fen=100)
    assert q.month_fen == 100_000 * YUAN + 1_234_56 + 50 and q.vat_fen == 1
    assert q.year_fen == q.month_fen + 500 * YUAN  # the June invoice is in the year, not in May


# --- the 12-month cap --------------------------------------------------------------------------------------


def test_the_cap_counts_all_recyclers_and_names_the_headroom(clerk, site, rival_site) -> None:
    rival, rival_point = rival_site
    issue(clerk, site, sold_on=dt.date(2025, 1, 10), amount_fen=4_000_000 * YUAN)
    issue(rival, rival_point, sold_on=dt.date(2025, 3, 1), amount_fen=900_000 * YUAN)
    with pytest.raises(ValidationError) as refused:
        issue(clerk, site, sold_on=dt.date(2025, 6, 1), amount_fen=200_000 * YUAN)
    assert codes(refused.value) == {"over_annual_cap"}
    message = refused.value.message_dict["amount_fen"][0]
    assert "500万元" in message and "100,000.00元" in message and "国家税务总局公告2024年第5号" in message
    q = invoices.quote(seller_id=ZHANG, sold_on=dt.date(2025, 6, 1), amount_fen=200_000 * YUAN)
    assert (q.rolling_fen, q.headroom_fen, q.year_fen, q.month_fen) == (
        4_900_000 * YUAN,
        100_000 * YUAN,
        4_900_000 * YUAN,
        0,
    )
    assert q.refusal == message
    assert ReverseInvoice.objects.count() == 2
    # up to the cap exactly is allowed; then nothing more, from anyone, until the window moves on
    issue(clerk, site, sold_on=dt.date(2025, 6, 1), amount_fen=100_000 * YUAN)
    with pytest.raises(ValidationError, match="0.00元"):
        issue(rival, rival_point, sold_on=dt.date(2025, 6, 2), amount_fen=1)
    # 365 days after the big January sale it has left the window (window ending D covers D-364 … D)
    assert invoices.quote(seller_id=ZHANG, sold_on=dt.date(2026, 1, 9), amount_fen=1).refusal
    assert not invoices.quote(seller_id=ZHANG, sold_on=dt.date(2026, 1, 10), amount_fen=4_000_000 * YUAN).refusal
    # other sellers are untouched
    assert issue(clerk, site, seller_id=LI, seller_name="李四", amount_fen=300_000 * YUAN).pk


def test_a_backdated_invoice_may_not_break_a_later_window(clerk, site) -> None:
    issue(clerk, site, sold_on=dt.date(2024, 7, 1), amount_fen=1_500_000 * YUAN)
    issue(clerk, site, sold_on=dt.date(2025, 6, 20), amount_fen=3_000_000 * YUAN)
    # on 2024-06-25 the 12 months behind hold nothing, but the window ending 2025-06-20 (from 2024-06-21) would
    # reach 5.3 million
    backdated = invoices.quote(seller_id=ZHANG, sold_on=dt.date(2024, 6, 25), amount_fen=800_000 * YUAN)
    assert backdated.rolling_fen == 0
    assert (backdated.headroom_fen, backdated.binding_end) == (500_000 * YUAN, dt.date(2025, 6, 20))
    with pytest.raises(ValidationError) as refused:
        issue(clerk, site, sold_on=dt.date(2024, 6, 25), amount_fen=800_000 * YUAN)
    assert codes(refused.value) == {"over_annual_cap"}
    assert "截至2025年06月20日" in refused.value.message_dict["amount_fen"][0]
    # a day before that window opens, the same sale is fine (its own windows hold 1.5 + 0.8 million)
    assert issue(clerk, site, sold_on=dt.date(2024, 6, 20), amount_fen=800_000 * YUAN).pk
    # and within it, up to the headroom
    assert issue(clerk, site, sold_on=dt.date(2024, 6, 25), amount_fen=500_000 * YUAN).pk
    assert invoices.quote(seller_id=ZHANG, sold_on=dt.date(2024, 6, 25), amount_fen=1).refusal


def test_quote_can_leave_an_invoice_out(clerk, site) -> None:
    big = issue(clerk, site, amount_fen=5_000_000 * YUAN)
    assert invoices.quote(seller_id=ZHANG, sold_on=TODAY, amount_fen=1).refusal
    assert not invoices.quote(seller_id=ZHANG, sold_on=TODAY, amount_fen=1, exclude=big).refusal
    assert invoices.quote(seller_id=f" {ZHANG.lower()} ", sold_on=TODAY, amount_fen=1).refusal  # normalised


# --- refusals ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field", "code"),
    [
        ({"seller_id": ZHANG[:-1] + ("0" if ZHANG[-1] != "0" else "1")}, "seller_id", "invalid_resident_id"),
        ({"seller_id": "13072219950312"}, "seller_id", "invalid_resident_id"),
        ({"seller_id": rid("13072219951312123")}, "seller_id", "invalid_resident_id"),  # month 13
        ({"seller_id": ""}, "seller_id", "invalid_resident_id"),
        ({"seller_name": "  "}, "seller_name", "invalid_seller_name"),
        ({"amount_fen": 0}, "amount_fen", "invalid_amount"),
        ({"amount_fen": -500}, "amount_fen", "invalid_amount"),
        ({"weight_kg": Decimal("-1")}, "weight_kg", "invalid_weight"),
        ({"weight_kg": Decimal("1.234")}, "weight_kg", "invalid_weight"),
        ({"sold_on": TODAY + dt.timedelta(days=1)}, "sold_on", "invalid_date"),
        ({"sold_on": dt.date(2024, 4, 28)}, "sold_on", "invalid_date"),  # before the 2024 rule
        ({"category": "car"}, "category", "invalid_category"),
    ],
)
def test_bad_invoices_are_refused_and_nothing_is_written(clerk, site, change, field, code) -> None:
    with pytest.raises(ValidationError) as refused:
        issue(clerk, site, **change)
    assert refused.value.error_dict[field][0].code == code
    assert ReverseInvoice.objects.count() == 0 and not AuditEvent.objects.filter(action="invoice.recorded").exists()


def test_every_bad_field_is_reported_at_once(clerk, site) -> None:
    with pytest.raises(ValidationError) as refused:
        issue(clerk, site, seller_id="123", amount_fen=0, weight_kg=Decimal("-2"))
    assert codes(refused.value) == {"invalid_resident_id", "invalid_amount", "invalid_weight"}


def test_zero_weight_and_the_rules_first_day_are_accepted(clerk, site) -> None:
    invoice = issue(clerk, site, weight_kg=Decimal(0), sold_on=dt.date(2024, 4, 29), category="refrigerator")
    assert invoice.weight_kg == 0 and invoice.number == "FK2025000001"  # numbered in the year of issue


def test_only_the_sites_own_recyclers_invoice(clerk, site, rival_site) -> None:
    for outsider in (rival_site[0], user_with_role(Role.CITIZEN), task_force(), user_with_role(Role.MERCHANT)):
        with pytest.raises(PermissionDenied):
            issue(outsider, site)
    assert ReverseInvoice.objects.count() == 0


@pytest.mark.parametrize(
    ("text", "fen"), [("1234.56", 123_456), ("1,234.5", 123_450), ("0.01", 1), ("8", 800), (" 35.50 ", 3_550)]
)
def test_yuan_are_converted_to_fen_exactly(text, fen) -> None:
    assert invoices.parse_yuan(text) == fen


@pytest.mark.parametrize("text", ["12.345", "abc", "", "1e400", "NaN", "0.001"])
def test_more_than_two_decimals_or_no_number_is_refused(text) -> None:
    with pytest.raises(ValidationError) as refused:
        invoices.parse_yuan(text)
    assert codes(refused.value) == {"invalid_amount"}


# --- retries ---------------------------------------------------------------------------------------------------


def test_the_same_token_from_the_same_user_invoices_once(clerk, site) -> None:
    first = issue(clerk, site, token="form-1")
    again = issue(clerk, site, token="form-1", amount_fen=999)  # a resubmitted form: the first invoice stands
    assert again.pk == first.pk and again.amount_fen == first.amount_fen
    assert ReverseInvoice.objects.count() == 1
    assert AuditEvent.objects.filter(action="invoice.recorded").count() == 1
    colleague = UserFactory(role=Role.RECYCLER, organisation=clerk.organisation)
    assert issue(colleague, site, token="form-1").pk != first.pk  # tokens are per user
    assert issue(clerk, site, token="form-2").pk != first.pk
    assert issue(clerk, site).pk != issue(clerk, site).pk  # no token: every call is a new invoice


# --- who sees what -----------------------------------------------------------------------------------------------


def test_recyclers_see_their_own_officials_read_a_county_officer_their_county(clerk, site, rival_site, county) -> None:
    rival, rival_point = rival_site
    ours = issue(clerk, site)
    theirs = issue(rival, rival_point, seller_id=LI)
    visible = {u: set(ReverseInvoice.objects.visible_to(u)) for u in (clerk, rival)}
    assert visible == {clerk: {ours}, rival: {theirs}}
    assert set(ReverseInvoice.objects.visible_to(task_force())) == {ours, theirs}
    county_org = Organisation.objects.create(
        name="张北县人民政府", kind=Organisation.Kind.COUNTY_GOVERNMENT, region=county
    )
    county_officer = UserFactory(role=Role.COUNTY_OFFICER, organisation=county_org)
    assert set(ReverseInvoice.objects.visible_to(county_officer)) == {ours}
    for nobody in (user_with_role(Role.CITIZEN), user_with_role(Role.MERCHANT), user_with_role(Role.ENTERPRISE)):
        assert not ReverseInvoice.objects.visible_to(nobody).exists()
    assert list(invoices.invoices_for(user=rival, q=ours.number)) == []


def test_pages_refuse_everyone_but_recyclers_and_officials(client, clerk, site) -> None:
    client.force_login(user_with_role(Role.CITIZEN))
    for name in ("recycling:invoices", "recycling:invoice_new", "recycling:invoice_export"):
        assert client.get(reverse(name)).status_code == 403
    client.force_login(task_force())  # officials read, never write
    assert client.get(reverse("recycling:invoices")).status_code == 200
    assert client.get(reverse("recycling:invoice_new")).status_code == 403


def test_the_list_shows_the_recyclers_own_invoices_masked_with_totals(client, clerk, site, rival_site) -> None:
    issue(clerk, site, amount_fen=1_234_56, sold_on=dt.date(2025, 6, 3))
    issue(clerk, site, amount_fen=100_00, sold_on=dt.date(2025, 5, 3), category="paper", seller_id=LI)
    hidden = issue(rival_site[0], rival_site[1], seller_id=WANG, seller_name="王五")
    client.force_login(clerk)
    page = client.get(reverse("recycling:invoices")).content.decode()
    assert "FK2025000001" in page and "FK2025000002" in page and hidden.number not in page
    assert "张**" in page and "130722********1231" in page
    assert ZHANG not in page and "张三丰" not in page and "王**" not in page
    assert "1,334.56" in page  # the total
    june = client.get(reverse("recycling:invoices"), {"month": "2025-06"}).content.decode()
    assert "FK2025000001" in june and "FK2025000002" not in june
    paper = client.get(reverse("recycling:invoices"), {"category": "paper"}).content.decode()
    assert "FK2025000002" in paper and "FK2025000001" not in paper
    found = client.get(reverse("recycling:invoices"), {"q": "000002"}).content.decode()
    assert "FK2025000002" in found and "FK2025000001" not in found


def test_the_list_pages_by_50(client, clerk, site) -> None:
    for n in range(51):
        issue(clerk, site, amount_fen=100 + n)
    client.force_login(clerk)
    response = client.get(reverse("recycling:invoices"))
    assert len(response.context["rows"]) == 50 and response.context["totals"]["count"] == 51
    assert "第 1 / 2 页" in response.content.decode()


# --- personal data ---------------------------------------------------------------------------------------------


def test_the_seller_is_encrypted_at_rest_and_kept_out_of_the_audit_log(clerk, site) -> None:
    invoice = issue(clerk, site)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT seller_name, seller_id, seller_id_hash FROM recycling_reverseinvoice WHERE id = %s", [invoice.pk]
        )
        name, number, digest = cursor.fetchone()
    assert "张三丰" not in name and ZHANG not in number and ZHANG[6:14] not in number
    assert pii.decrypt(name) == "张三丰" and pii.decrypt(number) == ZHANG
    assert digest == pii.lookup_hash(ZHANG, purpose="resident_id") and ZHANG not in digest
    events = json.dumps(
        list(AuditEvent.objects.values("changes", "object_repr", "actor_label")), ensure_ascii=False, default=str
    )
    for secret in ("张三丰", ZHANG, ZHANG[-4:] + '"', digest):
        assert secret not in events
    reloaded = ReverseInvoice.objects.get(pk=invoice.pk)
    assert (reloaded.masked_seller, reloaded.masked_seller_id) == ("张**", "130722********1231")


# --- export --------------------------------------------------------------------------------------------------


def _sheet(content: bytes) -> list[tuple[Any, ...]]:
    sheet = load_workbook(io.BytesIO(content)).active
    assert sheet is not None
    return list(sheet.iter_rows(values_only=True))


def test_the_monthly_export_lists_the_recyclers_invoices_masked(client, clerk, site, rival_site) -> None:
    first = issue(clerk, site, sold_on=dt.date(2025, 6, 3), amount_fen=1_234_56, weight_kg=Decimal("512.25"))
    second = issue(
        clerk, site, sold_on=dt.date(2025, 6, 9), amount_fen=800_00, category="nonferrous", description="废铜",
        seller_id=LI, seller_name="李四", weight_kg=Decimal("16")
    )  # fmt: skip
    issue(clerk, site, sold_on=dt.date(2025, 5, 30))  # another month
    issue(rival_site[0], rival_site[1], sold_on=dt.date(2025, 6, 5), seller_id=WANG)  # another recycler
    client.force_login(clerk)
    response = client.get(reverse("recycling:invoice_export"), {"month": "2025-06"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    assert "attachment" in response["Content-Disposition"]
    rows = _sheet(response.content)
    assert list(rows[0]) == [
        "编号", "日期", "销售方(脱敏)", "证件号(脱敏)", "品类", "货物名称", "数量千克", "金额元", "增值税元", "个税元"
    ]  # fmt: skip
    assert [r[0] for r in rows[1:]] == [first.number, second.number, "合计"]
    assert rows[1][1].date() == dt.date(2025, 6, 3)
    assert rows[1][2:6] == ("张**", "130722********1231", "废钢铁", "废钢（重废）")
    assert (rows[1][6], rows[1][7], rows[1][8], rows[1][9]) == (512.25, 1234.56, 0, 6.17)
    assert rows[2][4:8] == ("废铜铝", "废铜", 16, 800)
    assert rows[3][6:] == (528.25, 2034.56, 0, 10.17)
    flat = json.dumps(rows, default=str, ensure_ascii=False)
    assert ZHANG not in flat and "张三丰" not in flat and LI not in flat
    assert invoices.monthly_rows(organisation=site.organisation, month=dt.date(2025, 6, 17)) == (
        invoices.monthly_rows(organisation=site.organisation, month=dt.date(2025, 6, 1))
    )


def test_an_official_exports_a_chosen_recycler(client, clerk, site, rival_site) -> None:
    ours = issue(clerk, site, sold_on=dt.date(2025, 6, 3))
    issue(rival_site[0], rival_site[1], sold_on=dt.date(2025, 6, 5), seller_id=WANG)
    client.force_login(task_force())
    assert client.get(reverse("recycling:invoice_export"), {"month": "2025-06"}).status_code == 302
    response = client.get(reverse("recycling:invoice_export"), {"month": "2025-06", "org": site.organisation_id})
    assert [r[0] for r in _sheet(response.content)[1:]] == [ours.number, "合计"]


# --- the form --------------------------------------------------------------------------------------------------


def _post(client: Any, point: Site, **overrides: str) -> Any:
    data = {
        "site": str(point.pk),
        "seller_name": "张三丰",
        "seller_id": ZHANG,
        "sold_on": timezone.localdate().isoformat(),
        "category": "scrap_steel",
        "description": "废钢",
        "weight_kg": "300",
        "amount": "1234.56",
        "token": "t-1",
        **overrides,
    }
    return client.post(reverse("recycling:invoice_new"), data)


def test_the_form_invoices_exact_fen_once_per_token(client, clerk, site) -> None:
    client.force_login(clerk)
    page = client.get(reverse("recycling:invoice_new"))
    assert page.status_code == 200 and "开具反向发票" in page.content.decode() and page.context["form"]["token"]
    response = _post(client, site)
    assert response.status_code == 302
    invoice = ReverseInvoice.objects.get()
    assert (invoice.amount_fen, invoice.weight_kg, invoice.iit_fen) == (123_456, Decimal(300), 617)
    assert _post(client, site).status_code == 302  # the double click
    assert ReverseInvoice.objects.count() == 1
    listing = client.get(response["Location"]).content.decode()
    assert invoice.number in listing and "已开具反向发票" in listing


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"amount": "12.345"}, "amount", "最多保留两位小数"),
        ({"amount": ""}, "amount", "请填写金额"),
        ({"seller_id": "130722199503121230"}, "seller_id", "居民身份证号码无效：校验码（第18位）与前17位不符"),
        ({"seller_id": rid("13072219951312123")}, "seller_id", "出生日期（第7–14位）1995年13月12日不存在"),
        ({"weight_kg": "-3"}, "weight_kg", "不能为负数"),
        ({"sold_on": ""}, "sold_on", "请填写交易日期"),
        ({"site": "0"}, "site", "请选择开票站点"),
    ],
)
def test_the_form_keeps_the_input_and_puts_each_message_at_its_field(client, clerk, site, overrides, field, message):
    client.force_login(clerk)
    response = _post(client, site, **overrides)
    assert response.status_code == 400
    assert message in response.context["errors"][field]
    assert response.context["form"]["seller_name"] == "张三丰" and ReverseInvoice.objects.count() == 0


def test_a_refusal_for_the_cap_shows_the_sellers_headroom(client, clerk, site) -> None:
    issue(clerk, site, sold_on=timezone.localdate() - dt.timedelta(days=30), amount_fen=4_999_000 * YUAN, today=None)
    client.force_login(clerk)
    response = _post(client, site, amount="2000.00")
    page = response.content.decode()
    assert response.status_code == 400 and "over_annual_cap" not in page
    assert "1,000.00" in page and "4,999,000.00" in page and "本次最多还可开具" in page
    assert response.context["refused"]["headroom"] == "1,000.00"


# --- demo ------------------------------------------------------------------------------------------------------


def test_demo_ids_are_valid_and_the_check_digit_matches_stdnum() -> None:
    rng = random.Random(7)
    for _ in range(200):
        number = demo.resident_id(rng)
        assert ric.validate(number) == number
        assert demo.check_digit(number[:17]) == ric.calc_check_digit(number[:17] + "0")
    assert demo.check_digit("11010519491231002") == "X"  # the standard's own example


def test_demo_invoices_go_through_the_service(clerk, site, rival_site) -> None:
    users = {site.organisation_id: clerk, rival_site[1].organisation_id: rival_site[0]}
    today = dt.date(2025, 6, 30)
    count = demo.create_invoices(
        sites=[site, rival_site[1]], clerk_for=lambda org: users[org.pk], today=today, rng=random.Random(1)
    )
    assert 200 <= count == ReverseInvoice.objects.count()
    assert ReverseInvoice.objects.filter(sold_on__lt=today - dt.timedelta(days=183)).count() == 0
    assert len(set(ReverseInvoice.objects.values_list("seller_id_hash", flat=True))) == 60
    amounts = sorted(ReverseInvoice.objects.values_list("amount_fen", flat=True))
    assert amounts[len(amounts) // 4] >= 50 * YUAN and amounts[len(amounts) * 3 // 4] <= 3_000 * YUAN
    assert ReverseInvoice.objects.filter(vat_fen__gt=0).exists()  # the truckload sellers' busy months
    assert demo.create_invoices(
        sites=[site], clerk_for=lambda org: users[org.pk], today=today, rng=random.Random(1)
    ) == 0  # fmt: skip


# --- PostgreSQL: real parallel connections ---------------------------------------------------------------------


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_parallel_invoices_for_one_seller_cannot_pass_the_cap(plan) -> None:
    """Eight connections at once, from two recyclers, each invoice 5,000 yuan for a seller with 10,000 left:
    exactly two go through."""
    county = Region.objects.get(code="130722")
    clerk, site = _recycler(county, "张北县绿源再生资源回收有限公司", "张北县城区回收网点")
    rival, rival_point = _recycler(Region.objects.get(code="130723"), "康保县再生资源回收站", "康保县城关回收网点")
    issue(clerk, site, sold_on=dt.date(2025, 3, 1), amount_fen=4_990_000 * YUAN)
    barrier = threading.Barrier(8)
    done: list[str] = []
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            barrier.wait()
            user, point = (clerk, site) if n % 2 else (rival, rival_point)
            done.append(issue(user, point, amount_fen=5_000 * YUAN, token=f"t-{n}").number)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(done) == 2 and len(errors) == 6
    assert all(isinstance(e, ValidationError) and codes(e) == {"over_annual_cap"} for e in errors)
    total = sum(ReverseInvoice.objects.values_list("amount_fen", flat=True))
    assert total == 5_000_000 * YUAN
    assert sorted(done) == ["FK2025000002", "FK2025000003"]
