"""The three categories added last — car replacement (汽车置换更新), e-bikes (电动自行车以旧换新) and home renovation
(家装厨卫焕新 / 适老化改造): every refusal their checks name (code and message), the amounts per band, battery and
kind, identifiers claimed once across applications, bad parameters refused, and one API call per category."""

from __future__ import annotations

import datetime as dt
import json
import random
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone

from huanxin.core import metrics
from huanxin.core.models import Region
from huanxin.core.roles import Role
from huanxin.demo import identities
from huanxin.recycling import services as recycling
from huanxin.subsidies import rules
from huanxin.subsidies.applications import ItemIn, submit_application
from huanxin.subsidies.models import Application, Claim, Programme
from tests import clock
from tests.factories import UserFactory
from tests.subsidies.accounts import payee, payee_json
from tests.subsidies.conftest import make_programme

pytestmark = pytest.mark.django_db
NOW = timezone.now()  # every test here runs at this instant (clock pinned): TODAY is the app's today
TODAY = timezone.localdate(NOW)
pinned_clock = clock.pinned(NOW)
OPENS = TODAY - dt.timedelta(days=30)
RNG = random.Random(55)
WAN = 1_000_000  # fen in 万元


@pytest.fixture
def citizen(plan):
    return UserFactory(role=Role.CITIZEN)


def programme(boss, category: str, **params: Any) -> Programme:
    return make_programme(
        boss,
        code=f"{category.replace('_', '-')}-{RNG.randrange(10**6)}",
        category=category,
        parameters={**rules.DEFAULTS[category], "sample_pct": 0, **params},
        budget_fen=1_000_000_00,
    )


def apply(actor, programme: Programme, items: list[ItemIn], applicant_id: str = "", **kwargs) -> Application:
    return submit_application(
        actor=actor,
        programme=programme,
        applicant_name="赵建国",
        # a citizen applies in their own verified identity (实名); a merchant for a customer drawn at random
        applicant_id=applicant_id or actor.verified_resident_id or identities.resident_id(RNG),
        phone="13912345678",
        items=items,
        **{**payee("赵建国"), **kwargs},  # cars and e-bikes are paid to the applicant: the account is required
    )


def refusal(call) -> tuple[str, str]:
    with pytest.raises(ValidationError) as exc:
        call()
    return exc.value.error_list[0].code, exc.value.messages[0]


# --- car replacement (汽车置换更新) --------------------------------------------------------------------------------


def swap(**kwargs: Any) -> ItemIn:
    values: dict[str, Any] = {
        "kind": "car",
        "invoice_no": f"CAR{RNG.randrange(10**9)}",
        "invoice_date": TODAY,
        "price_fen": 15 * WAN,
        "brand_model": "比亚迪秦PLUS",
        "vin": identities.vin(RNG),
        "new_fuel": "nev",
        "transfer_no": f"ZY{RNG.randrange(10**10)}",
        "transfer_date": TODAY - dt.timedelta(days=3),
        "old_registered_on": dt.date(2019, 5, 20),
    }
    return ItemIn(**{**values, **kwargs})


@pytest.mark.parametrize(
    ("price_fen", "fuel", "amount_fen"),
    [
        (5 * WAN, "nev", 8_000_00),
        (9_99 * 10_000, "fuel", 6_000_00),
        (10 * WAN, "nev", 10_000_00),
        (19 * WAN, "fuel", 8_000_00),
        (20 * WAN, "nev", 15_000_00),
        (45 * WAN, "fuel", 13_000_00),
    ],
)
def test_car_replacement_pays_by_price_band_and_fuel(citizen, boss, price_fen, fuel, amount_fen) -> None:
    application = apply(citizen, programme(boss, "car_replace"), [swap(price_fen=price_fen, new_fuel=fuel)])
    item = application.items.get()
    assert application.amount_fen == amount_fen and item.amount_fen == amount_fen
    assert f"定额补贴{amount_fen / 100:.2f}元" in item.explanation
    assert ("新能源乘用车" if fuel == "nev" else "燃油乘用车") in item.explanation
    assert item.details["transfer_no"].startswith("ZY") and item.details["new_fuel"] == fuel
    assert Claim.objects.filter(application=application, kind="transfer").count() == 1
    assert Claim.objects.filter(application=application, kind="vin").count() == 1


