"""Every Excel and CSV download is inert: text a user typed never runs as a formula, whatever it starts with.

Records are given hostile text in the fields each export carries (set in the database directly, as data from
before any validation would be), each export is downloaded through its page as a role that may, and every cell
of every sheet is checked. `test_every_export_is_covered` fails when a page offering a new download is not in
`COVERED`, so a new export cannot skip these tests.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import inspect
import io
import re
from decimal import Decimal
from io import StringIO
from pathlib import Path
from typing import Any

import docx
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from openpyxl import Workbook, load_workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from huanxin.core.exports import FORMULA_START, build_csv, build_workbook
from huanxin.core.models import Department, Organisation, Region
from huanxin.core.roles import Role
from huanxin.monitoring import ledgers, selectors
from huanxin.monitoring import services as monitoring
from huanxin.monitoring.models import IndicatorValue, LedgerEntry, LedgerKind
from huanxin.monitoring.periods import Frequency
from huanxin.plans.models import Indicator
from huanxin.projects import services as projects
from huanxin.projects.models import Enterprise, Project
from huanxin.recycling import invoices
from huanxin.recycling import services as recycling
from huanxin.recycling.models import CollectionRecord, ReverseInvoice, Site
from huanxin.subsidies import payments
from huanxin.subsidies.models import Payment, PaymentBatch, Programme
from huanxin.subsidies.review import decide
from tests.factories import UserFactory, officer, task_force, user_with_role
from tests.jobs.helpers import run_queued_jobs
from tests.projects.conftest import credit_code
from tests.recycling.conftest import recycler_org
from tests.subsidies.accounts import card, payee
from tests.subsidies.test_payees import appliances, sell

pytestmark = pytest.mark.django_db

# what a user types to make an official's spreadsheet run something (the \x01 is a character XML cannot carry)
HOSTILE = [
    '=HYPERLINK("http://x","y")',
    "+1",
    "-1+2",
    "@SUM(A1)",
    "\t=1",
    "＝1",
    "\x01=1",
    "\r=1",
    "\n=1",
    "－1",
    "＠SUM(A1)",
    "名\x01称",
]
# the pages that hand out a workbook or CSV, each downloaded by a test below
COVERED = {
    "plans:indicators",
    "plans:departments",
    "monitoring:report_xlsx",
    "monitoring:report_docx",
    "monitoring:report_template",
    "monitoring:review",
    "monitoring:ledger",
    "recycling:records",
    "recycling:record_template",
    "recycling:invoice_export",
    "projects:list",
    "projects:financing",
    "projects:enterprise_template",
    "subsidies:batch",
    "subsidies:batch_template",
    "subsidies:batch_detail",
    "subsidies:settlement",
    "subsidies:settlement_merchant",
    "jobs:result",  # a background job's result file: the uploads' result workbooks below come through it
    "audit",  # the auditor's filtered events: tests/core/test_audit_page.py
}


def hostile(n: int) -> str:
    return HOSTILE[n % len(HOSTILE)]


def _is_formula_like(text: str) -> bool:
    return text[:1] in FORMULA_START and not re.fullmatch(r"-[0-9]+(?:\.[0-9]+)?", text)


def inert_xlsx(content: bytes) -> list[str]:
    """Every text cell of every sheet; fails on a formula, a formula-like cell without the quote prefix, or a
    control character."""
    texts = []
    wb = load_workbook(io.BytesIO(content))
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"{ws.title}!{cell.coordinate} is a formula: {cell.value!r}"
                if isinstance(cell.value, str):
                    assert "\x01" not in cell.value
                    if _is_formula_like(cell.value):
                        assert cell.quotePrefix, f"{ws.title}!{cell.coordinate} {cell.value!r} has no quote prefix"
                    texts.append(cell.value)
    return texts


def inert_csv(content: bytes) -> list[str]:
    texts = []
    for row in csv.reader(io.StringIO(content.decode("utf-8-sig"))):
        for cell in row:
            assert "\x01" not in cell
            assert not _is_formula_like(cell), f"CSV cell {cell!r} would run as a formula"
            texts.append(cell)
    return texts


def inert(response: Any) -> list[str]:
    assert response.status_code == 200, response.status_code
    kind = response["Content-Type"]
    if kind.startswith("text/csv"):
        return inert_csv(response.content)
    assert kind.startswith("application/vnd.openxmlformats-officedocument.spreadsheetml"), kind
    return inert_xlsx(response.content)


def carried(texts: list[str], *values: str) -> None:
    """The hostile values did reach the file (cleaned, and in a CSV after the apostrophe)."""
    joined = "\n".join(texts)
    for value in values:
        shown = value.replace("\x01", "")
        assert shown in joined, f"{shown!r} not in the export"


def logged_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


# --- the helper itself ------------------------------------------------------------------------------------------


def test_the_helper_keeps_every_hostile_start_as_text_and_numbers_as_numbers() -> None:
    rows = [[value, -5, -1.5, Decimal("-2.50"), "-12.50", None] for value in HOSTILE]
    texts = inert_xlsx(build_workbook(title="表[1]:*?/\\'", headers=["=标题", "b", "c", "d", "e", "f"], rows=rows))
    carried(texts, *HOSTILE)
    ws = load_workbook(io.BytesIO(build_workbook(title="t", headers=["a", "b", "c", "d", "e"], rows=rows))).active
    assert ws is not None
    assert [c.value for c in ws[2][1:5]] == [-5, -1.5, -2.5, "-12.50"]  # numbers stay numbers
    assert ws["A2"].value == '=HYPERLINK("http://x","y")' and ws["A2"].quotePrefix  # shown as typed
    assert not ws["E2"].quotePrefix  # a negative number written as text is no formula
    lines = inert_csv(build_csv(headers=["a", "b", "c"], rows=[[v, -5, "-12.50"] for v in HOSTILE]))
    assert '\'=HYPERLINK("http://x","y")' in lines and "-5" in lines and "-12.50" in lines


def test_nothing_else_writes_a_workbook_or_csv() -> None:
    """Only core/exports.py builds a workbook or a CSV; every export goes through it."""
    src = Path(__file__).resolve().parents[2] / "src" / "huanxin"
    writers = re.compile(r"\bWorkbook\(|csv\.writer\(|csv\.DictWriter\(|xlsxwriter")
    offenders = []
    for path in src.rglob("*.py"):
        if path.name == "exports.py" and path.parent.name == "core":
            continue
        if writers.search(path.read_text(encoding="utf-8")):
            offenders.append(str(path.relative_to(src)))
    assert offenders == []


def _patterns(patterns: list[Any], namespace: str = "", prefix: str = "") -> Any:
    for p in patterns:
        if isinstance(p, URLResolver):
            ns = ":".join(x for x in (namespace, p.namespace or "") if x)
            yield from _patterns(p.url_patterns, ns, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            yield ":".join(x for x in (namespace, p.name or "") if x), prefix + str(p.pattern), p.callback


_OFFERS_A_FILE = re.compile(r"xlsx|csv|attachment_response|build_workbook|build_csv|b64encode", re.IGNORECASE)


def _offers_a_file(callback: Any) -> bool:
    """Whether a view (or a function of its module it calls by name) hands out a workbook or CSV."""
    view = inspect.unwrap(callback)
    try:
        source = inspect.getsource(view)
    except (OSError, TypeError):
        return False
    if _OFFERS_A_FILE.search(source):
        return True
    module = inspect.getmodule(view)
    for name in re.findall(r"\b(_?[a-z]\w*)\(", source):
        helper = getattr(module, name, None)
        ours = inspect.isfunction(helper) and helper.__module__ == view.__module__ and helper is not view
        if ours and _OFFERS_A_FILE.search(inspect.getsource(helper)):
            return True
    return False


def test_every_export_is_covered() -> None:
    found = {
        name
        for name, route, callback in _patterns(get_resolver().url_patterns)
        if "export" in name or route.endswith((".xlsx", ".csv")) or _offers_a_file(callback)
    }
    assert found - COVERED == set(), "an export these tests do not download: add a test and its name to COVERED"
    assert COVERED - found == set()  # a name that is no export any more


# --- plans and monitoring --------------------------------------------------------------------------------------


@pytest.fixture
def setup(plan: Any) -> Any:
    call_command("monitoring", "setup", stdout=StringIO())
    return plan


def test_plan_and_report_exports(setup: Any) -> None:
    names = list(Indicator.objects.filter(plan=setup).order_by("pk")[: len(HOSTILE)])
    for n, indicator in enumerate(names):
        Indicator.objects.filter(pk=indicator.pk).update(name=hostile(n))
    city = Region.objects.get(code="130700")
    for n in range(3):
        Department.objects.create(
            code=f"hostile-{n}", name=hostile(n) + f"局{n}", short_name=hostile(n + 3), region=city
        )
    client = logged_in(task_force())
    texts = inert(client.get(reverse("plans:indicators", args=[setup.code]), {"format": "xlsx"}))
    carried(texts, *HOSTILE)
    carried(inert(client.get(reverse("plans:departments"), {"format": "xlsx"})), hostile(0) + "局0", hostile(3))
    carried(inert(client.get(reverse("monitoring:report_xlsx"))), *HOSTILE)
    briefing = client.get(reverse("monitoring:report_docx"))  # Word runs no formulas; it must only open
    assert briefing.status_code == 200
    text = "\n".join(
        c.text for t in docx.Document(io.BytesIO(briefing.content)).tables for r in t.rows for c in r.cells
    )
    carried([text], hostile(0), "名称")


def test_entry_template_review_and_ledger_exports(setup: Any) -> None:
    clerk = officer("市住房和城乡建设局")
    ref = selectors.latest_open_period(Frequency.QUARTER, timezone.localdate())
    period = monitoring.ensure_period(ref=ref)
    indicator = Indicator.objects.get(plan=setup, code="gas-pipeline-renewed-km")
    value = monitoring.save_value(
        actor=clerk, indicator=indicator, period=period, region=Region.objects.get(code="130722"), value="2"
    )
    monitoring.submit_values(actor=clerk, values=[value])
    IndicatorValue.objects.filter(pk=value.pk).update(note=hostile(0))
    Indicator.objects.filter(pk=indicator.pk).update(name=hostile(1))
    template = logged_in(clerk).get(reverse("monitoring:report_template"), {"period": period.code})
    carried(inert(template), hostile(0), hostile(1))
    boss = logged_in(task_force())
    carried(inert(boss.get(reverse("monitoring:review"), {"format": "xlsx"})), hostile(0), hostile(1))

    transport = officer("市交通运输局")
    kind = LedgerKind.objects.get(plan=setup, code="buses")
    entry = ledgers.record_entry(
        actor=transport,
        kind=kind,
        region=Region.objects.get(code="130722"),
        recorded_on=timezone.localdate() - dt.timedelta(days=1),
        quantity="5",
        attributes={"fuel": "纯电动"},
    )
    LedgerEntry.objects.filter(pk=entry.pk).update(evidence=hostile(2), attributes={"fuel": hostile(3)})
    url = reverse("monitoring:ledger", args=[setup.code, "buses"])
    carried(inert(logged_in(transport).get(url, {"format": "xlsx"})), hostile(2), hostile(3))


# --- recycling -------------------------------------------------------------------------------------------------


def _upload(rows: list[list[Any]], name: str = "upload.xlsx") -> SimpleUploadedFile:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row, start=1):
            ws.cell(row=r, column=c).value = ILLEGAL_CHARACTERS_RE.sub("", value) if isinstance(value, str) else value
            ws.cell(row=r, column=c).data_type = "s"  # typed as text, even "=…"
    buffer = io.BytesIO()
    wb.save(buffer)
    return SimpleUploadedFile(name, buffer.getvalue())


def _job_result(client: Client, response: Any) -> Any:
    """An upload handed to a background job: run it, and download its result file from the job's page."""
    assert response.status_code == 302 and response["Location"].startswith("/jobs/"), response.status_code
    run_queued_jobs()
    return client.get(response["Location"] + "result/")


