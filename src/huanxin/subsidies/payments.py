"""Paying approved subsidies (see docs/subsidy-review-and-payments.md).

Finance officers (and the task force) put a programme's approved applications into a payment batch — each
payment with the account its payee is paid to (the applicant's, or the reimbursed merchant's, `payees.py`) —,
export the bank's payment file (Excel or CSV; again only with a reason, marked 重复导出), and import the bank's
result file row by row: a success pays the reservation in the budget ledger (`ledger.pay`) and marks the
application paid; a failure sends the application back to approved, so the next batch takes it again. A paid
application is never paid again: an application has at most one payment pending or paid (a partial unique index),
`ledger.pay` pays a reference once, and each result row locks its payment before looking at it, so the same file
imported twice — or by two people at once — changes nothing the second time. A paid application found fraudulent
is clawed back (`clawback`).

The payment file carries the payees' account numbers and names in full because the bank needs them; they never
go into the audit log or a log line, and pages show them masked. Bank failure reasons are stored on the payment,
not in the audit log (the bank's text may quote the account holder).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q, Sum
from django.utils import timezone

from huanxin.core import audit, uploads
from huanxin.core.exports import CSV, XLSX, build_csv, build_workbook
from huanxin.core.models import User
from huanxin.core.roles import Role, is_authenticated, is_task_force
from huanxin.notices import notify
from huanxin.recycling.services import draw_number
from huanxin.subsidies import ledger, payees
from huanxin.subsidies.models import (
    Application,
    ApplicationEvent,
    MerchantAccount,
    Payment,
    PaymentBatch,
    PaymentExport,
    Programme,
)

EXPORT_HEADERS = ["序号", "收款账号", "收款户名", "金额（元）", "开户行", "联行号", "用途/附言"]
PURPOSE = "以旧换新补贴"  # the 附言 is this and the application's number: the payee sees what the money is for
RESULT_HEADERS = ["申请编号", "结果", "银行流水号", "失败原因"]
REQUIRED_RESULT_HEADERS = ["申请编号", "结果"]
SUCCESS, FAILURE = "成功", "失败"
MAX_ROWS = 100_000


@dataclass(frozen=True)
class RowResult:
    row: int  # line number in the file (the header is line 1)
    ref: str  # 申请编号
    ok: bool
    message: str
    changed: bool = False


def can_pay(user: Any) -> bool:
    return is_authenticated(user) and (user.role == Role.FINANCE_OFFICER or is_task_force(user))


def _check_actor(actor: Any) -> None:
    if not can_pay(actor):
        raise PermissionDenied("只有财务人员（或工作专班）可以办理补贴发放")


def _refuse(message: str, code: str) -> ValidationError:
    return ValidationError(message, code=code)


def yuan_plain(fen: int) -> str:
    """Fen as the bank wants yuan: 123456 → "1234.56" (no thousands separator)."""
    whole, cents = divmod(fen, 100)
    return f"{whole}.{cents:02d}"


def _event(application: Application, *, actor: User, note: str, now: dt.datetime) -> None:
    ApplicationEvent.objects.create(
        application=application, status=application.status, actor=actor, at=now, note=note[:200]
    )


def _open_payment() -> Exists:
    return Exists(
        Payment.objects.filter(application=OuterRef("pk"), status__in=[Payment.Status.PENDING, Payment.Status.PAID])
    )


def payable(programme: Programme) -> Any:
    """Approved applications of the programme with no payment pending or paid, oldest first."""
    return (
        Application.objects.filter(programme=programme, status=Application.Status.APPROVED)
        .exclude(_open_payment())
        .order_by("created_at", "pk")
    )


# --- whose account: an application without one waits outside the batches ----------------------------------------

LEFT_OUT = {"applicant": "申请人未提供收款账户", "merchant": "商户未设置结算账户"}


def _merchant_has_account() -> Exists:
    return Exists(MerchantAccount.objects.filter(organisation=OuterRef("merchant_id")))


def _has_account(programme: Programme) -> Q:
    """The applications whose payee (by the programme's rule, `payees.of_application`) has an account: in SQL,
    without decrypting anything (an empty account is stored empty)."""
    own = ~Q(payee_account="")
    if programme.payee != Programme.Payee.MERCHANT:
        return own
    return (Q(merchant__isnull=False) & _merchant_has_account()) | (Q(merchant__isnull=True) & own)


def missing_accounts(programme: Programme) -> dict[str, int]:
    """Approved applications waiting for payment whose payee has no account yet, counted by whose account is
    missing: {"applicant": n, "merchant": n} (only the non-zero ones)."""
    waiting = payable(programme)
    out: dict[str, int] = {}
    if programme.payee == Programme.Payee.MERCHANT:
        if n := waiting.filter(merchant__isnull=False).exclude(_merchant_has_account()).count():
            out["merchant"] = n
        waiting = waiting.filter(merchant__isnull=True)
    if n := waiting.filter(payee_account="").count():
        out["applicant"] = n
    return out


def describe_left_out(left_out: dict[str, int]) -> str:
    """{"applicant": 2, "merchant": 1} → "3 份申请缺少收款账户（申请人未提供收款账户2份；商户未设置结算账户1份）"."""
    if not left_out:
        return ""
    parts = "；".join(f"{LEFT_OUT[kind]}{n}份" for kind, n in sorted(left_out.items()))
    return f"{sum(left_out.values())} 份申请缺少收款账户（{parts}）"


# --- batches ----------------------------------------------------------------------------------------------------


def create_batch(
    *, actor: User, programme: Programme, limit: int | None = None, now: dt.datetime | None = None
) -> PaymentBatch:
    """A batch of the programme's approved applications not yet in a payment (at most `limit`, oldest first), each
    payment with the account the programme's rule pays (`payees.of_application`). An application whose payee has
    no account yet is left out and waits; how many, and whose account is missing, is kept on the batch
    (`PaymentBatch.left_out`, shown as "N 份申请缺少收款账户")."""
    _check_actor(actor)
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0):
        raise _refuse("每批笔数必须是正整数", "invalid_limit")
    now = now or timezone.now()
    with transaction.atomic():
        # one batch at a time per programme: the second waits here, then no longer sees the first's applications
        programme = Programme.objects.select_for_update(no_key=True).get(pk=programme.pk)
        left_out = missing_accounts(programme)
        candidates = payable(programme).filter(_has_account(programme))
        applications = list(candidates[:limit] if limit else candidates)
        if not applications:
            if left_out:
                raise _refuse(f"{describe_left_out(left_out)}，补齐后才能发放", "payee_missing")
            raise _refuse("没有待发放的已审核申请", "nothing_to_pay")
        merchants = {a.merchant_id for a in applications if a.merchant_id}
        accounts = {a.organisation_id: a for a in MerchantAccount.objects.filter(organisation_id__in=merchants)}
        day = timezone.localdate(now)
        batch = PaymentBatch.objects.create(
            number=f"FF{day:%Y%m%d}{draw_number(f'payment-batch-{day:%Y%m%d}'):04d}",
            programme=programme,
            created_by=actor,
            created_at=now,
            left_out=left_out,
        )
        rows = []
        for a in applications:
            payee = payees.of_application(a, programme, accounts)
            rows.append(
                Payment(
                    batch=batch,
                    application=a,
                    amount_fen=a.amount_fen,
                    payee_type=payees.payee_type(a, programme),
                    payee_name=payee.name,
                    payee_account=payee.account,
                    payee_bank=payee.bank,
                    payee_bank_code=payee.bank_code,
                )
            )
        try:
            with transaction.atomic():  # the database's word on "never paid twice"
                Payment.objects.bulk_create(rows)
        except IntegrityError:
            raise _refuse("部分申请已在其他发放批次中，请重试", "already_in_batch") from None
        for application in applications:
            _event(application, actor=actor, note=f"已列入发放批次{batch.number}", now=now)
        audit.record(
            actor=actor,
            action="subsidies.payment_batch_created",
            target=batch,
            changes={
                "number": batch.number,
                "programme": programme.code,
                "count": len(applications),
                "total_fen": sum(a.amount_fen for a in applications),
                "applications": [a.number for a in applications],
                "left_out": left_out,
            },
        )
    return batch


@dataclass(frozen=True)
class BankFile:
    """One export of a batch's bank file (`export_bank_file`)."""

    content: bytes
    content_type: str
    filename: str
    sequence: int  # 1: the first export; more: 重复导出
    count: int
    total_fen: int


def bank_file_name(number: str, sequence: int, fmt: str) -> str:
    """发放批次-FF….xlsx the first time; 发放批次-FF…-重复导出2.xlsx the second, and so on."""
    again = f"-重复导出{sequence}" if sequence > 1 else ""
    return f"发放批次-{number}{again}.{fmt}"


def _rows_of(batch: PaymentBatch, payments: list[Payment]) -> list[list[Any]]:
    """The file's rows: each payment's account as kept when the batch was made; a payment of a batch made before
    accounts were kept takes its payee's account by the programme's rule now."""
    accounts: dict[int, MerchantAccount] | None = None
    rows, missing = [], []
    for n, payment in enumerate(payments, start=1):
        application = payment.application
        payee = payees.Payee(payment.payee_name, payment.payee_account, payment.payee_bank, payment.payee_bank_code)
        if not payee.account:
            if accounts is None:
                merchants = {p.application.merchant_id for p in payments if p.application.merchant_id}
                accounts = {a.organisation_id: a for a in MerchantAccount.objects.filter(organisation_id__in=merchants)}
            payee = payees.of_application(application, batch.programme, accounts)
        if not payee.account:
            missing.append(application.number)
        purpose = f"{PURPOSE}{application.number}"
        rows.append(
            [n, payee.account, payee.name, yuan_plain(payment.amount_fen), payee.bank, payee.bank_code, purpose]
        )
    if missing:
        shown = "、".join(missing[:5]) + ("等" if len(missing) > 5 else "")
        raise _refuse(f"{len(missing)} 笔款项缺少收款账户（{shown}），不能导出", "payee_missing")
    return rows


def export_bank_file(
    *,
    actor: User,
    batch: PaymentBatch,
    fmt: str = PaymentExport.Format.XLSX,
    reason: str = "",
    now: dt.datetime | None = None,
) -> BankFile:
    """The bank's payment file for the batch's pending payments, in the columns of a common 代发 template — 序号,
    收款账号, 收款户名, 金额（元）, 开户行, 联行号, 用途/附言 — as Excel (`fmt="xlsx"`) or CSV (UTF-8 with BOM).
    The first export moves the batch to exported. Exporting again needs a reason (a second copy sent to the bank
    pays twice): it is recorded (`PaymentExport`), audited (`subsidies.bank_file_reexported`) and the file is named
    重复导出N. The audit events carry counts and amounts, never the accounts or names."""
    _check_actor(actor)
    if fmt not in PaymentExport.Format.values:
        raise _refuse("导出格式应为 xlsx 或 csv", "invalid_format")
    reason = (reason or "").strip()
    if len(reason) > 200:
        raise _refuse("重复导出原因不超过 200 个字", "reason_too_long")
    now = now or timezone.now()
    with transaction.atomic():
        batch = PaymentBatch.objects.select_for_update(no_key=True).select_related("programme").get(pk=batch.pk)
        if batch.status == PaymentBatch.Status.SETTLED:
            raise _refuse(f"批次{batch.number}已结清，不能再导出", "batch_settled")
        done = batch.exports.count()  # under the batch's lock: the exports are numbered in order
        if not done and batch.status == PaymentBatch.Status.EXPORTED:
            done = 1  # exported before exports were recorded
        sequence = done + 1
        if sequence > 1 and not reason:
            raise _refuse(
                f"批次{batch.number}的发放文件已导出{done}次；再次导出须填写原因（同一文件两次提交银行会重复付款）",
                "reason_required",
            )
        payments = list(
            batch.payments.filter(status=Payment.Status.PENDING).select_related("application").order_by("pk")
        )
        if not payments:
            raise _refuse(f"批次{batch.number}没有待发放的款项", "nothing_to_export")
        rows = _rows_of(batch, payments)
        total = sum(p.amount_fen for p in payments)
        if fmt == PaymentExport.Format.CSV:
            content, content_type = build_csv(headers=EXPORT_HEADERS, rows=rows), CSV
        else:
            content, content_type = build_workbook(title="代发明细", headers=EXPORT_HEADERS, rows=rows), XLSX
        PaymentExport.objects.create(
            batch=batch,
            sequence=sequence,
            format=fmt,
            count=len(payments),
            total_fen=total,
            reason=reason if sequence > 1 else "",
            exported_by=actor,
            exported_at=now,
        )
        if batch.status == PaymentBatch.Status.DRAFT:
            batch.status = PaymentBatch.Status.EXPORTED
            batch.exported_at = now
            batch.save(update_fields=["status", "exported_at"])
        changes: dict[str, Any] = {
            "number": batch.number,
            "export": sequence,
            "format": fmt,
            "count": len(payments),
            "total_fen": total,
        }
        if sequence == 1:
            audit.record(actor=actor, action="subsidies.payment_batch_exported", target=batch, changes=changes)
        else:
            audit.record(
                actor=actor,
                action="subsidies.bank_file_reexported",
                target=batch,
                changes={**changes, "reason": reason},
            )
    return BankFile(content, content_type, bank_file_name(batch.number, sequence, fmt), sequence, len(payments), total)


# --- the bank's result ------------------------------------------------------------------------------------------


def _decode(data: bytes) -> str:
    """The text of the bank's CSV, whatever its encoding (bank portals also hand out GBK and UTF-16 files)."""
    try:
        return uploads.decode_text(data)[0]
    except ValidationError:
        raise _refuse("无法读取文件：请上传 UTF-8 或 GBK 编码的 CSV 回单", "bad_file") from None


def read_result_rows(data: bytes) -> list[tuple[int, dict[str, str]]]:
    """(line number, {header: cell}) for every non-empty row of the bank's result CSV."""
    text = _decode(data)
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error:
        raise _refuse("无法读取文件：不是有效的 CSV 回单", "bad_file") from None
    if not rows:
        raise _refuse("回单文件是空的", "bad_file")
    header = [cell.strip() for cell in rows[0]]
    missing = [name for name in REQUIRED_RESULT_HEADERS if name not in header]
    if missing:
        raise _refuse(f"回单表头缺少：{'、'.join(missing)}", "bad_header")
    body = []
    for number, cells in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in cells):
            continue
        padded = cells + [""] * (len(header) - len(cells))
        body.append((number, {name: padded[i].strip() for i, name in enumerate(header) if name}))
    return body