def test_car_replacement_band_explanation_names_the_band(boss) -> None:
    params = rules.validate("car_replace", rules.DEFAULTS["car_replace"])
    assert rules.car_replace_amount(params, price_fen=12 * WAN, new_fuel="nev").explanation == (
        "转让旧车并购买新能源乘用车，售价10万元（含）至20万元档，定额补贴10000.00元"
    )
    assert "20万元及以上档" in rules.car_replace_amount(params, price_fen=30 * WAN, new_fuel="fuel").explanation


def test_car_replacement_refusals(citizen, boss, dismantler) -> None:
    cars = programme(boss, "car_replace", min_holding_months=6)
    no_fuel_band = programme(
        boss,
        "car_replace",
        bands=[
            {"from_fen": 0, "nev_fen": 5_000_00, "fuel_fen": 0},
            {"from_fen": 10 * WAN, "nev_fen": 1, "fuel_fen": 1},
        ],
    )
    scrapped_vin = identities.vin(RNG)
    scrap_owner = identities.resident_id(RNG)
    recycling.issue_certificate(
        actor=dismantler[0], kind="vehicle", site=dismantler[1], category="car", owner_name="赵建国",
        owner_id=scrap_owner, vin=scrapped_vin, plate="冀G12345", fuel="petrol", registered_on=dt.date(2010, 1, 1),
    )  # fmt: skip
    cases = [
        (swap(kind="tv"), "kind_not_eligible", "补贴范围：本批次只受理汽车（品类代码car），不受理“tv”"),
        (swap(vin="LFV123"), "invalid_vin", "车辆识别代号：车辆识别代号（VIN）应为17位"),
        (swap(transfer_no=" "), "transfer_required", "机动车转移登记：请填写旧车的机动车转移登记编号和日期"),
        (swap(transfer_date=None), "transfer_required", "机动车转移登记：请填写旧车的机动车转移登记编号和日期"),
        (
            swap(transfer_date=OPENS - dt.timedelta(days=1)),
            "transfer_outside_window",
            f"机动车转移登记：旧车转移登记日期{OPENS - dt.timedelta(days=1)}不在置换更新受理范围"
            f"（{OPENS}至{TODAY + dt.timedelta(days=30)}）内",
        ),
        (
            swap(old_registered_on=None),
            "registration_required",
            "旧车条件：请填写旧车登记在申请人名下的日期（见机动车登记证书）",
        ),
        (
            swap(old_registered_on=TODAY),
            "registration_after_transfer",
            "旧车条件：旧车登记在申请人名下的日期不能晚于转移登记日期",
        ),
        (
            swap(old_registered_on=dt.date(2025, 1, 9)),
            "old_car_registered_too_late",
            "旧车条件：旧车于2025-01-09登记在申请人名下，晚于2025-01-08，不符合置换更新条件",
        ),
        (
            swap(vin=scrapped_vin),
            "old_car_scrapped",
            f"旧车条件：车辆识别代号{scrapped_vin}已出具报废机动车回收证明，报废的车辆请申请报废更新补贴",
        ),
        (swap(price_fen=4 * WAN), "price_below_bands", "补贴标准：新车售价低于5万元，不在置换更新补贴范围"),
        (swap(new_fuel="diesel"), "invalid_new_car", "补贴标准：新车类型应为新能源或燃油车"),
    ]
    for item, code, message in cases:
        assert refusal(lambda item=item: apply(citizen, cars, [item])) == (code, message)
    # held at least six months before the transfer (this programme has no registration cut-off)
    held = programme(boss, "car_replace", min_holding_months=6, registered_by=None)
    item = swap(old_registered_on=TODAY - dt.timedelta(days=60), transfer_date=TODAY - dt.timedelta(days=1))
    assert refusal(lambda: apply(citizen, held, [item])) == (
        "held_too_briefly",
        f"旧车条件：旧车在申请人名下不满6个月即转出（{item.old_registered_on}至{item.transfer_date}）",
    )
    assert refusal(lambda: apply(citizen, no_fuel_band, [swap(new_fuel="fuel", price_fen=8 * WAN)])) == (
        "band_not_eligible",
        "补贴标准：售价0万元（含）至10万元的燃油乘用车不在置换更新补贴范围",
    )
    assert not Application.objects.exists()