def _result_file(response: Any, key: str) -> bytes:
    assert response.status_code == 200, response.content.decode()[:500]
    return base64.b64decode(response.context[key])


def test_recycling_exports(plan: Any) -> None:
    recycling.ensure_default_tax_rule()
    zhangbei = Region.objects.get(code="130722")
    clerk = UserFactory(role=Role.RECYCLER, organisation=recycler_org(zhangbei))
    site = recycling.save_site(
        actor=clerk,
        organisation=clerk.organisation,
        name="张北镇回收站",
        kind=Site.Kind.POINT,
        region=zhangbei,
        address="张北县张北镇新村路12号",
        categories=["tv", "scrap_steel"],
    )
    today = timezone.localdate()
    record, _ = recycling.record_collection(
        actor=clerk, site=site, received_on=today, source="person", category="tv", units=2
    )
    CollectionRecord.objects.filter(pk=record.pk).update(seller_org=hostile(0), external_ref=hostile(1))
    invoice = invoices.record_invoice(
        actor=clerk,
        site=site,
        seller_name="张三丰",
        seller_id="130722199503121231",
        sold_on=today,
        category="scrap_steel",
        description="废钢（重废）",
        weight_kg=Decimal("520.5"),
        amount_fen=1_200_00,
    )
    ReverseInvoice.objects.filter(pk=invoice.pk).update(description=hostile(2))
    client = logged_in(clerk)
    carried(inert(client.get(reverse("recycling:records"), {"format": "xlsx"})), hostile(0), hostile(1))
    export = client.get(reverse("recycling:invoice_export"), {"month": today.strftime("%Y-%m")})
    carried(inert(export), hostile(2))
    Site.objects.filter(pk=site.pk).update(name=hostile(3))
    carried(inert(client.get(reverse("recycling:record_template"))), hostile(3))

    from huanxin.recycling.excel import HEADERS

    rows = [HEADERS, *[[hostile(n), today.isoformat(), hostile(n + 1), "个人交售", "电视机", 1, 1, 1, hostile(n + 2)]
                      for n in range(len(HOSTILE))]]  # fmt: skip
    response = client.post(reverse("recycling:record_upload"), {"file": _upload(rows)})
    carried(inert(_job_result(client, response)), *HOSTILE)


