"""Trade-in subsidy programmes and their budget ledger (see docs/budget-ledger.md).

A programme's money is a double-entry ledger. Each programme has `stripes` sub-pools; each stripe has one account
of every kind. Money only moves by an `Entry`, which takes `amount_fen` from its `credit` account and adds it to
its `debit` account, so the balances of a programme always sum to zero: the funding accounts go negative by what
was put in, and funded = available + reserved + paid + clawed back. Entries are never changed or deleted
(a PostgreSQL trigger refuses it); balances are kept in step with them and checked by `huanxin ledger verify`.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import Q
from django.utils import timezone

from huanxin.core import pii
from huanxin.core.fields import CodeField
from huanxin.core.models import Region, User
from huanxin.core.roles import Role, is_authenticated, is_official, reads_everything

MAX_STRIPES = 256


def sees_whole_ledger(user: Any) -> bool:
    """The task force, finance officers, auditors and reviewers read every programme and its ledger."""
    return reads_everything(user) or (is_authenticated(user) and user.role in {Role.FINANCE_OFFICER, Role.REVIEWER})


class ProgrammeQuerySet(models.QuerySet["Programme"]):
    def visible_to(self, user: Any) -> ProgrammeQuerySet:
        """Published programmes (anything but a draft) to every logged-in user; drafts to those who run them."""
        if not is_authenticated(user):
            return self.none()
        if sees_whole_ledger(user):
            return self
        return self.exclude(status=Programme.Status.DRAFT)


class Programme(models.Model):
    """一个补贴项目（批次）: a category of trade-in in a region, with its dates, its budget and its rules."""

    class Category(models.TextChoices):
        CAR_SCRAP = "car_scrap", "汽车报废更新"
        CAR_REPLACE = "car_replace", "汽车置换更新"
        APPLIANCE = "appliance", "家电"
        DIGITAL = "digital", "数码产品"
        EBIKE = "ebike", "电动自行车"
        HOME = "home", "家装厨卫"

    class Status(models.TextChoices):
        DRAFT = "draft", "草稿"
        OPEN = "open", "受理中"
        PAUSED = "paused", "暂停"
        CLOSED = "closed", "已结束"

    class OnExhaustion(models.TextChoices):
        REFUSE = "refuse", "额度用尽即拒绝"
        QUEUE = "queue", "排队等待追加额度"

    class Payee(models.TextChoices):
        APPLICANT = "applicant", "申请人本人（银行卡或社保卡）"
        MERCHANT = "merchant", "垫付补贴的销售商户（清算）"

    code = models.SlugField("代码", max_length=60, unique=True)
    name = models.CharField("名称", max_length=100)
    category = models.CharField("类别", max_length=20, choices=Category.choices)
    region = models.ForeignKey(Region, models.PROTECT, related_name="programmes", verbose_name="实施地区")
    opens_on = models.DateField("受理开始日期")
    closes_on = models.DateField("受理截止日期")
    status = models.CharField("状态", max_length=10, choices=Status.choices, default=Status.DRAFT)
    budget_fen = models.BigIntegerField("已拨付额度（分）", default=0)  # = what was funded; kept in step by fund()
    on_exhaustion = models.CharField(
        "额度用尽时", max_length=10, choices=OnExhaustion.choices, default=OnExhaustion.REFUSE
    )
    daily_quota_fen = models.BigIntegerField("每日额度上限（分）", null=True, blank=True)
    # whom the subsidy is paid to: cars and e-bikes the applicant; appliances and digital the merchant who gave the
    # discount at the till (an application a citizen filed alone is paid to the citizen)
    payee = models.CharField("收款人", max_length=10, choices=Payee.choices, default=Payee.APPLICANT)
    stripes = models.PositiveSmallIntegerField("子额度池数", default=32)
    parameters = models.JSONField("规则参数", default=dict, blank=True)
    created_at = models.DateTimeField("创建时间", default=timezone.now)

    objects = ProgrammeQuerySet.as_manager()

    class Meta:
        ordering = ["-opens_on", "code"]
        verbose_name = verbose_name_plural = "补贴项目"
        constraints = [
            models.CheckConstraint(condition=Q(closes_on__gte=models.F("opens_on")), name="programme_dates_ordered"),
            models.CheckConstraint(condition=Q(budget_fen__gte=0), name="programme_budget_not_negative"),
            models.CheckConstraint(
                condition=Q(daily_quota_fen__isnull=True) | Q(daily_quota_fen__gt=0), name="programme_quota_positive"
            ),
            models.CheckConstraint(
                condition=Q(stripes__gte=1, stripes__lte=MAX_STRIPES), name="programme_stripes_in_range"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class LedgerQuerySet[M: models.Model](models.QuerySet[M]):
    def visible_to(self, user: Any) -> LedgerQuerySet[M]:
        """Accounts and entries: the task force, finance, auditors and reviewers; nobody else reads them raw."""
        return self if sees_whole_ledger(user) else self.none()


class Account(models.Model):
    """One account of one stripe of a programme. `balance_fen` is the sum of its entries (debits minus credits)."""

    class Kind(models.TextChoices):
        FUNDING = "funding", "资金来源"
        AVAILABLE = "available", "可用额度"
        RESERVED = "reserved", "已预留"
        PAID = "paid", "已兑付"
        CLAWED_BACK = "clawed_back", "已追回"

    programme = models.ForeignKey(Programme, models.PROTECT, related_name="accounts", verbose_name="补贴项目")
    stripe = models.PositiveSmallIntegerField("子额度池")
    kind = models.CharField("科目", max_length=12, choices=Kind.choices)
    balance_fen = models.BigIntegerField("余额（分）", default=0)

    objects = LedgerQuerySet["Account"].as_manager()

    class Meta:
        ordering = ["programme", "stripe", "pk"]
        verbose_name = verbose_name_plural = "额度账户"
        constraints = [
            models.UniqueConstraint(fields=["programme", "stripe", "kind"], name="account_unique_per_stripe"),
            # the funding account is the source: it goes negative by what was put in; every other never below 0
            models.CheckConstraint(
                condition=(Q(kind="funding") & Q(balance_fen__lte=0)) | (~Q(kind="funding") & Q(balance_fen__gte=0)),
                name="account_balance_sign",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.programme_id}#{self.stripe} {self.get_kind_display()}"


# The order accounts are created in, and so locked in (by primary key) within a stripe: no two writers wait for
# each other's rows in opposite orders.
KIND_ORDER = [
    Account.Kind.FUNDING,
    Account.Kind.AVAILABLE,
    Account.Kind.RESERVED,
    Account.Kind.PAID,
    Account.Kind.CLAWED_BACK,
]


class Entry(models.Model):
    """One movement of money: `amount_fen` leaves `credit` and arrives in `debit`. Immutable."""

    class Kind(models.TextChoices):
        FUND = "fund", "拨入额度"  # funding → available
        RESERVE = "reserve", "预留"  # available → reserved
        RELEASE = "release", "释放"  # reserved → available
        PAY = "pay", "兑付"  # reserved → paid
        CLAWBACK = "clawback", "追回"  # paid → clawed back
        REBALANCE = "rebalance", "子池调剂"  # available (one stripe) → available (another)

    # indexed by (programme, kind, at) and (programme, reference) below
    programme = models.ForeignKey(
        Programme, models.PROTECT, related_name="entries", verbose_name="补贴项目", db_index=False
    )
    kind = models.CharField("类型", max_length=10, choices=Kind.choices)
    debit = models.ForeignKey(Account, models.PROTECT, related_name="debits", verbose_name="借方（转入）")
    credit = models.ForeignKey(Account, models.PROTECT, related_name="credits", verbose_name="贷方（转出）")
    amount_fen = models.BigIntegerField("金额（分）")
    reference = CodeField("业务编号", max_length=64, blank=True)  # the application, e.g. APP-123
    note = models.CharField("说明", max_length=200, blank=True)
    # who, as in the audit log: no database-level foreign key (an append-only record keeps its actor's id as written;
    # Django still refuses to delete a user who has entries) and no index (never searched by actor)
    actor = models.ForeignKey(
        User,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="操作人",
        db_constraint=False,
        db_index=False,
    )
    at = models.DateTimeField("时间", default=timezone.now)

    objects = LedgerQuerySet["Entry"].as_manager()

    class Meta:
        ordering = ["pk"]
        verbose_name = verbose_name_plural = "额度分录"
        constraints = [
            models.CheckConstraint(condition=Q(amount_fen__gt=0), name="entry_amount_positive"),
            models.CheckConstraint(condition=~Q(debit=models.F("credit")), name="entry_moves_between_accounts"),
            # an application reserves once, is released once, paid once, clawed back once
            models.UniqueConstraint(
                fields=["programme", "kind", "reference"],
                condition=Q(kind__in=["reserve", "release", "pay", "clawback"]),
                name="entry_once_per_reference",
            ),
        ]
        indexes = [
            models.Index(fields=["programme", "kind", "at"], name="entry_programme_kind_at"),
            models.Index(fields=["programme", "reference"], name="entry_programme_reference"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.reference} {self.amount_fen}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise RuntimeError("额度分录不可修改")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("额度分录不可删除")


# --- applications ---------------------------------------------------------------------------------------------


class ApplicationQuerySet(models.QuerySet["Application"]):
    def visible_to(self, user: Any) -> ApplicationQuerySet:
        """The applicant; the merchant that filed it; reviewers, finance and the task force all (a county officer
        its county); nobody else."""
        if not is_authenticated(user):
            return self.none()
        if sees_whole_ledger(user):
            return self
        if user.role == Role.COUNTY_OFFICER and user.organisation_id:
            return self.filter(region_id=user.organisation.region_id)
        if user.role == Role.MERCHANT and user.organisation_id:
            return self.filter(merchant_id=user.organisation_id)
        return self.filter(applicant_user=user)


class Application(models.Model):
    """一份补贴申请: one applicant's claim in one programme, with its items, checks, amount and history."""

    class Status(models.TextChoices):
        RESERVED = "reserved", "已受理（额度已预留）"
        IN_REVIEW = "in_review", "人工审核中"
        QUEUED = "queued", "排队等待额度"
        APPROVED = "approved", "审核通过"
        REJECTED = "rejected", "未通过"
        PAID = "paid", "已发放"
        CLAWED_BACK = "clawed_back", "已追回"
        REFUNDED = "refunded", "已退货"

    class Channel(models.TextChoices):
        CITIZEN = "citizen", "个人线上申请"
        MERCHANT = "merchant", "商户代办"
        BATCH = "batch", "商户批量导入"

    number = CodeField("申请编号", max_length=24)  # unique: see Meta (no LIKE index: never searched by prefix)
    # indexed by (programme, status) below, which serves every look-up by programme
    programme = models.ForeignKey(
        Programme, models.PROTECT, related_name="applications", verbose_name="补贴项目", db_index=False
    )
    region = models.ForeignKey(Region, models.PROTECT, related_name="+", verbose_name="县区")
    channel = models.CharField("渠道", max_length=10, choices=Channel.choices)
    merchant = models.ForeignKey(
        "core.Organisation", models.PROTECT, null=True, blank=True, related_name="+", verbose_name="商户"
    )
    applicant_user = models.ForeignKey(
        "core.User", models.PROTECT, null=True, blank=True, related_name="subsidy_applications"
    )
    applicant_name = pii.EncryptedTextField("申请人")
    applicant_id = pii.EncryptedTextField("身份证号码")
    applicant_hash = CodeField(max_length=64, editable=False)  # indexed by (applicant_hash, programme)
    # the keyed hash of the ID number's last four characters (`applications.id_tail_hash`): the review queue finds
    # an application by the tail an applicant reads out without decrypting every row, then checks the few it finds
    applicant_id_tail = CodeField(max_length=16, blank=True, default="", db_default="", editable=False)
    phone = pii.EncryptedTextField("手机号码")
    status = models.CharField("状态", max_length=20, choices=Status.choices)
    amount_fen = models.BigIntegerField("补贴金额（分）")
    risk_score = models.PositiveSmallIntegerField("风险分", default=0)
    risk_reasons = models.JSONField("风险提示", default=list)
    # the named automatic checks, in order: [{"name": "身份核验", "outcome": "passed" | "flagged", "reason": …}]
    checks = models.JSONField("自动检查结果", default=list)
    created_by = models.ForeignKey("core.User", models.PROTECT, related_name="+")
    created_at = models.DateTimeField("提交时间", default=timezone.now)
    idempotency_key = CodeField(max_length=64, blank=True)
    # a keyed hash of what was submitted under the key: the same key with another sale is refused, not answered
    fingerprint = CodeField(max_length=64, blank=True, default="", db_default="")
    # the account the subsidy is paid to when the applicant is the payee (Programme.payee); encrypted, masked
    payee_name = pii.EncryptedTextField("收款户名", blank=True, default="", db_default="")
    payee_account = pii.EncryptedTextField("收款账号", blank=True, default="", db_default="")
    payee_bank = models.CharField("开户行", max_length=60, blank=True, default="", db_default="")
    payee_bank_code = models.CharField("联行号", max_length=12, blank=True, default="", db_default="")

    objects = ApplicationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = verbose_name_plural = "补贴申请"
        constraints = [
            models.UniqueConstraint(fields=["number"], name="application_number_unique"),
            models.UniqueConstraint(
                fields=["created_by", "idempotency_key"], condition=~Q(idempotency_key=""), name="application_once"
            ),
            models.CheckConstraint(condition=Q(amount_fen__gte=0), name="application_amount_not_negative"),
        ]
        indexes = [
            models.Index(fields=["programme", "status"]),
            models.Index(fields=["applicant_hash", "programme"]),
            models.Index(fields=["applicant_id_tail"], name="application_id_tail"),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def masked_name(self) -> str:
        return pii.mask_name(self.applicant_name)


class _ThroughApplication(models.QuerySet[Any]):
    def visible_to(self, user: Any) -> models.QuerySet[Any]:
        return self.filter(application__in=Application.objects.visible_to(user))


class ApplicationItem(models.Model):
    application = models.ForeignKey(Application, models.CASCADE, related_name="items")
    kind = models.CharField("品类", max_length=30)  # refrigerator, phone, car …
    brand_model = models.CharField("品牌型号", max_length=80, blank=True)
    serial = models.CharField("序列号/IMEI", max_length=40, blank=True)
    vin = models.CharField("车辆识别代号", max_length=17, blank=True)
    invoice_no = models.CharField("发票号码", max_length=40)
    invoice_date = models.DateField("开票日期")
    price_fen = models.BigIntegerField("成交价（分）")
    grade = models.CharField("能效等级", max_length=10, blank=True)
    certificate_no = models.CharField("回收证明编号", max_length=24, blank=True)
    # the category's other evidence: new car's fuel, transfer record, e-bike's battery, CCC number and standard
    details = models.JSONField("其他凭证", default=dict, blank=True)
    amount_fen = models.BigIntegerField("补贴金额（分）")
    explanation = models.CharField("计算依据", max_length=200)

    objects = _ThroughApplication.as_manager()

    class Meta:
        ordering = ["pk"]
        verbose_name = verbose_name_plural = "申请明细"
        # the price check reads a model's newest prices at every submission (Lookups.model_prices)
        indexes = [models.Index(fields=["brand_model", "-id"], name="item_model_newest")]

    def __str__(self) -> str:
        return f"{self.kind} {self.invoice_no}"


class Claim(models.Model):
    """An identifier an application has used — a VIN, an invoice, a serial or IMEI, a recycling certificate. The
    unique index is the guarantee that the same one is never subsidised twice, whatever the concurrency. A claim is
    let go (active=False) only when its application is rejected for a reason that is not fraud."""

    class Kind(models.TextChoices):
        VIN = "vin", "车辆识别代号"
        INVOICE = "invoice", "发票"
        SERIAL = "serial", "序列号/IMEI"
        CERTIFICATE = "certificate", "回收证明"
        TRANSFER = "transfer", "机动车转移登记"

    kind = models.CharField(max_length=12, choices=Kind.choices)
    value = CodeField(max_length=60)
    application = models.ForeignKey(Application, models.PROTECT, related_name="claims")
    active = models.BooleanField(default=True)

    objects = _ThroughApplication.as_manager()

    class Meta:
        verbose_name = verbose_name_plural = "已使用的凭证"
        constraints = [
            models.UniqueConstraint(fields=["kind", "value"], condition=Q(active=True), name="claim_used_once"),
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"


class PersonUsage(models.Model):
    """What one person has used of one per-person limit of a programme: items of a kind, cars in a year, or money
    (home renovation's cap). The database holds the limit: a submission adds to `used` only by a conditional update
    (`… WHERE used + n <= limit`, see `limits.py`), so two tills at the same instant cannot both pass; a rejected
    or refunded application gives its share back. Keyed by the applicant's look-up hash, never the ID itself."""

    programme = models.ForeignKey(Programme, models.PROTECT, related_name="+", db_index=False)
    applicant_hash = CodeField(max_length=64)
    scope = CodeField(max_length=40)  # an item kind ("refrigerator"), "car:2026" (per year), or "amount_fen"
    used = models.BigIntegerField(default=0)

    objects = LedgerQuerySet["PersonUsage"].as_manager()

    class Meta:
        verbose_name = verbose_name_plural = "每人限额使用"
        constraints = [
            models.UniqueConstraint(fields=["programme", "applicant_hash", "scope"], name="person_usage_unique"),
            models.CheckConstraint(condition=Q(used__gte=0), name="person_usage_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.programme_id} {self.scope} {self.used}"


class DailyQuotaUse(models.Model):
    """What one day's reservations have used of a programme's daily quota, split in stripes (`quota.py`): each
    stripe holds a share of the quota, and the database refuses a stripe past its share (a check constraint, and
    conditional updates), so reservations at the same instant update different rows instead of queueing on one."""

    programme = models.ForeignKey(Programme, models.PROTECT, related_name="+", db_index=False)
    day = models.DateField()
    stripe = models.PositiveSmallIntegerField()
    share = models.BigIntegerField()  # this stripe's part of the day's quota, fixed when the day's rows are made
    used = models.BigIntegerField(default=0)

    objects = LedgerQuerySet["DailyQuotaUse"].as_manager()

    class Meta:
        verbose_name = verbose_name_plural = "每日额度使用"
        constraints = [
            models.UniqueConstraint(fields=["programme", "day", "stripe"], name="daily_quota_use_unique"),
            models.CheckConstraint(
                condition=Q(used__gte=0) & Q(used__lte=models.F("share")), name="daily_quota_use_within_share"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.programme_id} {self.day} #{self.stripe} {self.used}/{self.share}"


class MerchantAccountQuerySet(models.QuerySet["MerchantAccount"]):
    def visible_to(self, user: Any) -> MerchantAccountQuerySet:
        """A merchant its own account; those who read the whole ledger (finance pays from it) every one."""
        if not is_authenticated(user):
            return self.none()
        if sees_whole_ledger(user):
            return self
        if user.role == Role.MERCHANT and user.organisation_id:
            return self.filter(organisation_id=user.organisation_id)
        return self.none()


class MerchantAccount(models.Model):
    """A merchant's settlement account (结算账户): where the subsidies it advanced at the till are reimbursed."""

    organisation = models.OneToOneField(
        "core.Organisation", models.PROTECT, related_name="settlement_account", verbose_name="商户"
    )
    account_name = pii.EncryptedTextField("户名")
    account_no = pii.EncryptedTextField("账号")
    bank = models.CharField("开户行", max_length=60)
    bank_code = models.CharField("联行号", max_length=12)
    updated_by = models.ForeignKey("core.User", models.PROTECT, related_name="+", verbose_name="维护人")
    updated_at = models.DateTimeField("维护时间", default=timezone.now)

    objects = MerchantAccountQuerySet.as_manager()

    class Meta:
        verbose_name = verbose_name_plural = "商户结算账户"

    def __str__(self) -> str:
        return f"{self.organisation_id} {self.bank}"


class Refund(models.Model):
    """A merchant's report that an item was returned (退货): the subsidy is released (not yet paid) or clawed back
    (paid); the application's identifiers and per-person share are freed. One per application."""

    application = models.OneToOneField(Application, models.PROTECT, related_name="refund", verbose_name="补贴申请")
    reason = models.CharField("退货原因", max_length=200)
    reported_by = models.ForeignKey("core.User", models.PROTECT, related_name="+", verbose_name="报告人")
    at = models.DateTimeField("退货时间", default=timezone.now)
    clawed_back = models.BooleanField("已发放后追回", default=False)
    amount_fen = models.BigIntegerField("涉及补贴（分）")

    objects = _ThroughApplication.as_manager()

    class Meta:
        ordering = ["-at", "-pk"]
        verbose_name = verbose_name_plural = "退货"

    def __str__(self) -> str:
        return f"{self.application_id} 退货"


class ApplicationEvent(models.Model):
    application = models.ForeignKey(Application, models.CASCADE, related_name="events")
    status = models.CharField(max_length=20, choices=Application.Status.choices)
    # history, like the audit log: no database-level foreign key to the user and no index (see Entry.actor)
    actor = models.ForeignKey("core.User", models.PROTECT, related_name="+", db_constraint=False, db_index=False)
    at = models.DateTimeField(default=timezone.now)
    note = models.CharField(max_length=200, blank=True)

    objects = _ThroughApplication.as_manager()

    class Meta:
        ordering = ["at", "pk"]
        verbose_name = verbose_name_plural = "申请进程"

    def __str__(self) -> str:
        return f"{self.application} {self.status}"


# --- review (see docs/subsidy-review-and-payments.md) -----------------------------------------------------------


class _OfficialsThroughApplication(models.QuerySet[Any]):
    def visible_to(self, user: Any) -> models.QuerySet[Any]:
        """Officials who see the application; applicants and merchants read the outcome in its events instead."""
        if not is_official(user):
            return self.none()
        return self.filter(application__in=Application.objects.visible_to(user))


class ReviewDecision(models.Model):
    """One reviewer's decision on an application. Above the programme's two-person amount an approval needs two
    of them, by two different people; the first leaves the application in review (待复核)."""

    class Decision(models.TextChoices):
        APPROVE = "approve", "通过"
        REJECT = "reject", "不通过"
        MORE = "more", "补充材料"

    application = models.ForeignKey(Application, models.PROTECT, related_name="decisions")
    actor = models.ForeignKey("core.User", models.PROTECT, related_name="+", verbose_name="审核人")
    decision = models.CharField("审核意见", max_length=10, choices=Decision.choices)
    reason = models.CharField("理由", max_length=200, blank=True)
    fraud = models.BooleanField("认定骗补", default=False)
    at = models.DateTimeField("时间", default=timezone.now)

    objects = _OfficialsThroughApplication.as_manager()

    class Meta:
        ordering = ["at", "pk"]
        verbose_name = verbose_name_plural = "审核意见"

    def __str__(self) -> str:
        return f"{self.application} {self.decision}"


class MaterialRequest(models.Model):
    """A reviewer asks for more material; the application stays in review but leaves the queue until the
    applicant answers (`supplied_at`). The answer is free text from the applicant, so it is encrypted."""

    application = models.ForeignKey(Application, models.PROTECT, related_name="material_requests")
    asked_by = models.ForeignKey("core.User", models.PROTECT, related_name="+", verbose_name="审核人")
    question = models.CharField("需补充的材料", max_length=200)
    asked_at = models.DateTimeField("提出时间", default=timezone.now)
    answer = pii.EncryptedTextField("补充说明", blank=True, default="")
    supplied_by = models.ForeignKey(
        "core.User", models.PROTECT, null=True, blank=True, related_name="+", verbose_name="补充人"
    )
    supplied_at = models.DateTimeField("补充时间", null=True, blank=True)

    objects = _ThroughApplication.as_manager()

    class Meta:
        ordering = ["asked_at", "pk"]
        verbose_name = verbose_name_plural = "补充材料"
        constraints = [
            # at most one open request per application
            models.UniqueConstraint(
                fields=["application"], condition=Q(supplied_at__isnull=True), name="material_request_one_open"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.application} {self.question}"


# --- payments -----------------------------------------------------------------------------------------------


class PaymentQuerySet[M: models.Model](models.QuerySet[M]):
    def visible_to(self, user: Any) -> PaymentQuerySet[M]:
        """Payment batches and payments: those who read the whole ledger (task force, finance, auditors,
        reviewers)."""
        return self if sees_whole_ledger(user) else self.none()


class PaymentBatch(models.Model):
    """一个发放批次: approved applications of one programme sent to the bank in one file."""

    class Status(models.TextChoices):
        DRAFT = "draft", "待导出"
        EXPORTED = "exported", "已导出，待银行回单"
        SETTLED = "settled", "已结清"

    number = models.CharField("批次编号", max_length=20, unique=True)
    programme = models.ForeignKey(Programme, models.PROTECT, related_name="payment_batches", verbose_name="补贴项目")
    status = models.CharField("状态", max_length=10, choices=Status.choices, default=Status.DRAFT)
    created_by = models.ForeignKey("core.User", models.PROTECT, related_name="+", verbose_name="创建人")
    created_at = models.DateTimeField("创建时间", default=timezone.now)
    exported_at = models.DateTimeField("导出时间", null=True, blank=True)
    settled_at = models.DateTimeField("结清时间", null=True, blank=True)
    # approved applications left out when the batch was made because their payee had no account yet, by whose
    # account was missing: {"applicant": n, "merchant": n} (`payments.create_batch`)
    left_out = models.JSONField("未列入（缺少收款账户）", default=dict, blank=True)

    objects = PaymentQuerySet["PaymentBatch"].as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = verbose_name_plural = "发放批次"

    def __str__(self) -> str:
        return self.number


class Payment(models.Model):
    """One application's payment in a batch. An application has at most one payment pending or paid (database
    constraint): it is never paid twice; a failed payment lets it go into a later batch."""

    class Status(models.TextChoices):
        PENDING = "pending", "待银行处理"
        PAID = "paid", "已到账"
        FAILED = "failed", "失败"

    batch = models.ForeignKey(PaymentBatch, models.PROTECT, related_name="payments", verbose_name="发放批次")
    application = models.ForeignKey(Application, models.PROTECT, related_name="payments", verbose_name="补贴申请")
    amount_fen = models.BigIntegerField("金额（分）")
    status = models.CharField("状态", max_length=10, choices=Status.choices, default=Status.PENDING)
    bank_reference = models.CharField("银行流水号", max_length=64, blank=True)
    failure_reason = models.CharField("失败原因", max_length=200, blank=True)
    paid_at = models.DateTimeField("到账时间", null=True, blank=True)
    # the account it is paid to, as the programme's rule gave it when the batch was made (`payees.of_application`):
    # the bank file of the batch, exported again, pays the same accounts even if a merchant changed its own since
    payee_type = models.CharField("收款人类型", max_length=10, choices=Programme.Payee.choices, blank=True, default="")
    payee_name = pii.EncryptedTextField("收款户名", blank=True, default="")
    payee_account = pii.EncryptedTextField("收款账号", blank=True, default="")
    payee_bank = models.CharField("开户行", max_length=60, blank=True, default="")
    payee_bank_code = models.CharField("联行号", max_length=12, blank=True, default="")

    objects = PaymentQuerySet["Payment"].as_manager()

    class Meta:
        ordering = ["batch", "pk"]
        verbose_name = verbose_name_plural = "补贴发放"
        constraints = [
            models.UniqueConstraint(
                fields=["application"], condition=Q(status__in=["pending", "paid"]), name="payment_once_per_application"
            ),
            models.CheckConstraint(condition=Q(amount_fen__gt=0), name="payment_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.batch} {self.application}"


class PaymentExport(models.Model):
    """One export of a batch's bank file. The first is the file sent to the bank; every later one needs a reason
    and is marked 重复导出 in its file name, because a second copy uploaded to the bank pays twice."""

    class Format(models.TextChoices):
        XLSX = "xlsx", "Excel"
        CSV = "csv", "CSV"

    batch = models.ForeignKey(PaymentBatch, models.PROTECT, related_name="exports", verbose_name="发放批次")
    sequence = models.PositiveSmallIntegerField("第几次导出")  # 1: the first
    format = models.CharField("格式", max_length=4, choices=Format.choices)
    count = models.PositiveIntegerField("笔数")
    total_fen = models.BigIntegerField("金额（分）")
    reason = models.CharField("重复导出原因", max_length=200, blank=True)
    exported_by = models.ForeignKey("core.User", models.PROTECT, related_name="+", verbose_name="导出人")
    exported_at = models.DateTimeField("导出时间", default=timezone.now)

    objects = PaymentQuerySet["PaymentExport"].as_manager()

    class Meta:
        ordering = ["batch", "sequence"]
        verbose_name = verbose_name_plural = "发放文件导出记录"
        constraints = [
            models.UniqueConstraint(fields=["batch", "sequence"], name="payment_export_sequence_unique"),
            models.CheckConstraint(condition=Q(sequence=1) | ~Q(reason=""), name="payment_export_again_has_reason"),
        ]

    def __str__(self) -> str:
        return f"{self.batch} #{self.sequence}"

    @property
    def again(self) -> bool:
        return self.sequence > 1


# --- evidence (subsidies/evidence.py) ---------------------------------------------------------------------------


def evidence_path(instance: Evidence, filename: str) -> str:
    # a random name, nothing of the uploader's (a file name may be "张三身份证.jpg"); the content is sealed
    return f"subsidy-evidence/{timezone.localdate():%Y/%m}/{instance.token}.sealed"


class Evidence(models.Model):
    """A file the applicant gives with an application (the invoice, a photo of the old appliance): checked by its
    content, images stripped of their metadata, sealed (`pii.seal_bytes`) under a random name and served only
    through a scoped view — to those who may see the application."""

    class Kind(models.TextChoices):
        INVOICE = "invoice", "购买发票"
        OLD_ITEM = "old_item", "旧物照片"
        OTHER = "other", "其他材料"

    application = models.ForeignKey(Application, models.PROTECT, related_name="evidence", verbose_name="补贴申请")
    kind = models.CharField("材料类型", max_length=10, choices=Kind.choices)
    token = CodeField(max_length=32, unique=True, editable=False)  # uuid4 hex: the stored file's name
    file = models.FileField(upload_to=evidence_path, max_length=120)
    content_type = models.CharField(max_length=40)
    size = models.PositiveIntegerField("大小（字节）")  # of the file as served, before sealing
    uploaded_by = models.ForeignKey("core.User", models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField("上传时间", default=timezone.now)

    objects = _ThroughApplication.as_manager()

    class Meta:
        ordering = ["application", "uploaded_at", "pk"]
        verbose_name = verbose_name_plural = "申请材料"

    def __str__(self) -> str:
        return f"{self.application_id} {self.kind}"

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")
