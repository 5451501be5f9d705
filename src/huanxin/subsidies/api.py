"""Subsidies API (/api/v1/subsidies/…): a merchant's till (API token) or a citizen's session submits an application
with an `Idempotency-Key` — a retry, or a second click, submits once; anyone checks progress by number and the
phone's last four digits; officials read each programme's money."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, File, Router, Schema, Status, UploadedFile
from ninja.errors import HttpError

from huanxin.core import pii, throttle, uploads
from huanxin.core.schemas import Day, Fen, Key, Line, RegistrationDay, RequiredLine, Text, answers
from huanxin.core.views import actor, api_refusal
from huanxin.jobs.api import JobOut
from huanxin.subsidies import batch_job, errors, payees, refunds, selectors
from huanxin.subsidies.applications import ItemIn, submit_application
from huanxin.subsidies.models import Application, MerchantAccount, Programme, sees_whole_ledger

router = Router(tags=["以旧换新补贴"])


class ApplicationItemSchema(Schema):
    kind: RequiredLine = Field(max_length=30)
    invoice_no: RequiredLine = Field(max_length=40)
    invoice_date: Day
    price_fen: Fen
    brand_model: Line = Field("", max_length=80)
    serial: Line = Field("", max_length=40, description="序列号/IMEI；电动自行车：新车车架号")
    grade: Line = Field("", max_length=10)
    certificate_no: Line = Field("", max_length=24, description="收旧凭证或回收证明编号")
    vin: Line = Field("", max_length=17, description="汽车报废更新、置换更新：旧车车辆识别代号")
    new_fuel: Line = Field("", max_length=10, description="汽车：新车类型 nev（新能源）| fuel（燃油）")
    transfer_no: Line = Field("", max_length=40, description="汽车置换更新：旧车机动车转移登记编号")
    transfer_date: Day | None = Field(None, description="汽车置换更新：转移登记日期")
    old_registered_on: RegistrationDay | None = Field(None, description="汽车置换更新：旧车登记在申请人名下的日期")
    battery: Line = Field("", max_length=20, description="电动自行车：新车电池 lead_acid（铅酸）| lithium（锂离子）")
    ccc_no: Line = Field("", max_length=20, description="电动自行车：新车CCC认证证书编号（16位数字）")
    standard: Line = Field("", max_length=40, description="电动自行车：新车合格证执行标准，如 GB 17761-2024")


class PayeeIn(Schema):
    name: RequiredLine = Field(max_length=60, description="户名（不超过60字）")
    account: RequiredLine = Field(max_length=40, description="账号或银行卡号（8–30位数字；16–19位银行卡号校验末位）")
    bank: RequiredLine = Field(max_length=60, description="开户行")
    bank_code: RequiredLine = Field(max_length=20, description="联行号（12位数字）")


class ApplicationIn(Schema):
    programme: RequiredLine = Field(max_length=60)
    # a citizen applies in the account's verified identity (实名): these may be left out, and another ID number is
    # refused (identity_mismatch); a merchant gives the customer's
    applicant_name: Line = Field(
        "", max_length=40, description="申请人姓名（商户必填；居民本人申请取账户实名信息，可不填）"
    )
    applicant_id: Line = Field(
        "", max_length=30, description="申请人身份证号码（商户必填；居民可不填，填写时须与账户实名信息一致）"
    )
    phone: Line = Field("", max_length=20, description="申请人手机号码（商户必填；居民本人申请取账户实名信息，可不填）")
    items: list[ApplicationItemSchema] = Field(max_length=20)
    payee: PayeeIn | None = Field(
        None,
        description="补贴收款账户：补贴发给申请人本人时必填（汽车、电动自行车；居民自行申请的各类补贴），"
        "商户垫付的补贴（家电、数码、家装厨卫由商户提交）不需要。缺少或有误时答 422 invalid_payee",
    )


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
    "/subsidies/applications",
    response=answers({201: ApplicationOut}, 400, 401, 403, 404, 409, 422, 503),
    summary="提交补贴申请（居民或商户；Idempotency-Key）",
)
def submit(request: HttpRequest, payload: ApplicationIn) -> Status:
    user = actor(request)
    programme = get_object_or_404(Programme.objects.visible_to(user), code=payload.programme)
    payee = payload.payee
    try:
        application = submit_application(
            actor=user,
            programme=programme,
            applicant_name=payload.applicant_name,
            applicant_id=payload.applicant_id,
            phone=payload.phone,
            items=[ItemIn(**item.dict()) for item in payload.items],
            idempotency_key=request.headers.get("Idempotency-Key", ""),
            payee_name=payee.name if payee else "",
            payee_account=payee.account if payee else "",
            payee_bank=payee.bank if payee else "",
            payee_bank_code=payee.bank_code if payee else "",
        )
    except ValidationError as exc:
        refusal = api_refusal(exc)
        if refusal.code == errors.IDEMPOTENCY_KEY_REUSED:  # type: ignore[attr-defined]
            refusal.status_code = 409  # the key names another request: a conflict, not a bad body
        raise refusal from exc
    return Status(201, _out(application))


@router.get(
    "/subsidies/applications/{number}", response=answers(ApplicationOut, 401, 404, 422), summary="一份申请（按权限）"
)
def get_application(request: HttpRequest, number: Key) -> ApplicationOut:
    return _out(
        get_object_or_404(Application.objects.visible_to(request.user).select_related("programme"), number=number)
    )


class RefundIn(Schema):
    reason: Text = Field(max_length=200, description="退货原因（不超过200字）")


class RefundOut(Schema):
    number: str
    status: str
    status_label: str
    clawed_back: bool = Field(description="补贴已发放，退货后须追回")
    amount_fen: int
    reported_at: dt.datetime


@router.post(
    "/subsidies/applications/{number}/refund",
    response=answers(RefundOut, 400, 401, 403, 404, 422, 503),
    summary="报告退货（销售商户；重复报告返回首次结果）",
)
def refund(request: HttpRequest, number: Key, payload: RefundIn) -> RefundOut:
    user = actor(request)
    application = get_object_or_404(Application.objects.visible_to(user), number=number)
    try:
        done = refunds.report_refund(actor=user, application=application, reason=payload.reason)
    except ValidationError as exc:
        raise api_refusal(exc) from exc
    application.refresh_from_db(fields=["status"])
    return RefundOut(
        number=application.number,
        status=application.status,
        status_label=application.get_status_display(),
        clawed_back=done.clawed_back,
        amount_fen=done.amount_fen,
        reported_at=done.at,
    )


class ApplicationStatusOut(Schema):
    number: str
    programme: str
    status: str
    status_label: str
    amount_fen: int
    submitted_at: dt.datetime


# The same scope as the status page's (views.STATUS_LOOKUPS): one count of failed look-ups for both.
STATUS_LOOKUPS = throttle.LookupThrottle("subsidies.status")


@router.get(
    "/subsidies/status",
    response=answers(ApplicationStatusOut, 404, 422, 429),
    auth=None,
    summary="申请进度（公开：申请编号 + 手机尾号四位）",
    description="查询失败次数按来源地址和申请编号限制；超过后答 429 too_many_lookups，Retry-After 为需等待的秒数。",
)
def public_status(request: HttpRequest, number: Key, phone4: Key) -> ApplicationStatusOut:
    number = number.strip().upper()
    wait = STATUS_LOOKUPS.wait(request, number)
    if wait:
        raise throttle.TooManyLookups(wait)
    a = Application.objects.select_related("programme").filter(number=number).first()
    if a is None or len(phone4) != 4 or not a.phone.endswith(phone4):
        STATUS_LOOKUPS.failed(request, number)
        error = HttpError(404, "未找到：请核对申请编号和手机号码后四位")
        error.code = "application_not_found"  # type: ignore[attr-defined]
        raise error
    return ApplicationStatusOut(
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
    payee: str = Field("", description="收款人：applicant（申请人本人，须附收款账户）| merchant（垫付补贴的商户）")
    funded_fen: int | None = None
    available_fen: int | None = None
    reserved_fen: int | None = None
    paid_fen: int | None = None
    burn_fen_per_day: int | None = None
    runs_out_on: dt.date | None = None


@router.get(
    "/subsidies/programmes", response=answers(list[ProgrammeOut], 401), summary="补贴批次（工作人员可见资金情况）"
)
def programmes(request: HttpRequest) -> list[ProgrammeOut]:
    rows = []
    for p in Programme.objects.visible_to(request.user):
        row = ProgrammeOut(
            code=p.code,
            name=p.name,
            category=p.category,
            status=p.status,
            opens_on=p.opens_on,
            closes_on=p.closes_on,
            payee=p.payee,
        )
        if sees_whole_ledger(request.user):
            f = selectors.forecast(p)
            row.funded_fen, row.available_fen = f.balances.funded_fen, f.balances.available_fen
            row.reserved_fen, row.paid_fen = f.balances.reserved_fen, f.balances.paid_fen
            row.burn_fen_per_day, row.runs_out_on = f.burn_fen_per_day, f.runs_out_on
        rows.append(row)
    return rows


class MerchantAccountIn(Schema):
    account_name: Line = Field("", max_length=60, description="户名；已设置账户时留空则保持不变")
    account_no: Line = Field("", max_length=40, description="账号（8–30位数字）；已设置账户时留空则保持不变")
    bank: RequiredLine = Field(max_length=60, description="开户行")
    bank_code: RequiredLine = Field(max_length=20, description="联行号（12位数字）")


class MerchantAccountOut(Schema):
    account_name: str = Field(description="户名（脱敏）")
    account_no: str = Field(description="账号（脱敏：首尾各四位）")
    bank: str
    bank_code: str
    updated_at: dt.datetime


def _account_out(account: MerchantAccount) -> MerchantAccountOut:
    return MerchantAccountOut(
        account_name=pii.mask_name(account.account_name),
        account_no=payees.mask_account(account.account_no),
        bank=account.bank,
        bank_code=account.bank_code,
        updated_at=account.updated_at,
    )


@router.get(
    "/subsidies/merchant-account",
    response=answers(MerchantAccountOut, 401, 403, 404),
    summary="本商户的结算账户（脱敏）",
)
def get_merchant_account(request: HttpRequest) -> MerchantAccountOut:
    user = actor(request)
    if not payees.can_keep_account(user):
        raise PermissionDenied("结算账户由商户本单位维护")
    account = payees.account_of(user)
    if account is None:
        error = HttpError(404, "尚未设置结算账户")
        error.code = "merchant_account_not_set"  # type: ignore[attr-defined]
        raise error
    return _account_out(account)


@router.put(
    "/subsidies/merchant-account",
    response=answers(MerchantAccountOut, 400, 401, 403, 422),
    summary="设置本商户的结算账户（记入操作日志）",
)
def put_merchant_account(request: HttpRequest, payload: MerchantAccountIn) -> MerchantAccountOut:
    try:
        account = payees.save_merchant_account(
            actor=actor(request),
            account_name=payload.account_name,
            account_no=payload.account_no,
            bank=payload.bank,
            bank_code=payload.bank_code,
        )
    except ValidationError as exc:
        raise api_refusal(exc) from exc
    return _account_out(account)


@router.post(
    "/subsidies/batches",
    response=answers({202: JobOut}, 401, 403, 422),
    summary="上传批量申请文件（商户；后台处理，返回任务）",
    description=(
        "与网页“批量申请”同一模板（.xlsx 或 .csv，最多 10 万行、20MB）。立即返回 202 和任务；"
        "轮询 GET /api/v1/jobs/{id}，结束后从 result_url 下载逐行结果。订单号是每行的幂等键：重传同一文件不会重复申请。"
    ),
)
def upload_batch(request: HttpRequest, file: File[UploadedFile]) -> Status:
    user = actor(request)
    try:
        data = uploads.read_upload(file, max_bytes=batch_job.MAX_FILE)  # by its size, before it is read
        job = batch_job.start(actor=user, name=file.name or "", content_type=file.content_type or "", data=data)
    except ValidationError as exc:
        raise api_refusal(exc) from exc
    return Status(202, job)