def test_car_replacement_transfer_window_is_a_parameter(citizen, boss) -> None:
    window = programme(boss, "car_replace", transfer_from=str(TODAY - dt.timedelta(days=90)))
    early = swap(transfer_date=TODAY - dt.timedelta(days=60))
    assert apply(citizen, window, [early]).status == Application.Status.RESERVED


def test_car_replacement_once_per_person_and_every_identifier_once(citizen, boss) -> None:
    cars = programme(boss, "car_replace")
    person = citizen.verified_resident_id
    first = swap()
    apply(citizen, cars, [first], applicant_id=person)
    assert refusal(lambda: apply(citizen, cars, [swap()], applicant_id=person)) == (
        "per_person_limit",
        "每人限额：置换更新每人限补1件，已申请1件，剩余0件",
    )
    other = UserFactory(role=Role.CITIZEN)  # another person, with their own verified identity
    assert refusal(lambda: apply(other, cars, [swap(transfer_no=first.transfer_no.lower())])) == (
        "transfer_already_used",
        f"凭证唯一：机动车转移登记{first.transfer_no}已用于其他补贴申请",
    )
    assert refusal(lambda: apply(other, cars, [swap(vin=first.vin)])) == (
        "vin_already_used",
        f"凭证唯一：车辆识别代号{first.vin}已用于其他补贴申请",
    )
    assert refusal(lambda: apply(other, cars, [swap(invoice_no=first.invoice_no)]))[0] == "invoice_already_used"
    # the same new car cannot claim scrap-and-renew too: its invoice is taken
    scrap_programme = programme(boss, "car_scrap")
    car = ItemIn(
        kind="car", invoice_no=first.invoice_no, invoice_date=TODAY, price_fen=15 * WAN, vin=identities.vin(RNG)
    )
    assert refusal(lambda: apply(other, scrap_programme, [car]))[0] in {"certificate_missing", "invoice_already_used"}


def test_replaced_cars_count_as_renewed_cars(citizen, boss) -> None:
    cars = programme(boss, "car_replace")
    apply(citizen, cars, [swap(new_fuel="nev")])
    apply(UserFactory(role=Role.CITIZEN), cars, [swap(new_fuel="fuel")])  # one replacement per person
    city = Region.objects.get(code="130700")
    assert metrics.get("subsidies.cars-renewed").compute(TODAY, TODAY)[city.pk] == 2
    assert metrics.get("subsidies.cars-replaced").compute(TODAY, TODAY)[city.pk] == 1 * 2
    assert metrics.get("subsidies.nev-share").compute(TODAY, TODAY)[city.pk] == Decimal("50.0")


# --- e-bikes (电动自行车以旧换新) ------------------------------------------------------------------------------


def handed_in(recycler, owner_id: str, category: str = "ebike", issued_on: dt.date = TODAY):
    clerk, site = recycler
    return recycling.issue_certificate(
        actor=clerk, kind="take_back", site=site, category=category, owner_name="赵建国", owner_id=owner_id,
        issued_on=issued_on,
    )  # fmt: skip


def bike(certificate_no: str, **kwargs: Any) -> ItemIn:
    values: dict[str, Any] = {
        "kind": "ebike",
        "invoice_no": f"EB{RNG.randrange(10**9)}",
        "invoice_date": TODAY,
        "price_fen": 3_299_00,
        "brand_model": "雅迪冠能G5",
        "serial": f"YD{RNG.randrange(10**10)}",
        "certificate_no": certificate_no,
        "battery": "lead_acid",
        "ccc_no": "2025011119000123",
        "standard": "GB 17761-2024",
    }
    return ItemIn(**{**values, **kwargs})


@pytest.mark.parametrize(
    ("price_fen", "battery", "amount_fen", "explanation"),
    [
        (3_299_00, "lead_acid", 500_00, "交售旧车换购铅酸蓄电池电动自行车，按售价20%补贴，上限500.00元，已按上限"),
        (2_000_00, "lead_acid", 400_00, "交售旧车换购铅酸蓄电池电动自行车，按售价20%补贴，上限500.00元"),
        (1_999_00, "lithium", 199_90, "交售旧车换购锂离子蓄电池电动自行车，按售价10%补贴，上限300.00元"),
        (4_500_00, "lithium", 300_00, "交售旧车换购锂离子蓄电池电动自行车，按售价10%补贴，上限300.00元，已按上限"),
    ],
)
def test_ebike_amount_by_battery(citizen, boss, recycler, price_fen, battery, amount_fen, explanation) -> None:
    owner = citizen.verified_resident_id  # the citizen handed in their own old bike
    certificate = handed_in(recycler, owner)
    application = apply(
        citizen, programme(boss, "ebike"), [bike(certificate.number, price_fen=price_fen, battery=battery)], owner
    )
    item = application.items.get()
    assert (application.amount_fen, item.explanation) == (amount_fen, explanation)
    assert item.details == {"battery": battery, "ccc_no": "2025011119000123", "standard": "GB 17761-2024"}
    assert set(Claim.objects.filter(application=application).values_list("kind", flat=True)) == {
        "invoice",
        "serial",
        "certificate",
    }


