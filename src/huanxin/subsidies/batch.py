"""A merchant's batch: thousands of sales in one Excel or CSV file, one application per row, each through the same
checks as `submit_application` (`bulk.submit_rows`, a chunk of rows per transaction). A bad row comes back with
its reason and the others are kept; the merchant's 订单号 is the row's idempotency key, so uploading the same file
again submits nothing twice."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from operator import itemgetter
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from huanxin.core import uploads
from huanxin.core.exports import CSV, XLSX, build_csv, build_workbook
from huanxin.core.models import User
from huanxin.core.roles import Role
from huanxin.subsidies import errors, payees
from huanxin.subsidies.applications import ItemIn
from huanxin.subsidies.bulk import MAX_ORDER, RowIn, refusal, submit_rows
from huanxin.subsidies.models import Programme

HEADERS = [
    "订单号",
    "补贴项目代码",
    "申请人姓名",
    "身份证号码",
    "手机号码",
    "品类",
    "品牌型号",
    "序列号",
    "能效等级",
    "发票号码",
    "开票日期",
    "成交价（元）",
]
REQUIRED = [
    "订单号",
    "补贴项目代码",
    "申请人姓名",
    "身份证号码",
    "手机号码",
    "品类",
    "发票号码",
    "开票日期",
    "成交价（元）",
]
# optional columns: the evidence of the other categories (car replacement, e-bikes, certificates)
OPTIONAL = [
    "收旧凭证编号",
    "旧车车辆识别代号",
    "新车类型",
    "转移登记编号",
    "转移登记日期",
    "旧车登记日期",
    "电池类型",
    "CCC证书编号",
    "执行标准",
    # the applicant's account, where the programme pays the applicant (cars, e-bikes): payees.clean_payee
    "收款户名",
    "收款账号",
    "开户行",
    "联行号",
]
HEADERS += OPTIONAL
FUELS = {"新能源": "nev", "燃油": "fuel"}
BATTERIES = {"铅酸": "lead_acid", "锂电": "lithium", "锂离子": "lithium"}
MAX_ROWS = 100_000
MAX_UNPACKED_BYTES = 200 * 1024 * 1024  # MAX_ROWS rows of the template unpack to about 110 MB of XML
# a price as nearly every file writes it ("4999.00"): whole yuan and at most two decimals, ASCII digits, short
# enough to be exact — `_fen` reads it without Decimal
_PLAIN_YUAN = re.compile(r"([0-9]{1,15})(?:\.([0-9]{1,2}))?")


@dataclass(frozen=True)
class ResultFile:
    """The uploaded file given back with each row's number and result, in the format it came in."""

    content: bytes
    content_type: str
    filename: str


@dataclass
class RowResult:
    row: int
    order: str
    ok: bool
    number: str
    message: str


def _text(value: Any) -> str:
    if type(value) is str:  # every CSV cell: the quick way, called a couple of dozen times a row
        return value.strip()
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # Excel turns long digit strings into numbers
    return "" if value is None else str(value).strip()


def _rows(data: bytes, filename: str) -> uploads.Table:
    if filename.lower().endswith(".csv"):
        table = uploads.read_csv(data, max_rows=MAX_ROWS)
    else:
        # a workbook of MAX_ROWS rows unpacks to well over the default limit
        table = uploads.read_xlsx(data, max_rows=MAX_ROWS, max_unpacked=MAX_UNPACKED_BYTES)
    if missing := [h for h in REQUIRED if h not in table.header]:
        raise ValidationError(f"表头缺少：{'、'.join(missing)}（请使用本系统下载的模板）", code="bad_header")
    return table


def _date(value: Any, label: str = "开票日期") -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(_text(value).replace("/", "-"))
    except ValueError:
        raise ValidationError(f"{label}“{_text(value)}”无法识别，请写成 2025-06-30", code="invalid_date") from None


def _optional_date(value: Any, column: str) -> dt.date | None:
    return _date(value, column) if _text(value) else None


EXACT_DIGITS = 15  # a spreadsheet keeps numbers as doubles: a longer run of digits typed as a number is changed


