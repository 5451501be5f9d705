"""A merchant's batch of sales: each row one application through the same service; bad rows come back with their
reasons, good rows are kept, and uploading the same file again submits nothing twice."""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import random
from collections.abc import Callable
from decimal import Decimal, InvalidOperation

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook, load_workbook

from huanxin.core.exports import build_csv, csv_safe
from huanxin.core.models import Organisation, Region
from huanxin.core.roles import Role
from huanxin.demo import identities
from huanxin.subsidies import batch, rules
from huanxin.subsidies.models import Application
from tests.factories import UserFactory
from tests.subsidies.accounts import BANK, BANK_CODE, CARD
from tests.subsidies.conftest import make_programme

pytestmark = pytest.mark.django_db


@pytest.fixture
def merchant(plan):
    store = Organisation.objects.create(name="焕新家电商行", kind="merchant", region=Region.objects.get(code="130702"))
    return UserFactory(role=Role.MERCHANT, organisation=store)


def rows(programme_code: str, n: int) -> list[list]:
    rng = random.Random(7)
    today = timezone.localdate().isoformat()
    person = [(identities.name(rng), identities.resident_id(rng)) for _ in range(n)]
    tail = [today, "3999.00"]
    return [
        [
            f"DD{i:05d}",
            programme_code,
            *person[i],
            "13800001111",
            "tv",
            "海信65E5N",
            f"SN{i:06d}",
            "1",
            f"INV{i:08d}",
            *tail,
        ]
        for i in range(n)
    ]


def xlsx(data: list[list]) -> bytes:
    wb = Workbook()
    wb.active.append(batch.HEADERS)
    for row in data:
        wb.active.append(row)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def test_a_batch_keeps_good_rows_gives_reasons_and_never_applies_twice(merchant, boss) -> None:
    programme = make_programme(
        boss, parameters={**rules.DEFAULTS["appliance"], "sample_pct": 0}, budget_fen=1_000_000_00
    )
    data = rows(programme.code, 50)
    data[3][3] = "130722199001011234"  # invalid ID
    data[7][9] = data[6][9]  # the same invoice as the row before
    data[9][11] = "39.999"  # three decimals
    data[11][1] = "no-such-programme"
    data[13][10] = "上周"  # a date nobody can read
    data[15][11] = "1e30"  # more digits than Decimal holds
    data[17][11] = "100000000.01"  # above any trade-in (and, much larger, above what the column holds)
    results, result_file = batch.import_batch(actor=merchant, data=xlsx(data), filename="sales.xlsx")
    failed = {r.order: r.message for r in results if not r.ok}
    assert set(failed) == {"DD00003", "DD00007", "DD00009", "DD00011", "DD00013", "DD00015", "DD00017"}
    assert "居民身份证号码无效" in failed["DD00003"] and "已用于其他补贴申请" in failed["DD00007"]
    assert "两位小数" in failed["DD00009"] and "不存在" in failed["DD00011"] and "无法识别" in failed["DD00013"]
    assert "超出合理范围" in failed["DD00015"] and "不超过1亿元" in failed["DD00017"]
    assert Application.objects.filter(channel="batch").count() == 43
    assert result_file.filename.endswith(".xlsx")
    sheet = load_workbook(io.BytesIO(result_file.content)).active
    assert sheet.cell(1, len(batch.HEADERS) + 1).value == "申请编号"
    assert sheet.cell(2, len(batch.HEADERS) + 1).value.startswith("BT")
    again, _ = batch.import_batch(actor=merchant, data=xlsx(data), filename="sales.xlsx")
    assert sum(1 for r in again if r.ok and r.message == "此前已提交，未重复申请") == 43
    assert Application.objects.count() == 43