def test_ebike_fixed_amount_when_no_rate(boss) -> None:
    params = rules.validate(
        "ebike", {**rules.DEFAULTS["ebike"], "by_battery": {"lead_acid": {"label": "铅酸蓄电池", "cap_fen": 500_00}}}
    )
    amount = rules.ebike_amount(params, price_fen=2_999_00, battery="lead_acid")
    assert amount == rules.Amount(500_00, "交售旧车换购铅酸蓄电池电动自行车，定额补贴500.00元")


def test_ebike_refusals(citizen, boss, recycler) -> None:
    bikes = programme(boss, "ebike")
    owner = citizen.verified_resident_id
    mine = handed_in(recycler, owner).number
    fridge = handed_in(recycler, owner, category="refrigerator").number
    someone_elses = handed_in(recycler, identities.resident_id(RNG)).number
    too_old = handed_in(recycler, owner, issued_on=OPENS - dt.timedelta(days=1)).number
    cases = [
        (
            bike(mine, kind="phone"),
            "kind_not_eligible",
            "补贴范围：本批次只受理电动自行车（品类代码ebike），不受理“phone”",
        ),
        (bike(mine, serial=""), "frame_required", "新车合规：请填写新车车架号"),
        (bike(mine, ccc_no=""), "ccc_required", "新车合规：请填写新车的CCC（3C）认证证书编号"),
        (bike(mine, ccc_no="CCC-12"), "invalid_ccc_no", "新车合规：CCC证书编号“CCC-12”应为16位数字"),
        (
            bike(mine, standard="GB 17761-2018"),
            "standard_not_met",
            "新车合规：新车合格证执行标准应为GB 17761-2024（填写的是“GB 17761-2018”）",
        ),
        (bike(""), "certificate_missing", "收旧凭证：未找到有效的电动自行车收旧凭证（编号未填）"),
        (bike("SJ2099000001"), "certificate_missing", "收旧凭证：未找到有效的电动自行车收旧凭证（编号SJ2099000001）"),
        (bike(fridge), "certificate_missing", f"收旧凭证：未找到有效的电动自行车收旧凭证（编号{fridge}）"),
        (
            bike(someone_elses),
            "certificate_owner_mismatch",
            "收旧凭证：收旧凭证上的交售人与申请人不一致（须交售本人的旧车）",
        ),
        (
            bike(too_old),
            "certificate_outside_window",
            f"收旧凭证：收旧凭证出具于{OPENS - dt.timedelta(days=1)}，早于本批次受理期（{OPENS}起）",
        ),
        (
            bike(mine, battery="graphene"),
            "battery_not_eligible",
            "补贴标准：新车电池类型应为铅酸蓄电池、锂离子蓄电池之一",
        ),
    ]
    for item, code, message in cases:
        assert refusal(lambda item=item: apply(citizen, bikes, [item], owner)) == (code, message)
    assert not Application.objects.exists()
    # a city that does not ask for the old bike in one's own name
    anyone = programme(boss, "ebike", requires_own_name=False)
    assert apply(citizen, anyone, [bike(someone_elses)]).amount_fen == 500_00


def test_ebike_once_per_person_and_each_certificate_and_frame_once(citizen, boss, recycler) -> None:
    bikes = programme(boss, "ebike")
    owner = citizen.verified_resident_id
    first = bike(handed_in(recycler, owner).number)
    apply(citizen, bikes, [first], owner)
    second = handed_in(recycler, owner).number
    assert refusal(lambda: apply(citizen, bikes, [bike(second)], owner)) == (
        "per_person_limit",
        "每人限额：电动自行车每人限补1件，已申请1件，剩余0件",
    )
    family = programme(boss, "ebike", per_person=3)
    assert refusal(lambda: apply(citizen, family, [bike(first.certificate_no)], owner)) == (
        "certificate_already_used",
        f"凭证唯一：回收证明{first.certificate_no}已用于其他补贴申请",
    )
    assert refusal(lambda: apply(citizen, family, [bike(second, serial=first.serial)], owner)) == (
        "serial_already_used",
        f"凭证唯一：序列号/IMEI{first.serial}已用于其他补贴申请",
    )


