"""Whom a subsidy is paid to and the account: the programme's rule (by category unless told), the applicant's account
checked the same on the web, the API and the batch file (code `invalid_payee`, the field named), the merchant's
settlement account (page, API, audited masked), the bank file in the columns of a 代发 template for applicant- and
merchant-paid rows, applications without an account left out of a batch, and a second export only with a reason —
audited and marked 重复导出. Account numbers appear in full in the bank file only."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
import random
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test import Client
from django.utils import timezone
from openpyxl import Workbook, load_workbook

from huanxin.core import tokens
from huanxin.core.models import AuditEvent, Organisation, Region, User
from huanxin.core.roles import Role
from huanxin.demo import identities
from huanxin.subsidies import batch as batch_import
from huanxin.subsidies import payees, payments, rules
from huanxin.subsidies.applications import ItemIn, submit_application
from huanxin.subsidies.models import Application, PaymentBatch, PaymentExport, Programme
from huanxin.subsidies.review import decide
from tests.factories import UserFactory, user_with_role
from tests.subsidies.accounts import BAD_CARD, BANK, BANK_CODE, CARD, card, payee, payee_json
from tests.subsidies.conftest import make_programme

pytestmark = pytest.mark.django_db
TODAY = timezone.localdate()
SHOP_ACCOUNT = "110060149018000123456"  # a company's account (对公): 21 digits, no check digit
SHOP = {
    "account_name": "张家口焕新家电商行",
    "account_no": SHOP_ACCOUNT,
    "bank": "交通银行张家口分行",
    "bank_code": "301138000012",
}


def code_and_message(call: Any) -> tuple[str, str]:
    with pytest.raises(ValidationError) as exc:
        call()
    return exc.value.error_list[0].code or "", exc.value.messages[0]


@pytest.fixture
def shop(plan) -> User:
    store = Organisation.objects.create(name="焕新家电商行", kind="merchant", region=Region.objects.get(code="130702"))
    return UserFactory(role=Role.MERCHANT, organisation=store)


def appliances(boss: User, **kwargs: Any) -> Programme:
    """An appliance programme: pays the merchant unless `payee` says otherwise."""
    values: dict[str, Any] = {
        "code": f"appliance-{random.randrange(10**6)}",
        "parameters": {**rules.DEFAULTS["appliance"], "sample_pct": 0},
        "budget_fen": 100_000_00,
        **kwargs,
    }
    return make_programme(boss, **values)


def fridge(invoice: str, at: dt.date = TODAY) -> ItemIn:
    return ItemIn(kind="refrigerator", invoice_no=invoice, invoice_date=at, price_fen=4_999_00, grade="1")


def sell(merchant: User, programme: Programme, invoice: str, n: int, **kwargs: Any) -> Application:
    """A merchant's till files for customer n."""
    return submit_application(
        actor=merchant,
        programme=programme,
        applicant_name="林芳",
        applicant_id=identities.resident_id(random.Random(n)),
        phone="13912345678",
        items=[fridge(invoice)],
        **kwargs,
    )


# --- the rule: whom a programme pays ---------------------------------------------------------------------------


def test_a_programme_pays_by_its_category_unless_told(boss) -> None:
    expected = {
        "car_scrap": "applicant",
        "car_replace": "applicant",
        "ebike": "applicant",
        "appliance": "merchant",
        "digital": "merchant",
        "home": "merchant",
    }
    for category, payee_type in expected.items():
        programme = make_programme(boss, code=f"p-{category.replace('_', '-')}", category=category)
        assert programme.payee == payee_type, category
    told = make_programme(boss, code="appliance-own", payee=Programme.Payee.APPLICANT)
    assert told.payee == "applicant"
    created = AuditEvent.objects.filter(action="subsidies.programme_created").order_by("id").last()
    assert created.changes["payee"] == "applicant"
    with pytest.raises(ValidationError) as exc:
        make_programme(boss, code="appliance-bad", payee="bank")
    assert exc.value.error_dict["payee"][0].code == "invalid_choice"