# --- projects --------------------------------------------------------------------------------------------------


def test_project_exports(plan: Any) -> None:
    boss = task_force()
    xuanhua = Region.objects.get(code="130705")
    org = Organisation.objects.create(name="宣化装备制造有限公司", kind=Organisation.Kind.ENTERPRISE, region=xuanhua)
    enterprise, _ = projects.register_enterprise(
        actor=boss,
        uscc=credit_code(1),
        name="宣化装备制造有限公司",
        region=xuanhua,
        field="industry",
        industry="C34 通用设备制造业",
        above_designated_size=True,
        organisation=org,
    )
    owner = UserFactory(role=Role.ENTERPRISE, organisation=org)
    project = projects.save_project(
        actor=owner,
        enterprise=enterprise,
        title="智能化生产线改造",
        field="industry",
        total_investment_fen=50_000_000_00,
        equipment_investment_fen=30_000_000_00,
        starts_on=dt.date(2025, 3, 1),
        ends_on=dt.date(2026, 6, 30),
        annual_energy_tce=Decimal("12000"),
    )
    Project.objects.filter(pk=project.pk).update(
        title=hostile(0), status=Project.Status.APPROVED, seeks_loan=True, loan_wanted_fen=10_000_000_00
    )
    Enterprise.objects.filter(pk=enterprise.pk).update(name=hostile(1))
    client = logged_in(boss)
    carried(inert(client.get(reverse("projects:list"), {"format": "xlsx"})), hostile(0), hostile(1))
    carried(inert(client.get(reverse("projects:financing"), {"format": "xlsx"})), hostile(0), hostile(1))
    inert(client.get(reverse("projects:enterprise_template")))

    from huanxin.projects.excel import HEADERS

    rows = [HEADERS, *[[hostile(n), hostile(n + 1), "宣化区", hostile(n + 2)] for n in range(len(HOSTILE))]]
    response = client.post(reverse("projects:enterprise_import"), {"file": _upload(rows)})
    carried(inert(_job_result(client, response)), *HOSTILE)