# --- home renovation (家装厨卫焕新 / 适老化改造) ---------------------------------------------------------------------


def fitting(kind: str = "smart_toilet", **kwargs: Any) -> ItemIn:
    values: dict[str, Any] = {
        "kind": kind,
        "invoice_no": f"JZ{RNG.randrange(10**9)}",
        "invoice_date": TODAY,
        "price_fen": 3_999_00,
        "brand_model": "九牧ZS760",
        "grade": "",
    }
    return ItemIn(**{**values, **kwargs})


@pytest.mark.parametrize(
    ("item", "amount_fen", "explanation"),
    [
        (fitting(), 599_85, "智能马桶，按售价15%补贴，单件上限2000.00元"),
        (fitting(grade="1"), 799_80, "智能马桶（1级能效/水效），按售价20%补贴，单件上限2000.00元"),
        (
            fitting("shower_room", price_fen=18_000_00, grade="1"),
            2_000_00,
            "淋浴房，按售价15%补贴，单件上限2000.00元，已按上限",
        ),
        (fitting("grab_bar", price_fen=300_00), 90_00, "适老化扶手（适老化产品），按售价30%补贴，单件上限500.00元"),
        (
            fitting("care_bed", price_fen=12_000_00),
            2_000_00,
            "适老化护理床（适老化产品），按售价30%补贴，单件上限2000.00元，已按上限",
        ),
    ],
)
def test_home_renovation_amounts(citizen, boss, item, amount_fen, explanation) -> None:
    application = apply(citizen, programme(boss, "home"), [item])
    assert (application.amount_fen, application.items.get().explanation) == (amount_fen, explanation)


def test_home_renovation_refusals_and_limits(citizen, boss) -> None:
    home = programme(boss, "home", per_person_cap_fen=3_000_00)
    person = citizen.verified_resident_id
    assert refusal(lambda: apply(citizen, home, [fitting("sofa")], person)) == (
        "kind_not_eligible",
        "补贴范围：品类“sofa”不在本批次补贴范围",
    )
    assert refusal(lambda: apply(citizen, home, [fitting(), fitting()], person)) == (
        "per_person_limit",
        "每人限额：智能马桶每人限补1件，已申请0件，剩余1件，本申请含2件",
    )
    # five taps are fine, a sixth is not
    taps = apply(citizen, home, [fitting("kitchen_hardware", price_fen=500_00) for _ in range(5)], person)
    assert taps.amount_fen == 5 * 75_00
    assert refusal(lambda: apply(citizen, home, [fitting("kitchen_hardware")], person)) == (
        "per_person_limit",
        "每人限额：厨卫五金（水龙头、花洒、水槽）每人限补5件，已申请5件，剩余0件",
    )
    # 375 元 granted so far, cap 3000 元: a 2000 元 shower room and then a toilet cut to what is left
    cut = apply(citizen, home, [fitting("shower_room", price_fen=20_000_00), fitting(price_fen=10_000_00)], person)
    items = list(cut.items.order_by("pk"))
    assert [i.amount_fen for i in items] == [2_000_00, 625_00]
    assert items[1].explanation.endswith("，按每人累计上限3000.00元核减")
    assert refusal(lambda: apply(citizen, home, [fitting("grab_bar")], person)) == (
        "per_person_amount_limit",
        "每人限额：每人累计补贴上限3000.00元，您已领满",
    )
    # another person; the same invoice is used once
    used = items[0].invoice_no
    assert refusal(lambda: apply(UserFactory(role=Role.CITIZEN), home, [fitting("grab_bar", invoice_no=used)])) == (
        "invoice_already_used",
        f"凭证唯一：发票{used}已用于其他补贴申请",
    )