def test_a_csv_from_chinese_excel_and_the_upload_page(merchant, boss) -> None:
    programme = make_programme(
        boss, parameters={**rules.DEFAULTS["appliance"], "sample_pct": 0}, budget_fen=1_000_000_00
    )
    text = ",".join(batch.HEADERS) + "\n" + "\n".join(",".join(map(str, r)) for r in rows(programme.code, 3))
    client = Client()
    client.force_login(merchant)
    upload = io.BytesIO(text.encode("gb18030"))
    upload.name = "sales.csv"
    page = client.post("/subsidies/batch/", {"file": upload}).content.decode()
    assert "3</b> 行已受理" in page
    assert 'download="补贴批量申请结果.csv"' in page  # a CSV comes back as CSV
    results, result = batch.import_batch(actor=merchant, data=text.encode("gb18030"), filename="again.csv")
    lines = result.content.decode("utf-8-sig").splitlines()
    assert lines[0].endswith("申请编号,结果") and all(r.ok for r in results)
    assert "此前已提交" in lines[1]
    assert Application.objects.count() == 3
    citizen = Client()
    citizen.force_login(UserFactory(role=Role.CITIZEN))
    assert citizen.get("/subsidies/batch/").status_code == 403


def test_a_batch_carries_the_other_categories_evidence(merchant, boss, recycler) -> None:
    """The optional columns: an e-bike row (收旧凭证, battery, CCC, standard) and a car-replacement row (old VIN,
    新车类型, 转移登记), each checked like the web form; a row without its CCC number is refused with the reason."""
    from tests.subsidies.test_categories import handed_in, programme

    rng = random.Random(11)
    bikes, cars = programme(boss, "ebike"), programme(boss, "car_replace")
    today = timezone.localdate()
    rider, other, driver = (identities.resident_id(rng) for _ in range(3))
    certificates = [handed_in(recycler, owner) for owner in (rider, other)]
    base = {h: "" for h in batch.HEADERS}

    def line(**values: str) -> list[str]:
        return [values.get(h, base[h]) for h in batch.HEADERS]

    bike = {"品类": "ebike", "品牌型号": "雅迪冠能G5", "开票日期": today.isoformat(), "成交价（元）": "3299.00"}
    bike |= {"电池类型": "铅酸", "执行标准": "GB 17761-2024", "手机号码": "13800001111", "申请人姓名": "赵建国"}
    account = {"收款户名": "赵建国", "收款账号": CARD, "开户行": BANK, "联行号": BANK_CODE}  # paid to the applicant
    bike |= account
    data = [
        line(**bike, 订单号="B1", 补贴项目代码=bikes.code, 身份证号码=rider, 序列号="YD1", 发票号码="EB1",
             收旧凭证编号=certificates[0].number, CCC证书编号="2025011119000123"),
        line(**bike, 订单号="B2", 补贴项目代码=bikes.code, 身份证号码=other, 序列号="YD2", 发票号码="EB2",
             收旧凭证编号=certificates[1].number),  # no CCC number
        line(订单号="C1", 补贴项目代码=cars.code, 申请人姓名="赵建国", 身份证号码=driver, 手机号码="13800001111",
             品类="car", 品牌型号="比亚迪秦PLUS", 发票号码="CAR1", 开票日期=today.isoformat(),
             **{"成交价（元）": "150000"},
             旧车车辆识别代号=identities.vin(rng), 新车类型="新能源", 转移登记编号="ZY001",
             转移登记日期=(today - dt.timedelta(days=3)).isoformat(), 旧车登记日期="2019-05-20", **account),
    ]  # fmt: skip
    text = ",".join(batch.HEADERS) + "\n" + "\n".join(",".join(r) for r in data)
    results, _ = batch.import_batch(actor=merchant, data=text.encode(), filename="mixed.csv")
    by_order = {r.order: r for r in results}
    assert by_order["B1"].ok and "补贴500.00元" in by_order["B1"].message
    assert not by_order["B2"].ok and "CCC" in by_order["B2"].message
    assert by_order["C1"].ok and "补贴10000.00元" in by_order["C1"].message
    car = Application.objects.get(number=by_order["C1"].number).items.get()
    assert car.details["transfer_no"] == "ZY001" and car.details["new_fuel"] == "nev"