def _apply_result(
    *, actor: User, batch: PaymentBatch, number: str, result: str, bank_reference: str, reason: str, now: dt.datetime
) -> tuple[str, bool]:
    """One result row, in its own transaction. Returns (message, changed)."""
    if result not in (SUCCESS, FAILURE):
        raise _refuse(f"结果“{result}”无法识别，应为“成功”或“失败”", "invalid_result")
    if result == SUCCESS and not bank_reference:
        raise _refuse("成功的款项须有银行流水号", "bank_reference_required")
    if len(bank_reference) > 64:
        raise _refuse("银行流水号不超过 64 个字符", "invalid_bank_reference")
    with transaction.atomic():
        # the payment row is the lock: a second import of the same row waits here, then sees it done
        payment = (
            Payment.objects.select_for_update(no_key=True, of=("self",))
            .filter(batch=batch, application__number=number)
            .order_by("-pk")
            .first()
        )
        if payment is None:
            raise _refuse(f"申请编号{number or '（空）'}不在批次{batch.number}中", "not_in_batch")
        if result == SUCCESS:
            if payment.status == Payment.Status.PAID:
                return "已到账，此前已处理，未重复发放", False
            if payment.status == Payment.Status.FAILED:
                raise _refuse("该笔此前已按失败处理，与本回单不一致，请与银行核实", "result_conflict")
        else:
            if payment.status == Payment.Status.FAILED:
                return "已按失败处理过，未重复处理", False
            if payment.status == Payment.Status.PAID:
                raise _refuse("该笔此前已按成功到账处理，与本回单不一致，请与银行核实", "result_conflict")
        application = (
            Application.objects.select_for_update(no_key=True, of=("self",))
            .select_related("programme")
            .get(pk=payment.application_id)
        )
        if application.status != Application.Status.APPROVED:
            raise _refuse(
                f"申请当前状态为“{application.get_status_display()}”，不能按回单处理", "application_not_approved"
            )
        if result == SUCCESS:
            entry = ledger.pay(actor=actor, programme=application.programme, reference=application.number)
            payment.status = Payment.Status.PAID
            payment.bank_reference = bank_reference
            payment.paid_at = now
            payment.save(update_fields=["status", "bank_reference", "paid_at"])
            application.status = Application.Status.PAID
            application.save(update_fields=["status"])
            _event(application, actor=actor, note=f"补贴已发放（批次{batch.number}）", now=now)
            notify.application_changed(application, "application.paid", now=now)
            audit.record(
                actor=actor,
                action="subsidies.payment_paid",
                target=payment,
                changes={
                    "batch": batch.number,
                    "number": application.number,
                    "amount_fen": payment.amount_fen,
                    "bank_reference": bank_reference,
                    "entry": entry.pk,
                },
            )
            return "已到账", True
        payment.status = Payment.Status.FAILED
        payment.failure_reason = (reason or "银行未说明原因")[:200]
        payment.bank_reference = bank_reference
        payment.save(update_fields=["status", "failure_reason", "bank_reference"])
        _event(application, actor=actor, note=f"银行发放失败（批次{batch.number}），将列入下一批次重新发放", now=now)
        audit.record(
            actor=actor,
            action="subsidies.payment_failed",
            target=payment,
            changes={"batch": batch.number, "number": application.number, "amount_fen": payment.amount_fen},
        )
        return "发放失败，已退回待发放，下一批次重新发放", True