# --- parameters ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("category", "params", "says"),
    [
        ("car_replace", {"bands": []}, "bands"),
        (
            "car_replace",
            {
                "bands": [
                    {"from_fen": 20 * WAN, "nev_fen": 1, "fuel_fen": 1},
                    {"from_fen": 5 * WAN, "nev_fen": 1, "fuel_fen": 1},
                ]
            },
            "价格分档（bands）应按起始价格（from_fen）从低到高排列且不重复",
        ),
        ("car_replace", {"transfer_from": "2025-06-01", "transfer_to": "2025-01-01"}, "转移登记起始日期"),
        ("car_replace", {"min_holding_months": -1}, "min_holding_months"),
        (
            "ebike",
            {"by_battery": {"lithium": {"label": "锂", "rate_pct": 120, "cap_fen": 1}}},
            "by_battery.lithium.rate_pct",
        ),
        ("ebike", {"standards": []}, "standards"),
        ("home", {"kinds": {}}, "kinds"),
        ("home", {"kinds": {"x": {"label": "x", "rate_pct": 15}}}, "kinds.x.cap_fen"),
        ("home", {"per_person_cap_fen": 0}, "per_person_cap_fen"),
        ("home", {"unknown": 1}, "unknown"),
    ],
)
def test_bad_parameters_are_refused_with_the_field(category, params, says) -> None:
    with pytest.raises(ValidationError) as exc:
        rules.validate(category, {**rules.DEFAULTS[category], **params})
    assert exc.value.error_list[0].code == "invalid_parameters"
    assert exc.value.messages[0].startswith("规则参数有误：") and says in exc.value.messages[0]


def test_every_category_has_defaults_with_a_source() -> None:
    assert set(rules.PARAMS) == set(Programme.Category.values)
    for category in rules.PARAMS:
        assert rules.validate(category, rules.DEFAULTS[category]).source


# --- over the API ---------------------------------------------------------------------------------------------------


def post(client: Client, body: dict[str, Any], key: str):
    return client.post(
        "/api/v1/subsidies/applications", json.dumps(body), content_type="application/json", HTTP_IDEMPOTENCY_KEY=key
    )


def body(programme: Programme, applicant_id: str, item: dict[str, Any]) -> dict[str, Any]:
    return {
        "programme": programme.code,
        "applicant_name": "赵建国",
        "applicant_id": applicant_id,
        "phone": "13912345678",
        "items": [{"invoice_date": TODAY.isoformat(), **item}],
        "payee": payee_json("赵建国"),
    }


def test_car_replacement_over_the_api(citizen, boss) -> None:
    cars = programme(boss, "car_replace")
    client = Client()
    client.force_login(citizen)
    item = {
        "kind": "car", "invoice_no": "API-CAR-1", "price_fen": 22 * WAN, "vin": identities.vin(RNG), "new_fuel": "nev",
        "transfer_no": "ZY-API-1", "transfer_date": TODAY.isoformat(), "old_registered_on": "2020-03-01",
    }  # fmt: skip
    person = citizen.verified_resident_id  # a citizen applies in their own verified identity
    missing = post(client, body(cars, person, {**item, "transfer_no": ""}), "k0")
    assert missing.status_code == 422 and missing.json()["code"] == "transfer_required"
    assert missing.json()["message"] == "机动车转移登记：请填写旧车的机动车转移登记编号和日期"
    done = post(client, body(cars, person, item), "k1")
    assert done.status_code == 201, done.content
    assert done.json()["amount_fen"] == 15_000_00


def test_ebike_over_the_api(citizen, boss, recycler) -> None:
    bikes = programme(boss, "ebike")
    client = Client()
    client.force_login(citizen)
    owner = citizen.verified_resident_id
    item = {
        "kind": "ebike", "invoice_no": "API-EB-1", "price_fen": 2_500_00, "serial": "FRAME-API-1",
        "certificate_no": handed_in(recycler, owner).number, "battery": "lithium", "ccc_no": "2025011119000999",
        "standard": "GB 17761-2024",
    }  # fmt: skip
    refused = post(client, body(bikes, owner, {**item, "standard": "GB 17761-2018"}), "e0")
    assert refused.status_code == 422 and refused.json()["code"] == "standard_not_met"
    done = post(client, body(bikes, owner, item), "e1")
    assert done.status_code == 201, done.content
    assert done.json()["amount_fen"] == 250_00


