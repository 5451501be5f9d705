"""Sites, collection records (one by one and from Excel), townships and coverage, and the metrics that feed
the plan's indicators."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from openpyxl import Workbook, load_workbook

from huanxin.core import metrics
from huanxin.core.models import Region
from huanxin.recycling import excel, selectors, services
from huanxin.recycling.models import CollectionRecord, Site, Township
from tests.recycling.test_bookings import codes
from tests.recycling.test_certificates import TODAY, scrap

pytestmark = pytest.mark.django_db


def test_site_rules(recycler, zhangbei) -> None:
    base = {"kind": Site.Kind.POINT, "region": zhangbei, "address": "张北县某路1号", "categories": ["paper"]}
    org = recycler.organisation
    with pytest.raises(ValidationError) as exc:
        services.save_site(actor=recycler, organisation=org, name="A", **{**base, "kind": "dismantler"})
    assert {"qualification_required", "dismantler_takes_cars"} <= codes(exc.value)
    with pytest.raises(ValidationError) as exc:
        services.save_site(actor=recycler, organisation=org, name="B", **{**base, "categories": ["car"]})
    assert codes(exc.value) == {"car_needs_dismantler"}
    with pytest.raises(ValidationError) as exc:
        services.save_site(actor=recycler, organisation=org, name="C", **{**base, "latitude": Decimal(95)})
    assert codes(exc.value) == {"invalid_coordinate"}
    other = Township.objects.create(region=Region.objects.get(code="130723"), name="康保镇")
    with pytest.raises(ValidationError) as exc:
        services.save_site(actor=recycler, organisation=org, name="D", township=other, **base)
    assert codes(exc.value) == {"township_outside_region"}
    site = services.save_site(actor=recycler, organisation=org, name="E", **base)
    with pytest.raises(ValidationError) as exc:
        services.save_site(actor=recycler, organisation=org, name="E", **base)
    assert codes(exc.value) == {"duplicate_name"}
    services.save_site(actor=recycler, organisation=recycler.organisation, site=site, opening_hours="全天")
    site.refresh_from_db()
    assert site.opening_hours == "全天" and site.categories == ["paper"]


def test_a_recycler_cannot_touch_another_recyclers_site(site, zhangbei) -> None:
    from huanxin.core.roles import Role
    from tests.factories import UserFactory
    from tests.recycling.conftest import recycler_org

    stranger = UserFactory(role=Role.RECYCLER, organisation=recycler_org(zhangbei, "别家回收"))
    with pytest.raises(PermissionDenied):
        services.save_site(actor=stranger, organisation=site.organisation, site=site, opening_hours="x")
    with pytest.raises(PermissionDenied):
        services.save_site(actor=stranger, organisation=stranger.organisation, site=site, opening_hours="x")


def record(recycler, site, **kwargs):
    fields = {
        "received_on": TODAY,
        "source": CollectionRecord.Source.PERSON,
        "category": "refrigerator",
        "units": 1,
        "weight_kg": Decimal("45"),
        "price_fen": 6000,
        "seller_name": "王芳",
        "today": TODAY,
        **kwargs,
    }
    return services.record_collection(actor=recycler, site=site, **fields)


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"weight_kg": Decimal("-1")}, "negative_weight"),
        ({"units": -1}, "negative_units"),
        ({"price_fen": -5}, "negative_price"),
        ({"category": "scrap_steel", "units": 0, "weight_kg": Decimal(0)}, "weight_required"),
        ({"units": 0}, "units_required"),
        ({"category": "computer"}, "category_not_served"),
        ({"received_on": TODAY + dt.timedelta(days=1)}, "date_in_future"),
        ({"source": "enterprise", "seller_org": ""}, "seller_org_required"),
        ({"source": "booking"}, "invalid_source"),
    ],
)
def test_bad_records_are_refused(recycler, site, change, code) -> None:
    with pytest.raises(ValidationError) as exc:
        record(recycler, site, **change)
    assert codes(exc.value) == {code}
    assert not CollectionRecord.objects.exists()


def test_a_record_with_a_known_reference_is_not_counted_twice(recycler, site) -> None:
    first, created = record(recycler, site, external_ref="R-1")
    again, created_again = record(recycler, site, external_ref="R-1", units=5)
    assert created and not created_again and again.pk == first.pk
    assert CollectionRecord.objects.count() == 1


def test_money_and_weights_parse_exactly() -> None:
    assert services.parse_yuan("35.50") == 3550
    assert services.parse_yuan("1,200") == 120000
    assert services.parse_yuan("") == 0
    assert services.parse_kg("12.5") == Decimal("12.5")
    for bad in ("1.005", "abc", "NaN"):
        with pytest.raises(ValidationError):
            services.parse_yuan(bad)
    with pytest.raises(ValidationError):
        services.parse_kg("0.001")


def workbook(rows) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.append(excel.HEADERS)
    for row in rows:
        ws.append(row)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def test_an_upload_keeps_the_good_rows_and_gives_reasons_for_the_bad(recycler, site) -> None:
    day = TODAY.isoformat()
    rows = [
        ["A-1", day, site.name, "个人交售", "冰箱", 2, 90, "150.00", ""],
        ["A-2", day, site.name, "企业交售", "废钢铁", 0, "1250.5", "3126.25", "张北县农机厂"],
        ["A-3", day, site.name, "个人交售", "冰箱", 1, -4, "10", ""],  # negative weight
        ["A-4", day, "别人的站点", "个人交售", "冰箱", 1, 40, "10", ""],
        ["A-5", "昨天", site.name, "个人交售", "冰箱", 1, 40, "10", ""],
        ["A-6", day, site.name, "个人交售", "飞机", 1, 40, "10", ""],
        ["A-7", day, site.name, "个人交售", "电视机", 1, 20, "10.005", ""],
        [None, None, None, None, None, None, None, None, None],  # an empty row is skipped
        ["A-1", day, site.name, "个人交售", "冰箱", 2, 90, "150.00", ""],  # repeated in the same file
    ]
    results, result_file = excel.import_records(actor=recycler, data=workbook(rows), today=TODAY)
    assert [(r.row, r.ok) for r in results] == [
        (2, True),
        (3, True),
        (4, False),
        (5, False),
        (6, False),
        (7, False),
        (8, False),
        (10, True),
    ]
    reasons = {r.ref: r.message for r in results}
    assert reasons["A-3"] == "重量不能为负数"
    assert "不是本企业的站点" in reasons["A-4"]
    assert "无法识别" in reasons["A-5"] and "无法识别" in reasons["A-6"]
    assert "两位小数" in reasons["A-7"]
    assert results[-1].message == "业务单号已导入过，未重复计入"
    assert CollectionRecord.objects.count() == 2
    steel = CollectionRecord.objects.get(external_ref="A-2")
    assert steel.weight_kg == Decimal("1250.50") and steel.price_fen == 312625 and steel.seller_org == "张北县农机厂"
    sheet = load_workbook(io.BytesIO(result_file)).active
    assert sheet.cell(1, len(excel.HEADERS) + 1).value == "结果"
    assert sheet.cell(4, len(excel.HEADERS) + 1).value == "重量不能为负数"
    # uploading the same file again counts nothing twice
    again, _ = excel.import_records(actor=recycler, data=workbook(rows[:2]), today=TODAY)
    assert [r.message for r in again] == ["业务单号已导入过，未重复计入"] * 2
    assert CollectionRecord.objects.count() == 2


def test_an_unreadable_upload_is_refused_plainly(recycler) -> None:
    with pytest.raises(ValidationError, match="无法读取文件"):
        excel.import_records(actor=recycler, data=b"not a workbook")
    wb = Workbook()
    wb.active.append(["随便", "什么"])
    buffer = io.BytesIO()
    wb.save(buffer)
    with pytest.raises(ValidationError, match="表头缺少"):
        excel.import_records(actor=recycler, data=buffer.getvalue())


def test_townships_load_once_and_coverage_names_the_gaps(recycler, site, zhangbei, boss) -> None:
    added = services.load_townships(actor=boss, data={"130722": ["张北镇", "公会镇", "二台镇"]})
    assert added == 3
    assert services.load_townships(actor=boss, data={"130722": ["张北镇"]}) == 0
    with pytest.raises(ValidationError, match="未知的县区代码"):
        services.load_townships(actor=boss, data={"999999": ["某镇"]})
    town = Township.objects.get(name="张北镇")
    services.save_site(actor=recycler, organisation=recycler.organisation, site=site, township=town)
    row = next(r for r in selectors.coverage() if r.region == zhangbei)
    assert row.sites == 1 and row.coverage_pct == pytest.approx(33.3)
    assert [t.name for t in row.uncovered] == ["二台镇", "公会镇"]
    figures = metrics.get("recycling.township-coverage").compute(TODAY, TODAY)
    assert figures[zhangbei.pk] == Decimal("33.3")
    assert figures[zhangbei.parent_id] == Decimal("33.3")  # the city: only counties with a list count


def test_metrics_count_cars_and_appliances_by_county_and_city(recycler, site, dismantler, zhangbei, rng) -> None:
    scrap(recycler, dismantler, rng)
    revoked = scrap(recycler, dismantler, rng)
    services.revoke_certificate(actor=recycler, certificate=revoked, reason="录入错误")
    record(recycler, site, units=3, weight_kg=Decimal("120.5"))
    record(recycler, site, category="scrap_steel", units=0, weight_kg=Decimal("800"))  # not an appliance
    record(recycler, site, received_on=TODAY - dt.timedelta(days=40))  # outside the period
    start, end = TODAY.replace(day=1), TODAY
    cars = metrics.get("recycling.cars-scrapped").compute(start, end)
    assert cars == {zhangbei.pk: Decimal(1), zhangbei.parent_id: Decimal(1)}
    units = metrics.get("recycling.appliances-collected-units").compute(start, end)
    assert units[zhangbei.pk] == Decimal(3) and units[zhangbei.parent_id] == Decimal(3)
    kg = metrics.get("recycling.appliances-collected-kg").compute(start, end)
    assert kg[zhangbei.pk] == Decimal("120.5")


def test_sorting_centres_are_counted_from_their_opening(recycler, zhangbei) -> None:
    services.save_site(
        actor=recycler,
        organisation=recycler.organisation,
        name="张北县再生资源分拣中心",
        kind=Site.Kind.SORTING_CENTRE,
        region=zhangbei,
        address="张北县循环经济园区1号",
        categories=["scrap_steel", "paper", "plastic"],
        opened_on=dt.date(2025, 3, 1),
    )
    compute = metrics.get("recycling.sorting-centres").compute
    assert compute(dt.date(2025, 1, 1), dt.date(2025, 2, 28)) == {}
    assert compute(dt.date(2025, 1, 1), dt.date(2025, 3, 31)) == {zhangbei.pk: 1, zhangbei.parent_id: 1}


def test_the_tax_rule_is_edited_in_the_back_office_and_audited(tax_rule) -> None:
    from django.test import Client

    from huanxin.core.models import AuditEvent
    from tests.factories import UserFactory

    admin_user = UserFactory(is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(admin_user)
    url = f"/admin/recycling/taxrule/{tax_rule.pk}/change/"
    assert client.get(url).status_code == 200
    data = {
        "name": tax_rule.name,
        "effective_from": "2024-04-29",
        "rolling_cap_fen": 600_000_000,
        "vat_free_monthly_fen": tax_rule.vat_free_monthly_fen,
        "vat_rate_bp": 100,
        "iit_rate_bp": 50,
        "source": tax_rule.source,
    }
    assert client.post(url, data).status_code == 302
    event = AuditEvent.objects.filter(action="taxrule.updated").get()
    assert event.changes["rolling_cap_fen"] == [500_000_000, 600_000_000]
    assert client.get("/admin/recycling/site/").status_code == 200