def test_the_payee_follows_the_programme_and_who_filed(boss, shop) -> None:
    merchant_paid = appliances(boss)
    applicant_paid = appliances(boss, payee=Programme.Payee.APPLICANT)
    assert not payees.pays_applicant(merchant_paid.payee, merchant_filed=True)
    assert payees.pays_applicant(merchant_paid.payee, merchant_filed=False)  # a citizen filing alone
    assert payees.pays_applicant(applicant_paid.payee, merchant_filed=True)
    # the till's sale in a merchant-paid programme needs no account, and keeps none even if given
    sold = sell(shop, merchant_paid, "M-1", 1, **payee("林芳"))
    assert (sold.payee_name, sold.payee_account, sold.payee_bank, sold.payee_bank_code) == ("", "", "", "")
    # in an applicant-paid programme the till must give the customer's account
    assert code_and_message(lambda: sell(shop, applicant_paid, "A-1", 2)) == (
        "invalid_payee",
        "收款账户：请填写收款户名",
    )
    kept = sell(shop, applicant_paid, "A-2", 3, **payee("林芳", "6222 0202 0011 2233 446"))
    kept.refresh_from_db()
    assert (kept.payee_name, kept.payee_account, kept.payee_bank, kept.payee_bank_code) == (
        "林芳",
        CARD,
        BANK,
        BANK_CODE,
    )
    with connection.cursor() as cursor:  # encrypted at rest
        cursor.execute("SELECT payee_name, payee_account FROM subsidies_application WHERE id = %s", [kept.pk])
        stored = cursor.fetchone()
    assert CARD not in stored[1] and "林芳" not in stored[0] and stored[1].startswith("g1:")


# --- the checks -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"name": ""}, "请填写收款户名"),
        ({"name": "林\x00芳"}, "收款户名含有不可见的控制字符"),
        ({"name": "林芳\u200b"}, "收款户名含有不可见的控制字符"),
        ({"name": "林" * 61}, "收款户名不能超过60个字"),
        ({"account": ""}, "请填写收款账号"),
        ({"account": "6222-0202-0011-2233-446"}, "收款账号应为8–30位数字"),
        ({"account": "1234567"}, "收款账号应为8–30位数字"),
        ({"account": "1" * 31}, "收款账号应为8–30位数字"),
        ({"account": "٦٢٢٢٠٢٠٢٠٠١١٢٢٣٣٤٤٦"}, "收款账号应为8–30位数字"),  # Arabic-Indic digits: not ours
        ({"account": BAD_CARD}, "收款账号（银行卡号）校验位不符"),
        ({"bank": " "}, "请填写开户行"),
        ({"bank": "行" * 61}, "开户行不能超过60个字"),
        ({"bank_code": ""}, "请填写联行号"),
        ({"bank_code": "10213800001"}, "联行号应为12位数字"),
        ({"bank_code": "1021380000188"}, "联行号应为12位数字"),
        ({"bank_code": "10213800001X"}, "联行号应为12位数字"),
    ],
)
def test_each_field_is_checked_and_named(change: dict[str, str], message: str) -> None:
    given = payees.Payee("林芳", CARD, BANK, BANK_CODE)._replace(**change)
    code, text = code_and_message(lambda: payees.clean_payee(given))
    assert code == "invalid_payee" and text.startswith("收款账户：") and message in text


def test_what_passes_and_how_it_is_kept() -> None:
    clean = payees.clean_payee(
        payees.Payee("  欧阳　娜娜 ", "６２２２ ０２０２ 0011 2233 446", f" {BANK} ", "102 138 000 018")
    )
    assert clean == payees.Payee("欧阳 娜娜", CARD, BANK, BANK_CODE)  # full-width digits and spaces tidied
    assert payees.clean_payee(payees.Payee("阿不都·热合曼", card(7), BANK, BANK_CODE)).name == "阿不都·热合曼"
    # only numbers that start like a card carry the check digit; passbook, 9… and company accounts do not
    for account in ("9558800200123456789", "12345678", "1" * 30, SHOP_ACCOUNT):
        assert payees.clean_payee(payees.Payee("林芳", account, BANK, BANK_CODE)).account == account
    # a 16-digit card is checked too; a company's account never is
    assert code_and_message(lambda: payees.clean_account("6222020200112234"))[0] == "invalid_payee"
    assert payees.clean_account("6222020200112234", card_check=False) == "6222020200112234"
    assert payees.mask_account(CARD) == "6222***********3446"