def test_a_file_with_the_old_columns_stray_cells_and_short_rows(merchant, boss) -> None:
    """A file without the optional columns: a stray cell past the header is not read as one of them; a short row's
    missing cells read blank; the result file gives each row under the header, cut or filled."""
    programme = make_programme(
        boss, parameters={**rules.DEFAULTS["appliance"], "sample_pct": 0}, budget_fen=1_000_000_00
    )
    first, second = rows(programme.code, 2)
    lines = [batch.HEADERS[:12], [*first, "铅酸", "stray"], second[:10]]  # the second without 开票日期 and 成交价
    text = "\n".join(",".join(line) for line in lines)
    results, result = batch.import_batch(actor=merchant, data=text.encode(), filename="old.csv")
    assert [r.ok for r in results] == [True, False] and results[1].message == "开票日期“”无法识别，请写成 2025-06-30"
    item = Application.objects.get(number=results[0].number).items.get()
    assert item.certificate_no == "" and item.details == {}
    out = result.content.decode("utf-8-sig").splitlines()
    assert out[1] == ",".join([*first, results[0].number, results[0].message])
    assert out[2] == ",".join([*second[:10], "", "", "", results[1].message])


def decimal_fen(value: object) -> int:
    """`batch._fen` by Decimal alone, without its fast path for plain prices."""
    text = batch._text(value)
    try:
        amount = Decimal(text.replace(",", ""))
    except InvalidOperation:
        raise ValidationError(f"成交价“{text}”不是金额", code="invalid_price") from None
    if not amount.is_finite():
        raise ValidationError("成交价最多保留两位小数", code="invalid_price")
    try:
        exact = amount == amount.quantize(Decimal("0.01"))
    except InvalidOperation:
        raise ValidationError(f"成交价“{text}”超出合理范围", code="invalid_price") from None
    if not exact:
        raise ValidationError("成交价最多保留两位小数", code="invalid_price")
    return int(amount * 100)


def fen_or_error(fen: Callable[[object], int], value: object) -> object:
    try:
        return fen(value)
    except ValidationError as exc:
        return exc.code, exc.messages


@st.composite
def prices(draw: st.DrawFn) -> str:
    """Prices as a file writes them, of every length either side of the fast path's 15 digits and of Decimal's 28."""
    size = draw(st.integers(min_value=1, max_value=32))
    whole = draw(st.text("0123456789", min_size=size, max_size=size))
    decimals = draw(st.sampled_from(["", ".", ".5", ".05", ".50", ".500", ".125"]))
    return f"{int(whole):,}{decimals}" if draw(st.booleans()) else f"{whole}{decimals}"


ODD = r"[-+ ]?[0-9０-９,]{0,20}(\.[0-9]{0,4})?([eE][-+]?[0-9]{1,2})? ?"  # signs, full-width digits, exponents


@settings(max_examples=500, deadline=None)
@given(st.one_of(prices(), st.from_regex(ODD, fullmatch=True), st.text(max_size=12), st.floats(), st.integers()))
def test_the_fast_path_for_prices_agrees_with_decimal(value: object) -> None:
    assert fen_or_error(batch._fen, value) == fen_or_error(decimal_fen, value)


def test_the_result_csv_keeps_csv_safes_rule_for_every_cell() -> None:
    cells = ["=1+1", "+86", "-3", "@a", "\tq", "\rx", "", "林芳", "a'b", None, 7, -7, 2.5, dt.date(2025, 6, 30)]
    headers = [f"h{i}" for i in range(len(cells))]
    content = build_csv(headers=headers, rows=[cells, cells])
    assert content.startswith(codecs.BOM_UTF8)
    header, *body = csv.reader(io.StringIO(content.decode("utf-8-sig")))
    assert header == headers
    expected = [csv_safe(c) if isinstance(c, str) else "" if c is None else str(c) for c in cells]
    # "-3" is a negative number, not a formula: it stays as it is
    assert body == [expected, expected] and expected[:6] == ["'=1+1", "'+86", "-3", "'@a", "'\tq", "'\rx"]
