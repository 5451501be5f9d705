"""Subsidies API (/api/v1/subsidies/…): a merchant's till (API token) or a citizen's session submits an application
with an `Idempotency-Key` — a retry, or a second click, submits once; anyone checks progress by number and the
phone's last four digits; officials read each programme's money."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, Router, Schema, Status
from ninja.errors import HttpError

from huanxin.core.views import actor, api_refusal
from huanxin.subsidies import selectors
from huanxin.subsidies.applications import ItemIn, submit_application
from huanxin.subsidies.models import Application, Programme, sees_whole_ledger

router = Router(tags=["以旧换新补贴"])


class ItemSchema(Schema):
    kind: str
    invoice_no: str
    invoice_date: dt.date
    price_fen: int
    brand_model: str = ""
    serial: str = Field("", description="序列号/IMEI；电动自行车：新车车架号")
    grade: str = ""
    certificate_no: str = Field("", description="收旧凭证或回收证明编号")
    vin: str = Field("", description="汽车报废更新、置换更新：旧车车辆识别代号")
    new_fuel: str = Field("", description="汽车：新车类型 nev（新能源）| fuel（燃油）")
    transfer_no: str = Field("", description="汽车置换更新：旧车机动车转移登记编号")
    transfer_date: dt.date | None = Field(None, description="汽车置换更新：转移登记日期")
    old_registered_on: dt.date | None = Field(None, description="汽车置换更新：旧车登记在申请人名下的日期")
    battery: str = Field("", description="电动自行车：新车电池 lead_acid（铅酸）| lithium（锂离子）")
    ccc_no: str = Field("", description="电动自行车：新车CCC认证证书编号（16位数字）")
    standard: str = Field("", description="电动自行车：新车合格证执行标准，如 GB 17761-2024")


class ApplicationIn(Schema):
    programme: str
    # a citizen applies in the account's verified identity (实名): these may be left out, and another ID number is
    # refused (identity_mismatch); a merchant gives the customer's
    applicant_name: str = Field("", description="申请人姓名（商户必填；居民本人申请取账户实名信息，可不填）")
    applicant_id: str = Field("", description="申请人身份证号码（商户必填；居民可不填，填写时须与账户实名信息一致）")
    phone: str = Field("", description="申请人手机号码（商户必填；居民本人申请取账户实名信息，可不填）")
    items: list[ItemSchema]


class ApplicationOut(Schema):
    number: str
    programme: str
    status: str
    status_label: str
    amount_fen: int
    risk_reasons: list[str]
    created_at: dt.datetime


def _out(a: Application) -> ApplicationOut:
    return ApplicationOut(
        number=a.number,
        programme=a.programme.code,
        status=a.status,
        status_label=a.get_status_display(),
        amount_fen=a.amount_fen,
        risk_reasons=a.risk_reasons,
        created_at=a.created_at,
    )


@router.post(
    "/subsidies/applications", response={201: ApplicationOut}, summary="提交补贴申请（居民或商户；Idempotency-Key）"
)
def submit(request: HttpRequest, payload: ApplicationIn) -> Status:
    user = actor(request)
    programme = get_object_or_404(Programme.objects.visible_to(user), code=payload.programme)
    try:
        application = submit_application(
            actor=user,
            programme=programme,
            applicant_name=payload.applicant_name,
            applicant_id=payload.applicant_id,
            phone=payload.phone,
            items=[ItemIn(**item.dict()) for item in payload.items],
            idempotency_key=request.headers.get("Idempotency-Key", ""),
        )
    except ValidationError as exc:
        raise api_refusal(exc) from exc
    return Status(201, _out(application))


@router.get("/subsidies/applications/{number}", response=ApplicationOut, summary="一份申请（按权限）")
def get_application(request: HttpRequest, number: str) -> ApplicationOut:
    return _out(
        get_object_or_404(Application.objects.visible_to(request.user).select_related("programme"), number=number)
    )


class StatusOut(Schema):
    number: str
    programme: str
    status: str
    status_label: str
    amount_fen: int
    submitted_at: dt.datetime


@router.get("/subsidies/status", response=StatusOut, auth=None, summary="申请进度（公开：申请编号 + 手机尾号四位）")
def public_status(request: HttpRequest, number: str, phone4: str) -> StatusOut:
    a = Application.objects.select_related("programme").filter(number=number.strip().upper()).first()
    if a is None or len(phone4) != 4 or not a.phone.endswith(phone4):
        error = HttpError(404, "未找到：请核对申请编号和手机号码后四位")
        error.code = "application_not_found"  # type: ignore[attr-defined]
        raise error
    return StatusOut(
        number=a.number,
        programme=a.programme.name,
        status=a.status,
        status_label=a.get_status_display(),
        amount_fen=a.amount_fen,
        submitted_at=a.created_at,
    )


class ProgrammeOut(Schema):
    code: str
    name: str
    category: str
    status: str
    opens_on: dt.date
    closes_on: dt.date
    funded_fen: int | None = None
    available_fen: int | None = None
    reserved_fen: int | None = None
    paid_fen: int | None = None
    burn_fen_per_day: int | None = None
    runs_out_on: dt.date | None = None


@router.get("/subsidies/programmes", response=list[ProgrammeOut], summary="补贴批次（工作人员可见资金情况）")
def programmes(request: HttpRequest) -> list[ProgrammeOut]:
    rows = []
    for p in Programme.objects.visible_to(request.user):
        row = ProgrammeOut(
            code=p.code, name=p.name, category=p.category, status=p.status, opens_on=p.opens_on, closes_on=p.closes_on
        )
        if sees_whole_ledger(request.user):
            f = selectors.forecast(p)
            row.funded_fen, row.available_fen = f.balances.funded_fen, f.balances.available_fen
            row.reserved_fen, row.paid_fen = f.balances.reserved_fen, f.balances.paid_fen
            row.burn_fen_per_day, row.runs_out_on = f.burn_fen_per_day, f.runs_out_on
        rows.append(row)
    return rows