# --- the three channels ---------------------------------------------------------------------------------------


def web_form(**fields: str) -> dict[str, str]:
    return {
        "token": f"t-{random.randrange(10**9)}",
        "applicant_name": "林芳",
        "applicant_id": identities.resident_id(random.Random(5)),
        "phone": "13912345678",
        "kind_0": "refrigerator",
        "grade_0": "1",
        "invoice_0": f"W-{random.randrange(10**9)}",
        "date_0": TODAY.isoformat(),
        "price_0": "4999.00",
        **fields,
    }


def test_on_the_web(boss, shop) -> None:
    merchant_paid = appliances(boss)
    applicant_paid = appliances(boss, payee=Programme.Payee.APPLICANT)
    client = Client()
    client.force_login(shop)
    assert "补贴收款账户" not in client.get(f"/subsidies/apply/{merchant_paid.code}/").content.decode()
    page = client.get(f"/subsidies/apply/{applicant_paid.code}/").content.decode()
    assert "补贴收款账户" in page and "联行号" in page
    refused = client.post(f"/subsidies/apply/{applicant_paid.code}/", web_form(**payee("林芳", BAD_CARD)))
    assert "收款账户：收款账号（银行卡号）校验位不符，请核对卡号" in refused.content.decode()
    refused = client.post(f"/subsidies/apply/{applicant_paid.code}/", web_form(**payee()) | {"payee_bank_code": "123"})
    assert "收款账户：联行号应为12位数字" in refused.content.decode()
    assert not Application.objects.exists()
    done = client.post(f"/subsidies/apply/{applicant_paid.code}/", web_form(**payee()))
    application = Application.objects.get()
    assert done["Location"] == f"/subsidies/applications/{application.number}/"
    assert application.payee_account == CARD
    detail = client.get(done["Location"]).content.decode()
    assert CARD not in detail and "6222***********3446" in detail  # never on a page in clear: masked
    sold = client.post(f"/subsidies/apply/{merchant_paid.code}/", web_form())  # the merchant is reimbursed
    assert sold.status_code == 302 and Application.objects.count() == 2


def test_a_citizen_filing_alone_gives_an_account_even_where_merchants_are_paid(boss) -> None:
    programme = appliances(boss)  # merchant-paid, but nobody's till: the citizen is paid
    citizen = UserFactory(role=Role.CITIZEN, display_name="林芳")
    client = Client()
    client.force_login(citizen)
    page = client.get(f"/subsidies/apply/{programme.code}/").content.decode()
    assert "补贴收款账户" in page
    own = {"applicant_name": "", "applicant_id": "", "phone": ""}  # applying as the account's verified self
    refused = client.post(f"/subsidies/apply/{programme.code}/", web_form(**own))
    assert "收款账户：请填写收款户名" in refused.content.decode() and not Application.objects.exists()
    client.post(f"/subsidies/apply/{programme.code}/", web_form(**own, **payee("林芳")))
    assert Application.objects.get().payee_account == CARD


def test_over_the_api(boss, shop) -> None:
    applicant_paid = appliances(boss, payee=Programme.Payee.APPLICANT)
    _, key = tokens.issue_token(actor=shop, name="收银系统")
    till = Client(HTTP_AUTHORIZATION=f"Bearer {key}")

    def post(body: dict[str, Any], key: str) -> Any:
        return till.post(
            "/api/v1/subsidies/applications",
            json.dumps(body),
            content_type="application/json",
            HTTP_IDEMPOTENCY_KEY=key,
        )

    body = {
        "programme": applicant_paid.code,
        "applicant_name": "林芳",
        "applicant_id": identities.resident_id(random.Random(6)),
        "phone": "13912345678",
        "items": [
            {"kind": "tv", "invoice_no": "API-1", "invoice_date": TODAY.isoformat(), "price_fen": 300000, "grade": "1"}
        ],
    }
    listed = {p["code"]: p["payee"] for p in till.get("/api/v1/subsidies/programmes").json()}
    assert listed[applicant_paid.code] == "applicant"  # the till knows to send the customer's account
    missing = post(body, "k0")
    assert missing.status_code == 422
    assert missing.json() == {"code": "invalid_payee", "message": "收款账户：请填写收款户名"}
    bad = post({**body, "payee": payee_json() | {"bank_code": "10213800001"}}, "k1")
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_payee" and "联行号" in bad.json()["message"]
    done = post({**body, "payee": payee_json()}, "k2")
    assert done.status_code == 201, done.content
    assert Application.objects.get(number=done.json()["number"]).payee_account == CARD
    # the same key paying another account is another request
    other = post({**body, "payee": payee_json(account=card(3))}, "k2")
    assert other.status_code == 409 and other.json()["code"] == "idempotency_key_reused"
    assert CARD not in till.get(f"/api/v1/subsidies/applications/{done.json()['number']}").content.decode()