def _settle_if_done(*, actor: User, batch: PaymentBatch, now: dt.datetime) -> PaymentBatch:
    with transaction.atomic():
        batch = PaymentBatch.objects.select_for_update(no_key=True).get(pk=batch.pk)
        if batch.status != PaymentBatch.Status.EXPORTED:
            return batch
        if batch.payments.filter(status=Payment.Status.PENDING).exists():
            return batch
        batch.status = PaymentBatch.Status.SETTLED
        batch.settled_at = now
        batch.save(update_fields=["status", "settled_at"])
        paid = batch.payments.filter(status=Payment.Status.PAID)
        audit.record(
            actor=actor,
            action="subsidies.payment_batch_settled",
            target=batch,
            changes={
                "number": batch.number,
                "paid": paid.count(),
                "paid_fen": paid.aggregate(total=Sum("amount_fen"))["total"] or 0,
                "failed": batch.payments.filter(status=Payment.Status.FAILED).count(),
            },
        )
    return batch


def import_bank_result(
    *,
    actor: User,
    batch: PaymentBatch,
    data: bytes,
    now: dt.datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[RowResult]:
    """Apply every row of the bank's result file it can; one result per row (a bad row gets its reason, the
    others are applied). Each row is its own transaction; a row already applied changes nothing, so a job run
    again after its worker died applies the rest. When no payment of the batch is pending any more, the batch is
    settled. `progress(done, total)` is told after each row (the background job's bar)."""
    _check_actor(actor)
    now = now or timezone.now()
    batch = PaymentBatch.objects.get(pk=batch.pk)
    if batch.status == PaymentBatch.Status.DRAFT:
        raise _refuse(f"批次{batch.number}尚未导出发放文件，不能导入回单", "batch_not_exported")
    body = read_result_rows(data)
    results: list[RowResult] = []
    rows = body[:MAX_ROWS]
    for done, (line, row) in enumerate(rows, start=1):
        number = row.get("申请编号", "")
        try:
            message, changed = _apply_result(
                actor=actor,
                batch=batch,
                number=number,
                result=row.get("结果", ""),
                bank_reference=row.get("银行流水号", ""),
                reason=row.get("失败原因", ""),
                now=now,
            )
        except ValidationError as exc:
            results.append(RowResult(line, number, False, "；".join(exc.messages)))
        else:
            results.append(RowResult(line, number, True, message, changed))
        if progress is not None:
            progress(done, len(rows))
    if len(body) > MAX_ROWS:
        results.append(RowResult(body[MAX_ROWS][0], "", False, f"超过{MAX_ROWS}行，其余行未处理，请分文件导入"))
    _settle_if_done(actor=actor, batch=batch, now=now)
    return results


# --- clawback ---------------------------------------------------------------------------------------------------


def clawback(*, actor: User, application: Application, reason: str, now: dt.datetime | None = None) -> Application:
    """Recover a paid subsidy found fraudulent: the ledger's clawback entry, the application clawed back. Its
    identifiers stay claimed (nobody subsidises that invoice again). Again on a clawed-back one: no change."""
    _check_actor(actor)
    reason = (reason or "").strip()
    if not reason:
        raise _refuse("请填写追回原因", "reason_required")
    if len(reason) > 200:
        raise _refuse("追回原因不超过 200 个字", "reason_too_long")
    now = now or timezone.now()
    with transaction.atomic():
        application = (
            Application.objects.select_for_update(no_key=True, of=("self",))
            .select_related("programme")
            .get(pk=application.pk)
        )
        if application.status == Application.Status.CLAWED_BACK:
            return application
        if application.status != Application.Status.PAID:
            raise _refuse(f"申请当前状态为“{application.get_status_display()}”，只有已发放的补贴可以追回", "not_paid")
        entry = ledger.clawback(
            actor=actor, programme=application.programme, reference=application.number, reason=reason
        )
        application.status = Application.Status.CLAWED_BACK
        application.save(update_fields=["status"])
        _event(application, actor=actor, note="补贴已追回：" + reason, now=now)
        notify.application_changed(application, "application.clawed_back", now=now)
        audit.record(
            actor=actor,
            action="subsidies.application_clawed_back",
            target=application,
            changes={
                "number": application.number,
                "amount_fen": application.amount_fen,
                "entry": entry.pk,
                "reason": reason,
            },
        )
    return application