def _account(value: Any) -> str:
    """The 收款账号 cell. Excel turns a card number typed into a number cell into a double, losing the digits past
    the fifteenth: such a cell is refused rather than read as some other account."""
    if isinstance(value, int | float) and not isinstance(value, bool) and len(_text(value)) > EXACT_DIGITS:
        raise ValidationError(
            f"{payees.CHECK}：收款账号超过{EXACT_DIGITS}位时请将单元格设为文本格式后重新填写（Excel会改写长数字）",
            code=errors.INVALID_PAYEE,
        )
    return _text(value)


def _fen(value: Any) -> int:
    text = _text(value).replace(",", "")
    if plain := _PLAIN_YUAN.fullmatch(text):  # "4999.00", "4999.5", "4999": the same fen as Decimal gives, faster
        yuan, decimals = plain.groups(default="")
        return int(yuan + decimals.ljust(2, "0"))
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise ValidationError(f"成交价“{_text(value)}”不是金额", code="invalid_price") from None
    try:
        whole_fen = amount.is_finite() and amount == amount.quantize(Decimal("0.01"))
    except InvalidOperation:  # more digits than Decimal holds: no price (the row is refused, not the file)
        raise ValidationError(f"成交价“{_text(value)}”超出合理范围", code="invalid_price") from None
    if not whole_fen:
        raise ValidationError("成交价最多保留两位小数", code="invalid_price")
    return int(amount * 100)  # beyond any price: refused by the checks (`applications.MAX_PRICE_FEN`)


def template() -> bytes:
    today = timezone.localdate().isoformat()
    rows = [
        [
            "DD20250001",
            "appliance-2025",
            "张三",
            "（18位身份证号码）",
            "13800000000",
            "refrigerator",
            "海尔BCD-501",
            "SN0001",
            "1",
            "12345678901",
            today,
            "4999.00",
            *[""] * len(OPTIONAL),
        ],
        [  # an e-bike: the old bike's 收旧凭证, the new one's battery, CCC certificate and standard
            "DD20250002",
            "ebike-2025",
            "李四",
            "（18位身份证号码）",
            "13900000000",
            "ebike",
            "雅迪冠能G5",
            "（新车车架号）",
            "",
            "12345678902",
            today,
            "3299.00",
            "（收旧凭证编号）",
            "",
            "",
            "",
            "",
            "",
            "铅酸",
            "2025011119000123",
            "GB 17761-2024",
            "李四",
            "6222020200112233446",  # text, not a number: Excel keeps only 15 digits of a number
            "中国工商银行张家口分行",
            "102138000018",
        ],
    ]
    return build_workbook(title="批量申请", headers=HEADERS, rows=rows)