def test_in_the_batch_file(boss, shop) -> None:
    applicant_paid = appliances(boss, payee=Programme.Payee.APPLICANT)
    merchant_paid = appliances(boss)
    account = ["林芳", CARD, BANK, BANK_CODE]

    def row(order: str, code: str, n: int, paid_to: list[Any]) -> list[Any]:
        person = identities.resident_id(random.Random(100 + n))
        cells = {"订单号": order, "补贴项目代码": code, "申请人姓名": "林芳", "身份证号码": person}
        cells |= {"手机号码": "13800001111", "品类": "tv", "能效等级": "1", "发票号码": f"B-{order}"}
        cells |= {"开票日期": TODAY.isoformat(), "成交价（元）": "3000.00"}
        cells |= dict(zip(["收款户名", "收款账号", "开户行", "联行号"], paid_to, strict=True))
        return [cells.get(h, "") for h in batch_import.HEADERS]

    wb = Workbook()
    ws = wb.active
    ws.append(batch_import.HEADERS)
    ws.append(row("P1", applicant_paid.code, 1, account))
    ws.append(row("P2", applicant_paid.code, 2, ["", "", "", ""]))
    ws.append(row("P3", applicant_paid.code, 3, ["林芳", BAD_CARD, BANK, BANK_CODE]))
    ws.append(row("P4", applicant_paid.code, 4, ["林芳", int(CARD), BANK, BANK_CODE]))  # typed as a number
    ws.append(row("P5", applicant_paid.code, 5, ["林芳", CARD, BANK, "1021380000"]))
    ws.append(row("M1", merchant_paid.code, 6, ["", "", "", ""]))  # the merchant is reimbursed: none needed
    data = io.BytesIO()
    wb.save(data)
    results, _ = batch_import.import_batch(actor=shop, data=data.getvalue(), filename="sales.xlsx")
    by_order = {r.order: r for r in results}
    assert by_order["P1"].ok and by_order["M1"].ok
    assert by_order["P2"].message == "收款账户：请填写收款户名"
    assert by_order["P3"].message == "收款账户：收款账号（银行卡号）校验位不符，请核对卡号"
    assert "请将单元格设为文本格式" in by_order["P4"].message
    assert by_order["P5"].message == "收款账户：联行号应为12位数字（开户行的大额支付系统行号）"
    first = Application.objects.get(number=by_order["P1"].number)
    assert (first.payee_name, first.payee_account, first.payee_bank, first.payee_bank_code) == tuple(account)
    assert Application.objects.get(number=by_order["M1"].number).payee_account == ""
    # the CSV path, and the same file again submits nothing twice
    text = ",".join(batch_import.HEADERS) + "\n" + ",".join(row("P1", applicant_paid.code, 1, account)) + "\n"
    again, _ = batch_import.import_batch(actor=shop, data=text.encode(), filename="sales.csv")
    assert again[0].ok and again[0].number == first.number
    changed = ",".join(row("P1", applicant_paid.code, 1, ["林芳", card(9), BANK, BANK_CODE]))
    other, _ = batch_import.import_batch(
        actor=shop, data=(text.splitlines()[0] + "\n" + changed).encode(), filename="b.csv"
    )
    assert not other[0].ok and "内容不同" in other[0].message


def test_the_template_shows_the_account_columns() -> None:
    sheet = load_workbook(io.BytesIO(batch_import.template())).active
    header = [c.value for c in sheet[1]]
    assert header[-4:] == ["收款户名", "收款账号", "开户行", "联行号"]
    ebike = [c.value for c in sheet[3]]
    assert isinstance(ebike[header.index("收款账号")], str)  # text: Excel would round a number of 19 digits


