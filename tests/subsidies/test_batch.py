"""A merchant's batch of sales: each row one application through the same service; bad rows come back with their
reasons, good rows are kept, and uploading the same file again submits nothing twice."""

from __future__ import annotations

import datetime as dt
import io
import random

import pytest
from django.test import Client
from django.utils import timezone
from openpyxl import Workbook, load_workbook

from huanxin.core.models import Organisation, Region
from huanxin.core.roles import Role
from huanxin.demo import identities
from huanxin.subsidies import batch, rules
from huanxin.subsidies.models import Application
from tests.factories import UserFactory
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
    results, result_file = batch.import_batch(actor=merchant, data=xlsx(data), filename="sales.xlsx")
    failed = {r.order: r.message for r in results if not r.ok}
    assert set(failed) == {"DD00003", "DD00007", "DD00009", "DD00011", "DD00013"}
    assert "居民身份证号码无效" in failed["DD00003"] and "已用于其他补贴申请" in failed["DD00007"]
    assert "两位小数" in failed["DD00009"] and "不存在" in failed["DD00011"] and "无法识别" in failed["DD00013"]
    assert Application.objects.filter(channel="batch").count() == 45
    assert result_file.filename.endswith(".xlsx")
    sheet = load_workbook(io.BytesIO(result_file.content)).active
    assert sheet.cell(1, len(batch.HEADERS) + 1).value == "申请编号"
    assert sheet.cell(2, len(batch.HEADERS) + 1).value.startswith("BT")
    again, _ = batch.import_batch(actor=merchant, data=xlsx(data), filename="sales.xlsx")
    assert sum(1 for r in again if r.ok and r.message == "此前已提交，未重复申请") == 45
    assert Application.objects.count() == 45


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
    data = [
        line(**bike, 订单号="B1", 补贴项目代码=bikes.code, 身份证号码=rider, 序列号="YD1", 发票号码="EB1",
             收旧凭证编号=certificates[0].number, CCC证书编号="2025011119000123"),
        line(**bike, 订单号="B2", 补贴项目代码=bikes.code, 身份证号码=other, 序列号="YD2", 发票号码="EB2",
             收旧凭证编号=certificates[1].number),  # no CCC number
        line(订单号="C1", 补贴项目代码=cars.code, 申请人姓名="赵建国", 身份证号码=driver, 手机号码="13800001111",
             品类="car", 品牌型号="比亚迪秦PLUS", 发票号码="CAR1", 开票日期=today.isoformat(),
             **{"成交价（元）": "150000"},
             旧车车辆识别代号=identities.vin(rng), 新车类型="新能源", 转移登记编号="ZY001",
             转移登记日期=(today - dt.timedelta(days=3)).isoformat(), 旧车登记日期="2019-05-20"),
    ]  # fmt: skip
    text = ",".join(batch.HEADERS) + "\n" + "\n".join(",".join(r) for r in data)
    results, _ = batch.import_batch(actor=merchant, data=text.encode(), filename="mixed.csv")
    by_order = {r.order: r for r in results}
    assert by_order["B1"].ok and "补贴500.00元" in by_order["B1"].message
    assert not by_order["B2"].ok and "CCC" in by_order["B2"].message
    assert by_order["C1"].ok and "补贴10000.00元" in by_order["C1"].message
    car = Application.objects.get(number=by_order["C1"].number).items.get()
    assert car.details["transfer_no"] == "ZY001" and car.details["new_fuel"] == "nev"