def import_batch(
    *,
    actor: User,
    data: bytes,
    filename: str,
    progress: Callable[[int, int], None] | None = None,
    resumed_since: dt.datetime | None = None,
) -> tuple[list[RowResult], ResultFile]:
    """Every row answered, in the file's order, and the file given back with each row's result. `progress(done,
    total)` is told how many of the file's rows are answered as the chunks commit (a background job's bar);
    `resumed_since` is for a job run again after its worker died (`bulk.submit_rows`)."""
    if actor.role != Role.MERCHANT or not actor.organisation_id:
        raise PermissionDenied("批量申请由关联了商户单位的商户账号提交")
    table = _rows(data, filename)
    header, body = table.header, table.body
    answered: Callable[[int], None] | None = None
    if progress is not None:
        position = {number: i for i, (number, _) in enumerate(body, 1)}
        total = len(body)
        progress(0, total)

        def answered(line: int) -> None:
            progress(position[line], total)

    col = {name: header.index(name) for name in HEADERS if name in header}
    programmes = {p.code: p for p in Programme.objects.visible_to(actor)}
    refused: dict[int, RowResult] = {}

    width = len(header)
    # Each column's place in a row, found once: `columns` takes a row's cells in HEADERS order in one call. A column
    # the file lacks (only an optional one gets past `_rows`) takes the place just past the header's last, which
    # `row_in` fills with None: read as "" or no date, like a blank cell.
    columns = itemgetter(*(col.get(name, width) for name in HEADERS))
    lacks_a_column = len(col) < len(HEADERS)

    def row_in(number: int, cells: list[Any]) -> RowIn | None:
        """The row as a submission, or None when it is refused already (its reason in `refused`)."""
        if len(cells) < width or lacks_a_column:
            # a copy cut to the header and filled with None (a stray cell past the header must not pass for a missing
            # column), only read here: the result file takes the row as it came; a whole row is not copied
            cells = [*cells[:width], *[None] * (width - len(cells)), None]
        (  # in HEADERS order
            order, code, name, resident_id, phone, kind, model, serial, grade, invoice_no, invoice_date, price,
            certificate_no, vin, fuel, transfer_no, transfer_date, registered_on, battery, ccc_no, standard,
            payee_name, payee_account, payee_bank, payee_bank_code,
        ) = columns(cells)  # fmt: skip
        order = _text(order)
        try:
            if problem := table.problems.get(number):
                raise ValidationError(problem, code="bad_cell")
            if not order:
                raise ValidationError("请填写订单号（用于防止重复提交）", code="order_required")
            if len(order) > MAX_ORDER:  # the key is "batch:" + 订单号 in a 64-character column: never cut
                raise ValidationError(f"订单号不能超过{MAX_ORDER}个字符", code=errors.IDEMPOTENCY_KEY_TOO_LONG)
            programme = programmes.get(code := _text(code))
            if programme is None:
                raise ValidationError(f"补贴项目代码“{code}”不存在", code="unknown_programme")
            fuel, battery = _text(fuel), _text(battery)
            item = ItemIn(  # checked in this order: of two bad cells, the first is the one the merchant is told
                kind=_text(kind),
                invoice_no=_text(invoice_no),
                invoice_date=_date(invoice_date),
                price_fen=_fen(price),
                brand_model=_text(model),
                serial=_text(serial),
                grade=_text(grade),
                certificate_no=_text(certificate_no),
                vin=_text(vin),
                new_fuel=FUELS.get(fuel, fuel.lower()),
                transfer_no=_text(transfer_no),
                transfer_date=_optional_date(transfer_date, "转移登记日期"),
                old_registered_on=_optional_date(registered_on, "旧车登记日期"),
                battery=BATTERIES.get(battery, battery.lower()),
                ccc_no=_text(ccc_no),
                standard=_text(standard),
            )
            payee = payees.Payee(_text(payee_name), _account(payee_account), _text(payee_bank), _text(payee_bank_code))
        except ValidationError as exc:
            refused[number] = RowResult(number, order, False, "", refusal(exc))
            return None
        except uploads.BAD_VALUE:  # a value no check foresaw fails its row, not the upload
            refused[number] = RowResult(number, order, False, "", uploads.BAD_VALUE_MESSAGE)
            return None
        return RowIn(
            line=number,
            order=order,
            programme=programme,
            applicant_name=_text(name),
            applicant_id=_text(resident_id),
            phone=_text(phone),
            items=[item],
            payee=payee,
        )

    def parsed() -> Iterator[RowIn]:  # read as the submission asks for its next chunk (bulk.submit_rows)
        for number, cells in body:
            if (row := row_in(number, cells)) is not None:
                yield row

    outcomes = submit_rows(actor=actor, rows=parsed(), resumed_since=resumed_since, progress=answered)
    done = {outcome.line: outcome for outcome in outcomes}
    results: list[RowResult] = []
    out: list[list[Any]] = []
    for number, cells in body:
        if (result := refused.get(number)) is None:
            o = done[number]
            if not o.ok:
                note = o.message
            elif o.existed:
                note = "此前已提交，未重复申请"
            elif o.status == "queued":
                note = f"已受理，补贴{o.amount_fen / 100:.2f}元；额度已用完，排队等待追加"
            else:
                note = f"已受理，补贴{o.amount_fen / 100:.2f}元"
            result = RowResult(number, o.order, o.ok, o.number, note)
        results.append(result)
        # the row as the file has it under its header: cut to the header's width, a short row filled with None
        out.append([*cells[:width], *[None] * (width - len(cells)), result.number, result.message])
    if table.overflow is not None:
        results.append(RowResult(table.overflow, "", False, "", f"超过{MAX_ROWS}行，其余行未处理，请分文件上传"))
    headers = [*header, "申请编号", "结果"]
    if filename.lower().endswith(".csv"):  # a CSV of 100,000 rows comes back in a second, a workbook in twenty
        return results, ResultFile(build_csv(headers=headers, rows=out), CSV, "补贴批量申请结果.csv")
    return results, ResultFile(
        build_workbook(title="导入结果", headers=headers, rows=out), XLSX, "补贴批量申请结果.xlsx"
    )