# --- the merchant's settlement account ------------------------------------------------------------------------


def test_the_merchant_keeps_its_settlement_account(shop) -> None:
    with pytest.raises(PermissionDenied):
        payees.save_merchant_account(actor=user_with_role(Role.FINANCE_OFFICER), **SHOP)
    code, message = code_and_message(lambda: payees.save_merchant_account(actor=shop, **{**SHOP, "bank_code": "1"}))
    assert code == "invalid_payee" and "联行号" in message
    saved = payees.save_merchant_account(actor=shop, **SHOP)
    assert saved.account_no == SHOP_ACCOUNT and saved.organisation_id == shop.organisation_id
    event = AuditEvent.objects.get(action="subsidies.merchant_account_saved")
    assert event.changes["account"] == "1100*************3456" and event.changes["first"] is True
    assert SHOP_ACCOUNT not in json.dumps(event.changes) and SHOP["account_name"] not in json.dumps(event.changes)
    assert payees.save_merchant_account(actor=shop, **SHOP) == saved  # the same again: no change, no event
    assert AuditEvent.objects.filter(action="subsidies.merchant_account_saved").count() == 1
    # blank name and number keep those on file; the bank changes
    again = payees.save_merchant_account(
        actor=shop, account_name="", account_no=" ", bank="交通银行张家口桥东支行", bank_code="301138000029"
    )
    assert (again.account_name, again.account_no, again.bank) == (
        SHOP["account_name"],
        SHOP_ACCOUNT,
        "交通银行张家口桥东支行",
    )
    latest = AuditEvent.objects.filter(action="subsidies.merchant_account_saved").order_by("id").last()
    assert latest.changes["changed"] == ["开户行", "联行号"]


def test_the_account_page_and_api_show_it_masked(shop) -> None:
    client = Client()
    client.force_login(shop)
    empty = client.get("/subsidies/merchant-account/").content.decode()
    assert "尚未设置结算账户" in empty
    refused = client.post("/subsidies/merchant-account/", {**SHOP, "account_no": "12ab"}).content.decode()
    assert "收款账户：收款账号应为8–30位数字" in refused and "12ab" not in refused
    done = client.post("/subsidies/merchant-account/", SHOP, follow=True).content.decode()
    assert "结算账户已保存" in done and "1100*************3456" in done
    assert SHOP_ACCOUNT not in done and SHOP["account_name"] not in done
    api = client.get("/api/v1/subsidies/merchant-account").json()
    assert api["account_no"] == "1100*************3456" and api["bank_code"] == SHOP["bank_code"]
    put = client.put(
        "/api/v1/subsidies/merchant-account",
        json.dumps({**SHOP, "bank_code": "30113800001"}),
        content_type="application/json",
    )
    assert put.status_code == 422 and put.json()["code"] == "invalid_payee"
    citizen = Client()
    citizen.force_login(UserFactory(role=Role.CITIZEN))
    assert citizen.get("/subsidies/merchant-account/").status_code == 403
    assert citizen.get("/api/v1/subsidies/merchant-account").json()["code"] == "permission_denied"


# --- the bank file --------------------------------------------------------------------------------------------


@pytest.fixture
def finance_user(db) -> User:
    return user_with_role(Role.FINANCE_OFFICER)


def approve(*applications: Application) -> None:
    reviewer = user_with_role(Role.REVIEWER)
    for application in applications:
        decide(actor=reviewer, application=application, decision="approve")