# --- subsidies -------------------------------------------------------------------------------------------------


def test_subsidy_exports(plan: Any) -> None:
    boss = task_force()
    store = Organisation.objects.create(name="焕新家电商行", kind="merchant", region=Region.objects.get(code="130702"))
    shop = UserFactory(role=Role.MERCHANT, organisation=store)
    programme = appliances(boss, payee=Programme.Payee.APPLICANT)
    application = sell(shop, programme, "X-1", 1, **payee("林芳", card(1)))
    decide(actor=user_with_role(Role.REVIEWER), application=application, decision="approve")
    finance = user_with_role(Role.FINANCE_OFFICER)
    batch = payments.create_batch(actor=finance, programme=programme)
    Payment.objects.filter(batch=batch).update(payee_name=hostile(0), payee_bank=hostile(1))
    client = logged_in(finance)
    url = reverse("subsidies:batch_detail", args=[batch.number])
    carried(inert(client.post(url, {"action": "export", "format": "xlsx"})), hostile(0), hostile(1))
    again = client.post(url, {"action": "export", "format": "csv", "reason": "银行未收到文件"})
    carried(inert(again), hostile(0), hostile(1))
    assert PaymentBatch.objects.get(pk=batch.pk).exports.count() == 2

    own = appliances(boss)  # a programme that reimburses the merchant: its claims are what settlement lists
    sell(shop, own, "X-2", 2)
    Organisation.objects.filter(pk=store.pk).update(name=hostile(2))
    Programme.objects.filter(pk=own.pk).update(name=hostile(3))
    for fmt in ("csv", "xlsx"):
        carried(inert(client.get(reverse("subsidies:settlement"), {"format": fmt})), hostile(2))
        merchant = reverse("subsidies:settlement_merchant", args=[store.pk])
        carried(inert(client.get(merchant, {"format": fmt, "show": "pending"})), hostile(3))

    merchant_client = logged_in(shop)
    inert(merchant_client.get(reverse("subsidies:batch_template")))
    from huanxin.subsidies.batch import HEADERS

    rows = [HEADERS, *[[hostile(n), hostile(n + 1), hostile(n + 2)] for n in range(len(HOSTILE))]]
    response = merchant_client.post(reverse("subsidies:batch"), {"file": _upload(rows)})
    carried(inert_xlsx(_result_file(response, "result_b64")), *HOSTILE)
    text = "\r\n".join(",".join(csv_cell(c) for c in row) for row in rows).encode("utf-8-sig")
    response = merchant_client.post(reverse("subsidies:batch"), {"file": SimpleUploadedFile("b.csv", text)})
    assert response.context["result"].content_type.startswith("text/csv")
    carried(inert_csv(_result_file(response, "result_b64")), *[h for h in HOSTILE if "\r" not in h and "\n" not in h])


def csv_cell(value: Any) -> str:
    text = str(value)
    return '"' + text.replace('"', '""') + '"'
