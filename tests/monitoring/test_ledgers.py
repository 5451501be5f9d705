"""Works ledgers: definitions as data, recording with validation and idempotency, voiding, metrics, derivation."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from io import StringIO

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from openpyxl import load_workbook

from huanxin.core import metrics
from huanxin.core.models import Region
from huanxin.monitoring import ledgers, services
from huanxin.monitoring.models import IndicatorValue, LedgerEntry, LedgerKind
from huanxin.monitoring.periods import PeriodRef
from tests.factories import officer, task_force

pytestmark = pytest.mark.django_db
TODAY = dt.date(2025, 12, 20)


@pytest.fixture
def setup(plan):
    call_command("monitoring", "setup", stdout=StringIO())  # loads the ledger kinds too
    return plan


@pytest.fixture
def buses(setup) -> LedgerKind:
    return LedgerKind.objects.get(plan=setup, code="buses")


@pytest.fixture
def transport(setup):
    return officer("市交通运输局")


def county(code: str) -> Region:
    return Region.objects.get(code=code)


def record(clerk, kind, on, quantity, region="130722", **attributes):
    return ledgers.record_entry(
        actor=clerk,
        kind=kind,
        region=county(region),
        recorded_on=on,
        quantity=quantity,
        attributes=attributes,
        today=TODAY,
    )


def test_loading_the_definitions_twice_changes_nothing(setup) -> None:
    from pathlib import Path

    path = Path(ledgers.__file__).parent / "data" / "ledgers-zhangjiakou-2024.yaml"
    assert ledgers.load_kinds(path=path) == 0
    assert LedgerKind.objects.filter(plan=setup).count() == 11


@pytest.mark.parametrize(
    ("quantity", "attributes", "field", "message"),
    [
        ("0", {"fuel": "纯电动"}, "quantity", "数量必须大于0"),
        ("-3", {"fuel": "纯电动"}, "quantity", "数量必须大于0"),
        ("十", {"fuel": "纯电动"}, "quantity", "不是数字"),
        ("2.5", {"fuel": "纯电动"}, "quantity", "数量以“辆”计，请填写整数"),  # buses are counted
        ("5", {}, "fuel", "请填写燃料类型"),
        ("5", {"fuel": "蒸汽"}, "fuel", "燃料类型应为"),
        ("5", {"fuel": "纯电动", "colour": "红"}, "__all__", "未知属性"),
    ],
)
def test_bad_records_are_refused_field_by_field(buses, transport, quantity, attributes, field, message) -> None:
    with pytest.raises(ValidationError) as exc:
        record(transport, buses, dt.date(2025, 3, 1), quantity, **attributes)
    assert message in "".join(exc.value.message_dict[field])
    assert not LedgerEntry.objects.exists()


def test_dates_regions_and_departments_are_checked(buses, transport, setup) -> None:
    with pytest.raises(ValidationError, match="不能晚于今天"):
        record(transport, buses, TODAY + dt.timedelta(days=1), "5", fuel="纯电动")
    with pytest.raises(PermissionDenied, match="市交通运输局"):
        record(officer("市住房和城乡建设局"), buses, dt.date(2025, 3, 1), "5", fuel="纯电动")


def test_a_retry_with_the_same_key_records_once(buses, transport) -> None:
    kwargs = {
        "actor": transport,
        "kind": buses,
        "region": county("130722"),
        "recorded_on": dt.date(2025, 3, 1),
        "quantity": "5",
        "attributes": {"fuel": "纯电动"},
        "idempotency_key": "form-abc",
        "today": TODAY,
    }
    first = ledgers.record_entry(**kwargs)
    again = ledgers.record_entry(**kwargs)
    assert first.pk == again.pk and LedgerEntry.objects.count() == 1


def test_nev_share_metric_and_derived_values(buses, transport, setup) -> None:
    record(transport, buses, dt.date(2025, 2, 1), "8", fuel="纯电动")
    record(transport, buses, dt.date(2025, 5, 1), "1", "130731", fuel="柴油")
    record(transport, buses, dt.date(2025, 5, 2), "1", "130731", fuel="插电式混合动力")
    voided = record(transport, buses, dt.date(2025, 5, 3), "20", fuel="汽油")
    ledgers.void_entry(actor=transport, entry=voided, reason="重复录入")

    share = metrics.get("ledger.buses.nev-share")
    figures = share.compute(dt.date(2024, 5, 28), dt.date(2025, 6, 30))
    assert figures[setup.region.pk] == Decimal("90.00")  # 9 NEV of 10 renewed; the voided 20 don't count
    assert figures[county("130731").pk] == Decimal("50.00")
    quantity = metrics.get("ledger.buses.quantity").compute(dt.date(2025, 4, 1), dt.date(2025, 6, 30))
    assert quantity[setup.region.pk] == Decimal(2)

    q2 = services.ensure_period(ref=PeriodRef.parse("2025-Q2"))
    assert services.derive_values(period=q2) >= 1
    value = IndicatorValue.objects.get(indicator__code="nev-share-new-buses", period=q2, region=setup.region)
    assert (value.value, value.status, value.derived) == (Decimal("90.0000"), "approved", True)
    assert services.derive_values(period=q2) == 0  # nothing new: nothing changes

    record(transport, buses, dt.date(2025, 6, 1), "10", fuel="柴油")
    services.derive_values(period=q2)
    value.refresh_from_db()
    assert value.value == Decimal("45.0000")
    assert [(r.action, r.old_value, r.new_value) for r in value.revisions.order_by("number")] == [
        ("derived", None, Decimal("90.0000")),
        ("derived", Decimal("90.0000"), Decimal("45.0000")),
    ]


def test_unknown_metric_is_refused(setup) -> None:
    from huanxin.plans.models import Indicator

    with pytest.raises(KeyError, match="未注册的度量"):
        metrics.get("ledger.no-such-kind.quantity")
    indicator = Indicator.objects.get(plan=setup, code="nev-heavy-trucks")
    with pytest.raises(ValidationError, match="未注册的度量"):
        services.configure_indicator(actor=None, indicator=indicator, metric="ledger.buses.no-such-share")


def test_ledger_pages(client: Client, buses, transport, setup) -> None:
    client.force_login(transport)
    url = reverse("monitoring:ledger", args=[setup.code, "buses"])
    html = client.get(url).content.decode()
    assert "新增记录" in html and "燃料类型" in html and "没有符合条件的记录" in html
    post = reverse("monitoring:ledger_record", args=[setup.code, "buses"])
    form = {"region": "130722", "recorded_on": "2025-03-01", "quantity": "abc", "attr-fuel": "纯电动", "token": "t1"}
    response = client.post(post, form)
    assert response.status_code == 400 and "不是数字" in response.content.decode()
    assert 'value="abc"' in response.content.decode()
    form["quantity"] = "6"
    assert client.post(post, form).status_code == 302
    assert client.post(post, form).status_code == 302  # double submit: same token, one record
    assert LedgerEntry.objects.count() == 1

    response = client.get(url, {"format": "xlsx"})
    rows = list(load_workbook(io.BytesIO(response.content)).active.iter_rows(values_only=True))
    assert rows[0][:3] == ("完成日期", "地区", "数量（辆）") and rows[1][1] == "张北县" and rows[1][2] == 6

    entry = LedgerEntry.objects.get()
    client.post(reverse("monitoring:ledger_void", args=[entry.pk]), {"reason": ""})
    entry.refresh_from_db()
    assert entry.status == "active"
    client.post(reverse("monitoring:ledger_void", args=[entry.pk]), {"reason": "录入错误"})
    entry.refresh_from_db()
    assert entry.status == "voided"

    client.force_login(task_force())
    html = client.get(url, {"status": "voided"}).content.decode()
    assert "作废原因：录入错误" in html and "新增记录" not in html
    client.force_login(officer("市商务局"))
    assert client.post(post, {**form, "token": "t2"}).status_code == 400