def test_the_bank_file_pays_the_merchant_and_the_citizen_filing_alone(boss, shop, finance_user) -> None:
    programme = appliances(boss)
    at_the_till = sell(shop, programme, "T-1", 1)
    citizen = UserFactory(role=Role.CITIZEN, display_name="=HYPERLINK(1)")  # a name a spreadsheet would run
    alone = submit_application(
        actor=citizen,
        programme=programme,
        applicant_name="",
        applicant_id="",
        phone="",
        items=[fridge("T-2")],
        **payee("=HYPERLINK(1)", card(2)),
    )
    approve(at_the_till, alone)
    # the merchant has no settlement account yet: its sale waits, the citizen's goes
    batch = payments.create_batch(actor=finance_user, programme=programme)
    assert [p.application for p in batch.payments.all()] == [alone]
    assert batch.left_out == {"merchant": 1}
    assert payments.describe_left_out(batch.left_out) == "1 份申请缺少收款账户（商户未设置结算账户1份）"
    created = AuditEvent.objects.get(action="subsidies.payment_batch_created")
    assert created.changes["left_out"] == {"merchant": 1}
    with pytest.raises(ValidationError) as exc:
        payments.create_batch(actor=finance_user, programme=programme)
    assert exc.value.error_list[0].code == "payee_missing"
    assert "1 份申请缺少收款账户" in exc.value.messages[0]
    payees.save_merchant_account(actor=shop, **SHOP)
    second = payments.create_batch(actor=finance_user, programme=programme)
    assert second.left_out == {} and [p.application for p in second.payments.all()] == [at_the_till]

    workbook = payments.export_bank_file(actor=finance_user, batch=second)
    assert workbook.filename == f"发放批次-{second.number}.xlsx" and workbook.sequence == 1
    sheet = load_workbook(io.BytesIO(workbook.content)).active
    rows = [[c.value for c in r] for r in sheet.iter_rows()]
    assert rows[0] == ["序号", "收款账号", "收款户名", "金额（元）", "开户行", "联行号", "用途/附言"]
    purpose = f"以旧换新补贴{at_the_till.number}"
    assert rows[1] == [1, SHOP_ACCOUNT, SHOP["account_name"], "999.80", SHOP["bank"], SHOP["bank_code"], purpose]
    assert sheet["B2"].data_type == "s"  # the account as text: no digit lost
    citizens = payments.export_bank_file(actor=finance_user, batch=batch)
    cells = load_workbook(io.BytesIO(citizens.content)).active["C2"]
    assert cells.value == "=HYPERLINK(1)" and cells.data_type == "s"  # text, never a formula
    assert load_workbook(io.BytesIO(citizens.content)).active["B2"].value == card(2)
    csv_file = payments.export_bank_file(actor=finance_user, batch=batch, fmt="csv", reason="银行要求CSV格式")
    text = csv_file.content.decode("utf-8-sig")
    assert f"{card(2)},'=HYPERLINK(1),999.80,{BANK},{BANK_CODE},以旧换新补贴{alone.number}" in text
    assert csv_file.content_type.startswith("text/csv")


def test_a_second_export_needs_a_reason_is_audited_and_marked(boss, shop, finance_user) -> None:
    programme = appliances(boss, payee=Programme.Payee.APPLICANT)
    applications = [sell(shop, programme, f"R-{n}", n, **payee("林芳", card(n))) for n in range(3)]
    approve(*applications)
    batch = payments.create_batch(actor=finance_user, programme=programme)
    first = payments.export_bank_file(actor=finance_user, batch=batch)
    assert first.filename == f"发放批次-{batch.number}.xlsx"
    assert AuditEvent.objects.filter(action="subsidies.payment_batch_exported").count() == 1
    for reason in ("", "   "):
        with pytest.raises(ValidationError) as exc:
            payments.export_bank_file(actor=finance_user, batch=batch, reason=reason)
        assert exc.value.error_list[0].code == "reason_required"
        assert "已导出1次；再次导出须填写原因" in exc.value.messages[0]
    with pytest.raises(ValidationError) as exc:
        payments.export_bank_file(actor=finance_user, batch=batch, reason="原" * 201)
    assert exc.value.error_list[0].code == "reason_too_long"
    with pytest.raises(ValidationError) as exc:
        payments.export_bank_file(actor=finance_user, batch=batch, fmt="pdf", reason="x")
    assert exc.value.error_list[0].code == "invalid_format"
    again = payments.export_bank_file(actor=finance_user, batch=batch, reason="银行退回：文件格式有误")
    assert again.filename == f"发放批次-{batch.number}-重复导出2.xlsx" and again.count == 3
    event = AuditEvent.objects.get(action="subsidies.bank_file_reexported")
    assert event.changes == {
        "number": batch.number,
        "export": 2,
        "format": "xlsx",
        "count": 3,
        "total_fen": 3 * 999_80,
        "reason": "银行退回：文件格式有误",
    }
    third = payments.export_bank_file(actor=finance_user, batch=batch, fmt="csv", reason="换用CSV")
    assert third.filename == f"发放批次-{batch.number}-重复导出3.csv"
    history = list(PaymentExport.objects.filter(batch=batch).values_list("sequence", "format", "reason"))
    assert history == [(1, "xlsx", ""), (2, "xlsx", "银行退回：文件格式有误"), (3, "csv", "换用CSV")]
    for event in AuditEvent.objects.filter(action__startswith="subsidies."):
        assert not any(card(n) in json.dumps(event.changes) for n in range(3)), event.action