def test_home_renovation_over_the_api(citizen, boss) -> None:
    home = programme(boss, "home")
    client = Client()
    client.force_login(citizen)
    item = {"kind": "grab_bar", "invoice_no": "API-JZ-1", "price_fen": 800_00}
    refused = post(client, body(home, citizen.verified_resident_id, {**item, "kind": "sofa"}), "h0")
    assert refused.status_code == 422 and refused.json()["code"] == "kind_not_eligible"
    done = post(client, body(home, citizen.verified_resident_id, item), "h1")
    assert done.status_code == 201, done.content
    assert done.json()["amount_fen"] == 240_00


# --- on the web -----------------------------------------------------------------------------------------------------


def web_form(**fields: str) -> dict[str, str]:
    """A citizen's form: no applicant fields, the applicant is the account's verified identity."""
    return {
        "token": f"t-{RNG.randrange(10**9)}",
        "date_0": TODAY.isoformat(),
        **payee("赵建国"),
        **fields,
    }


def test_car_replacement_on_the_web(citizen, boss) -> None:
    cars = programme(boss, "car_replace")
    client = Client()
    client.force_login(citizen)
    page = client.get(f"/subsidies/apply/{cars.code}/").content.decode()
    assert "机动车转移登记编号" in page and "20万元起 新能源15000元、燃油13000元" in page
    fields = web_form(
        vin_0=identities.vin(RNG), registered_0="2019-04-02", transfer_0="ZY-WEB-1", transfer_date_0=TODAY.isoformat(),
        fuel_0="nev", model_0="吉利银河E5", invoice_0="WEB-CAR-1", price_0="128,800.00",
    )  # fmt: skip
    refused = client.post(f"/subsidies/apply/{cars.code}/", {**fields, "registered_0": "2025-03-01"}).content.decode()
    assert "旧车条件：旧车于2025-03-01登记在申请人名下，晚于2025-01-08" in refused
    assert 'value="ZY-WEB-1"' in refused and 'value="128,800.00"' in refused
    done = client.post(f"/subsidies/apply/{cars.code}/", {**fields, "token": "t-ok"})
    assert done.status_code == 302, done.content.decode()
    detail = client.get(done["Location"]).content.decode()
    assert "10,000.00" in detail and "转移登记 ZY-WEB-1" in detail and "新车 新能源" in detail


def test_ebike_on_the_web(citizen, boss, recycler) -> None:
    bikes = programme(boss, "ebike")
    client = Client()
    client.force_login(citizen)
    page = client.get(f"/subsidies/apply/{bikes.code}/").content.decode()
    assert "CCC（3C）认证证书编号" in page and "铅酸蓄电池按售价20%、最高500元" in page
    owner = citizen.verified_resident_id
    fields = web_form(
        certificate_0=handed_in(recycler, owner).number, model_0="雅迪冠能", serial_0="FRAME-W1",
        ccc_0="2025011119000321", standard_0="GB 17761-2024", battery_0="lead_acid", invoice_0="WEB-EB-1",
        price_0="2999",
    )  # fmt: skip
    refused = client.post(f"/subsidies/apply/{bikes.code}/", {**fields, "standard_0": "other"}).content.decode()
    assert "新车合规：新车合格证执行标准应为GB 17761-2024（填写的是“other”）" in refused
    done = client.post(f"/subsidies/apply/{bikes.code}/", {**fields, "token": "t-ok"})
    assert done.status_code == 302
    detail = client.get(done["Location"]).content.decode()
    assert "500.00" in detail and "电池 铅酸蓄电池" in detail and "回收证明 SJ" in detail


def test_home_renovation_on_the_web(citizen, boss) -> None:
    home = programme(boss, "home")
    client = Client()
    client.force_login(citizen)
    page = client.get(f"/subsidies/apply/{home.code}/").content.decode()
    assert "适老化扶手" in page and "每人累计最高20000元" in page
    fields = web_form(
        kind_0="smart_toilet", grade_0="1", invoice_0="WEB-JZ-1", price_0="3999",
        kind_1="grab_bar", invoice_1="WEB-JZ-2", price_1="300", date_1=TODAY.isoformat(),
    )  # fmt: skip
    refused = client.post(f"/subsidies/apply/{home.code}/", {**fields, "kind_1": "smart_toilet"}).content.decode()
    assert "每人限额：智能马桶每人限补1件，已申请0件，剩余1件，本申请含2件" in refused
    done = client.post(f"/subsidies/apply/{home.code}/", {**fields, "token": "t-ok"})
    assert done.status_code == 302
    application = Application.objects.get()
    assert application.amount_fen == 799_80 + 90_00