def test_the_batch_pages(boss, shop, finance_user) -> None:
    programme = appliances(boss, payee=Programme.Payee.APPLICANT)
    ready = sell(shop, programme, "P-1", 1, **payee("林芳", card(1)))
    approve(ready)
    legacy = sell(shop, programme, "P-2", 2, **payee("王强", card(2)))
    Application.objects.filter(pk=legacy.pk).update(payee_account="", payee_name="")  # filed before accounts
    approve(legacy)
    client = Client()
    client.force_login(finance_user)
    waiting = client.get("/subsidies/payments/").content.decode()
    assert "1 份申请缺少收款账户（申请人未提供收款账户1份）" in waiting
    made = client.post("/subsidies/payments/", {"programme": programme.code}, follow=True)
    page = made.content.decode()
    assert "1 份申请缺少收款账户（申请人未提供收款账户1份），未列入本批次" in page
    batch = PaymentBatch.objects.get()
    url = f"/subsidies/payments/{batch.number}/"
    assert payees.mask_account(card(1)) in page and card(1) not in page  # masked on screen
    assert "尚未导出" in page
    download = client.post(url, {"action": "export", "format": "xlsx"})
    assert download["Content-Disposition"].endswith("%E5%8F%91%E6%94%BE%E6%89%B9%E6%AC%A1-" + batch.number + ".xlsx")
    refused = client.post(url, {"action": "export", "format": "xlsx"}, follow=True).content.decode()
    assert "再次导出须填写原因" in refused and "重复导出原因" in refused
    again = client.post(url, {"action": "export", "format": "csv", "reason": "银行未收到文件"})
    assert "%E9%87%8D%E5%A4%8D%E5%AF%BC%E5%87%BA2.csv" in again["Content-Disposition"]  # 重复导出2.csv
    assert card(1) in again.content.decode("utf-8-sig")
    page = client.get(url).content.decode()
    assert "第2次（重复导出）" in page and "银行未收到文件" in page and "已重复导出" in page
    assert card(1) not in page


def test_a_large_batch_keeps_every_rows_account(boss, shop) -> None:
    """Past `bulkinsert.COPY_FROM` rows a chunk goes in by COPY on PostgreSQL: the accounts, encrypted while the
    rows are checked, land in their columns and read back as given."""
    from huanxin.subsidies import bulk

    programme = appliances(boss, payee=Programme.Payee.APPLICANT)
    rows = [
        bulk.RowIn(
            line=n,
            order=f"L-{n}",
            programme=programme,
            applicant_name="林芳",
            applicant_id=identities.resident_id(random.Random(1000 + n)),
            phone="13912345678",
            items=[fridge(f"L-{n}")],
            payee=payees.Payee(f"户{n}", card(n), BANK, BANK_CODE),
        )
        for n in range(60)
    ]
    rows[7] = dataclasses.replace(rows[7], payee=payees.Payee("户7", BAD_CARD, BANK, BANK_CODE))
    outcomes = bulk.submit_rows(actor=shop, rows=rows)
    assert [o.ok for o in outcomes].count(False) == 1 and "校验位不符" in outcomes[7].message
    kept = {a.idempotency_key: a for a in Application.objects.filter(programme=programme)}
    assert len(kept) == 59
    for n in (0, 30, 59):
        application = kept[f"batch:L-{n}"]
        assert (application.payee_name, application.payee_account) == (f"户{n}", card(n))
        assert (application.payee_bank, application.payee_bank_code) == (BANK, BANK_CODE)
