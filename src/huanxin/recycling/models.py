"""The recycling network (方案 四): sites, pickup slots and bookings, collection records, certificates, and
reverse invoices for purchases from natural persons.

Personal data (names, ID numbers, phones, addresses, plates) is encrypted at rest and found by keyed hash; VINs
and serial numbers are identifiers of things, kept in clear so the database itself can refuse a second
certificate for the same car or appliance. Nothing is deleted: bookings are cancelled, certificates revoked.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import models
from django.db.models import Q
from django.utils import timezone

from huanxin.core import pii
from huanxin.core.models import Organisation, PublicToUsersQuerySet, Region, User
from huanxin.core.roles import Role, county_of, is_authenticated, is_official, reads_everything
from huanxin.recycling.categories import Category


def _scoped[QS: models.QuerySet[Any]](qs: QS, user: Any, *, org: str, region: str) -> QS:
    """Officials read the network (a county officer their county); a recycler its own rows; others nothing."""
    if not is_authenticated(user):
        return qs.none()
    if reads_everything(user):
        return qs
    if is_official(user):
        county = county_of(user)
        return qs.filter(**{region: county}) if county is not None else qs
    if user.role == Role.RECYCLER and user.organisation_id:
        return qs.filter(**{org: user.organisation_id})
    return qs.none()


class Township(models.Model):
    """乡镇（街道）: the unit of the network's coverage (which townships have no recycling point)."""

    region = models.ForeignKey(Region, models.PROTECT, related_name="townships", verbose_name="县区")
    name = models.CharField("乡镇（街道）", max_length=40)

    objects = PublicToUsersQuerySet["Township"].as_manager()

    class Meta:
        ordering = ["region__code", "name"]
        verbose_name = verbose_name_plural = "乡镇（街道）"
        constraints = [models.UniqueConstraint(fields=["region", "name"], name="township_unique_in_region")]

    def __str__(self) -> str:
        return self.name


class SiteQuerySet(models.QuerySet["Site"]):
    def public(self) -> SiteQuerySet:
        """Sites a citizen may find on the public map: operating ones. Deliberately open to anonymous callers."""
        return self.filter(status=Site.Status.OPERATING)

    def visible_to(self, user: Any) -> SiteQuerySet:
        """Officials read the network (a county officer their county); everyone logged in sees operating sites, and
        a recycler its own in any state."""
        if not is_authenticated(user):
            return self.none()
        if is_official(user):
            return _scoped(self, user, org="organisation", region="region")
        own = (
            Q(organisation_id=user.organisation_id)
            if user.role == Role.RECYCLER and user.organisation_id
            else Q(pk__in=[])
        )
        return self.filter(Q(status=Site.Status.OPERATING) | own)

    def accepting(self, category: str) -> SiteQuerySet:
        """Sites whose categories include `category` (a JSON list; filtered in Python-free SQL on both back ends)."""
        return self.filter(categories__icontains=f'"{category}"')


class Site(models.Model):
    """A place of the network: a recycling point, a sorting centre, a vehicle dismantler, a second-hand market,
    a public institutions' warehouse (公物仓)."""

    class Kind(models.TextChoices):
        POINT = "point", "回收网点"
        SORTING_CENTRE = "sorting_centre", "分拣中心"
        DISMANTLER = "dismantler", "报废机动车回收拆解企业"
        SECOND_HAND = "second_hand", "二手商品交易市场"
        PUBLIC_WAREHOUSE = "public_warehouse", "公物仓"

    class Status(models.TextChoices):
        PLANNED = "planned", "筹建中"
        OPERATING = "operating", "运营中"
        SUSPENDED = "suspended", "暂停"
        CLOSED = "closed", "已关闭"

    organisation = models.ForeignKey(Organisation, models.PROTECT, related_name="sites", verbose_name="运营单位")
    name = models.CharField("名称", max_length=80, unique=True)
    kind = models.CharField("类型", max_length=20, choices=Kind.choices)
    region = models.ForeignKey(Region, models.PROTECT, related_name="sites", verbose_name="县区")
    township = models.ForeignKey(
        Township, models.PROTECT, null=True, blank=True, related_name="sites", verbose_name="乡镇（街道）"
    )
    address = models.CharField("地址", max_length=120)
    latitude = models.DecimalField("纬度", max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField("经度", max_digits=9, decimal_places=6, null=True, blank=True)
    categories = models.JSONField("回收品类", default=list)  # Category codes
    opening_hours = models.CharField("营业时间", max_length=60, blank=True)
    phone = models.CharField("服务电话", max_length=20, blank=True)  # the site's business line, not personal data
    status = models.CharField("状态", max_length=20, choices=Status.choices, default=Status.OPERATING)
    is_sorting_point = models.BooleanField("兼作垃圾分类网点（两网融合）", default=False)
    offers_pickup = models.BooleanField("提供上门回收", default=False)
    qualification_no = models.CharField("资质证书编号", max_length=40, blank=True)  # dismantlers' 资质认定
    opened_on = models.DateField("投运日期", null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = SiteQuerySet.as_manager()

    class Meta:
        ordering = ["region__code", "kind", "name"]
        verbose_name = verbose_name_plural = "回收站点"
        constraints = [
            models.CheckConstraint(
                condition=~Q(kind="dismantler") | ~Q(qualification_no=""), name="dismantler_has_qualification"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def category_labels(self) -> list[str]:
        return [Category(c).label for c in self.categories if c in Category.values]


class SlotQuerySet(models.QuerySet["PickupSlot"]):
    def visible_to(self, user: Any) -> SlotQuerySet:
        """Anyone logged in may see slots (to book one); the counts are not personal."""
        if not is_authenticated(user):
            return self.none()
        return self

    def open_for(self, *, region: Region, category: str, now: dt.datetime) -> SlotQuerySet:
        """Slots a citizen in `region` can book for `category`: a pickup site serving both, in the future, not full."""
        sites = Site.objects.public().filter(region=region, offers_pickup=True).accepting(category)
        return (
            self.filter(site__in=sites, starts_at__gt=now, booked__lt=models.F("capacity"))
            .select_related("site__organisation")
            .order_by("starts_at", "site__name")
        )


class PickupSlot(models.Model):
    """A time window in which a site's crew picks up at people's homes, with a capacity."""

    site = models.ForeignKey(Site, models.PROTECT, related_name="slots", verbose_name="站点")
    starts_at = models.DateTimeField("开始")
    ends_at = models.DateTimeField("结束")
    capacity = models.PositiveSmallIntegerField("可预约数")
    booked = models.PositiveSmallIntegerField("已预约", default=0)

    objects = SlotQuerySet.as_manager()

    class Meta:
        ordering = ["starts_at", "site"]
        verbose_name = verbose_name_plural = "上门时段"
        constraints = [
            models.UniqueConstraint(fields=["site", "starts_at"], name="slot_unique_start"),
            models.CheckConstraint(condition=Q(booked__lte=models.F("capacity")), name="slot_not_overbooked"),
            models.CheckConstraint(condition=Q(ends_at__gt=models.F("starts_at")), name="slot_ends_after_start"),
        ]

    def __str__(self) -> str:
        start = timezone.localtime(self.starts_at)
        return f"{start:%m月%d日 %H:%M}–{timezone.localtime(self.ends_at):%H:%M}"

    @property
    def remaining(self) -> int:
        return self.capacity - self.booked


class BookingQuerySet(models.QuerySet["Booking"]):
    def visible_to(self, user: Any) -> BookingQuerySet:
        """The citizen who booked, the merchant that booked for a customer, the recycler serving it, officials."""
        if not is_authenticated(user):
            return self.none()
        if is_official(user) or user.role == Role.RECYCLER:
            return _scoped(self, user, org="organisation", region="region")
        if user.role == Role.MERCHANT and user.organisation_id:
            return self.filter(merchant_id=user.organisation_id)
        return self.filter(citizen=user)


class Booking(models.Model):
    """上门回收预约: a pickup of old items at an address in a slot, served by the slot's site."""

    class Status(models.TextChoices):
        SUBMITTED = "submitted", "待接单"
        ACCEPTED = "accepted", "已接单"
        COMPLETED = "completed", "已完成"
        NO_SHOW = "no_show", "上门未遇"
        CANCELLED = "cancelled", "已取消"

    class Channel(models.TextChoices):
        CITIZEN = "citizen", "居民自助预约"
        MERCHANT = "merchant", "商户代约（收旧+换新）"

    OPEN = (Status.SUBMITTED, Status.ACCEPTED)

    number = models.CharField("预约号", max_length=20, unique=True)
    slot = models.ForeignKey(PickupSlot, models.PROTECT, related_name="bookings", verbose_name="时段")
    site = models.ForeignKey(Site, models.PROTECT, related_name="bookings", verbose_name="站点")
    organisation = models.ForeignKey(Organisation, models.PROTECT, related_name="bookings", verbose_name="回收企业")
    region = models.ForeignKey(Region, models.PROTECT, related_name="+", verbose_name="县区")
    township = models.ForeignKey(Township, models.PROTECT, null=True, blank=True, related_name="+")
    channel = models.CharField("渠道", max_length=20, choices=Channel.choices, default=Channel.CITIZEN)
    citizen = models.ForeignKey(User, models.PROTECT, null=True, blank=True, related_name="bookings")
    merchant = models.ForeignKey(Organisation, models.PROTECT, null=True, blank=True, related_name="+")
    created_by = models.ForeignKey(User, models.PROTECT, related_name="+")
    contact_name = pii.EncryptedTextField("联系人")
    phone = pii.EncryptedTextField("联系电话")
    phone_hash = models.CharField(max_length=64, db_index=True, editable=False)
    address = pii.EncryptedTextField("上门地址")
    note = models.CharField("备注", max_length=200, blank=True)
    status = models.CharField("状态", max_length=20, choices=Status.choices, default=Status.SUBMITTED)
    visit_at = models.DateTimeField("约定上门时间", null=True, blank=True)
    accept_by = models.DateTimeField("接单时限")
    complete_by = models.DateTimeField("完成时限")
    paid_fen = models.BigIntegerField("支付金额（分）", default=0)
    created_at = models.DateTimeField("预约时间", default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)
    token = models.CharField(max_length=64, blank=True)  # the form's (or API caller's) idempotency key

    objects = BookingQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = verbose_name_plural = "上门回收预约"
        constraints = [
            models.UniqueConstraint(fields=["created_by", "token"], condition=~Q(token=""), name="booking_token_once")
        ]
        indexes = [models.Index(fields=["organisation", "status"]), models.Index(fields=["region", "status"])]

    def __str__(self) -> str:
        return self.number

    @property
    def masked_name(self) -> str:
        return pii.mask_name(self.contact_name)

    @property
    def masked_phone(self) -> str:
        return pii.mask_phone(self.phone)

    @property
    def masked_address(self) -> str:
        return pii.mask(self.address, keep_start=6, keep_end=0)

    def overdue_reason(self, now: dt.datetime | None = None) -> str:
        """Why the recycler is late with this booking ('' when it is not)."""
        now = now or timezone.now()
        if self.status == self.Status.SUBMITTED and now > self.accept_by:
            return "超时未接单"
        if self.status == self.Status.ACCEPTED and now > self.complete_by:
            return "超时未完成"
        return ""


class _ThroughBooking(models.QuerySet[Any]):
    """Rows that belong to a booking are visible with their booking."""

    def visible_to(self, user: Any) -> models.QuerySet[Any]:
        return self.filter(booking__in=Booking.objects.visible_to(user))


class BookingItem(models.Model):
    booking = models.ForeignKey(Booking, models.CASCADE, related_name="items")
    category = models.CharField("品类", max_length=20, choices=Category.choices)
    count = models.PositiveSmallIntegerField("数量")

    objects = _ThroughBooking.as_manager()

    class Meta:
        ordering = ["pk"]
        verbose_name = verbose_name_plural = "预约物品"

    def __str__(self) -> str:
        return f"{self.get_category_display()}×{self.count}"


class BookingEvent(models.Model):
    """One step of a booking's life, shown as its timeline (the audit log holds the same, for auditors)."""

    booking = models.ForeignKey(Booking, models.CASCADE, related_name="events")
    status = models.CharField("状态", max_length=20, choices=Booking.Status.choices)
    actor = models.ForeignKey(User, models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now)
    note = models.CharField("说明", max_length=200, blank=True)

    objects = _ThroughBooking.as_manager()

    class Meta:
        ordering = ["at", "pk"]
        verbose_name = verbose_name_plural = "预约进程"

    def __str__(self) -> str:
        return f"{self.booking} {self.get_status_display()}"


# an entry on behalf of a recycler (代录) names who entered it and why; an ordinary one neither
_PROXY_HAS_REASON = Q(proxy_entered_by__isnull=True, proxy_reason="") | (
    Q(proxy_entered_by__isnull=False) & ~Q(proxy_reason="")
)


class RecordQuerySet(models.QuerySet["CollectionRecord"]):
    def visible_to(self, user: Any) -> RecordQuerySet:
        return _scoped(self, user, org="organisation", region="region")


class CollectionRecord(models.Model):
    """回收记录: one intake at a site — from a booking or at the counter; from a person, an enterprise or a public
    institution."""

    class Source(models.TextChoices):
        BOOKING = "booking", "上门回收"
        PERSON = "person", "个人交售"
        ENTERPRISE = "enterprise", "企业交售"
        INSTITUTION = "institution", "行政事业单位（公物仓）"

    site = models.ForeignKey(Site, models.PROTECT, related_name="records", verbose_name="站点")
    organisation = models.ForeignKey(Organisation, models.PROTECT, related_name="+")
    region = models.ForeignKey(Region, models.PROTECT, related_name="+", verbose_name="县区")
    received_on = models.DateField("回收日期")
    source = models.CharField("来源", max_length=20, choices=Source.choices)
    booking = models.ForeignKey(Booking, models.PROTECT, null=True, blank=True, related_name="records")
    category = models.CharField("品类", max_length=20, choices=Category.choices)
    units = models.PositiveIntegerField("数量（台/件）", default=0)
    weight_kg = models.DecimalField("重量（千克）", max_digits=12, decimal_places=2, default=0)
    price_fen = models.BigIntegerField("收购金额（分）", default=0)
    seller_name = pii.EncryptedTextField("交售人", blank=True)  # natural persons only: encrypted
    seller_org = models.CharField("交售单位", max_length=120, blank=True)  # enterprises and institutions
    external_ref = models.CharField(
        "业务单号", max_length=40, blank=True
    )  # the recycler's own number: upload idempotency
    created_by = models.ForeignKey(User, models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    # 代录: the task force entered this for the recycler (which could not), and said why
    proxy_entered_by = models.ForeignKey(
        User, models.PROTECT, null=True, blank=True, related_name="+", verbose_name="代录人"
    )
    proxy_reason = models.CharField("代录原因", max_length=200, blank=True)

    objects = RecordQuerySet.as_manager()

    class Meta:
        ordering = ["-received_on", "-pk"]
        verbose_name = verbose_name_plural = "回收记录"
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "external_ref"], condition=~Q(external_ref=""), name="record_ref_once"
            ),
            models.CheckConstraint(condition=Q(weight_kg__gte=0) & Q(price_fen__gte=0), name="record_not_negative"),
            models.CheckConstraint(condition=_PROXY_HAS_REASON, name="record_proxy_has_reason"),
        ]
        indexes = [models.Index(fields=["received_on", "category"])]

    def __str__(self) -> str:
        return f"{self.received_on} {self.get_category_display()}"


class CertificateQuerySet(models.QuerySet["Certificate"]):
    def visible_to(self, user: Any) -> CertificateQuerySet:
        return _scoped(self, user, org="organisation", region="region")


class Certificate(models.Model):
    """A certificate a recycler issues: 报废机动车回收证明 (one per VIN, ever), 收旧凭证 for an old appliance,
    device or e-bike, 数据清除证明 for a phone, tablet or computer. Anyone holding the number and the
    verification code can check it online."""

    class Kind(models.TextChoices):
        VEHICLE = "vehicle", "报废机动车回收证明"
        TAKE_BACK = "take_back", "收旧凭证"
        DATA_WIPE = "data_wipe", "数据清除证明"

    class Status(models.TextChoices):
        VALID = "valid", "有效"
        REVOKED = "revoked", "已作废"

    class Fuel(models.TextChoices):
        PETROL = "petrol", "汽油"
        DIESEL = "diesel", "柴油"
        NEV = "nev", "新能源"
        OTHER = "other", "其他燃料"

    PREFIX = {Kind.VEHICLE: "BF", Kind.TAKE_BACK: "SJ", Kind.DATA_WIPE: "QC"}

    kind = models.CharField("类型", max_length=20, choices=Kind.choices)
    number = models.CharField("证明编号", max_length=24, unique=True)
    verify_code = models.CharField("校验码", max_length=12)
    status = models.CharField("状态", max_length=20, choices=Status.choices, default=Status.VALID)
    site = models.ForeignKey(Site, models.PROTECT, related_name="certificates", verbose_name="出具站点")
    organisation = models.ForeignKey(Organisation, models.PROTECT, related_name="+")
    region = models.ForeignKey(Region, models.PROTECT, related_name="+", verbose_name="县区")
    issued_on = models.DateField("出具日期")
    issued_by = models.ForeignKey(User, models.PROTECT, related_name="+")
    issued_at = models.DateTimeField(auto_now_add=True)
    category = models.CharField("品类", max_length=20, choices=Category.choices)
    # the owner who handed the item in: encrypted, found by keyed hash (subsidies match the applicant on it)
    owner_name = pii.EncryptedTextField("所有人")
    owner_id = pii.EncryptedTextField("证件号码", blank=True)
    owner_id_hash = models.CharField(max_length=64, blank=True, db_index=True, editable=False)
    # the item
    vin = models.CharField("车辆识别代号", max_length=17, blank=True)
    plate = pii.EncryptedTextField("号牌号码", blank=True)
    vehicle_type = models.CharField("车辆类型", max_length=30, blank=True)  # 小型普通客车 …
    fuel = models.CharField("燃料类型", max_length=10, choices=Fuel.choices, blank=True)
    emission_standard = models.CharField("排放标准", max_length=10, blank=True)  # 国三 …
    registered_on = models.DateField("初次登记日期", null=True, blank=True)
    brand_model = models.CharField("品牌型号", max_length=60, blank=True)
    serial = models.CharField("出厂编号/序列号", max_length=40, blank=True)
    wipe_method = models.CharField("清除方式", max_length=60, blank=True)
    record = models.ForeignKey(CollectionRecord, models.PROTECT, null=True, blank=True, related_name="certificates")
    booking = models.ForeignKey(Booking, models.PROTECT, null=True, blank=True, related_name="certificates")
    revoked_reason = models.CharField("作废原因", max_length=200, blank=True)
    token = models.CharField(max_length=64, blank=True)
    # 代录: the task force issued this for the recycler (which could not), and said why; shown wherever it is read
    proxy_entered_by = models.ForeignKey(
        User, models.PROTECT, null=True, blank=True, related_name="+", verbose_name="代录人"
    )
    proxy_reason = models.CharField("代录原因", max_length=200, blank=True)

    objects = CertificateQuerySet.as_manager()

    class Meta:
        ordering = ["-issued_on", "-pk"]
        verbose_name = verbose_name_plural = "回收证明"
        constraints = [
            # one scrapping certificate per VIN, ever (a revoked one still holds the VIN: reissue by correcting it)
            models.UniqueConstraint(fields=["vin"], condition=Q(kind="vehicle"), name="one_scrap_certificate_per_vin"),
            models.CheckConstraint(
                condition=~Q(kind="vehicle") | Q(vin__regex=r"^[A-HJ-NPR-Z0-9]{17}$"), name="vehicle_has_vin"
            ),
            # the same old appliance (category + serial) is handed in once
            models.UniqueConstraint(
                fields=["category", "serial"],
                condition=Q(kind="take_back") & ~Q(serial=""),
                name="one_take_back_per_serial",
            ),
            models.UniqueConstraint(
                fields=["category", "serial"],
                condition=Q(kind="data_wipe") & ~Q(serial=""),
                name="one_wipe_per_serial",
            ),
            models.UniqueConstraint(
                fields=["issued_by", "token"], condition=~Q(token=""), name="certificate_token_once"
            ),
            models.CheckConstraint(condition=_PROXY_HAS_REASON, name="certificate_proxy_has_reason"),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def masked_owner(self) -> str:
        return pii.mask_name(self.owner_name)

    @property
    def masked_owner_id(self) -> str:
        return (
            pii.mask_resident_id(self.owner_id)
            if len(self.owner_id) == 18
            else pii.mask(self.owner_id, keep_start=2, keep_end=2)
        )

    @property
    def masked_plate(self) -> str:
        return pii.mask(self.plate, keep_start=2, keep_end=1)

    @property
    def masked_vin(self) -> str:
        return pii.mask(self.vin, keep_start=0, keep_end=6)


class TaxRuleQuerySet(PublicToUsersQuerySet["TaxRule"]):
    def in_force(self, on: dt.date) -> TaxRule:
        rule = self.filter(effective_from__lte=on).order_by("-effective_from").first()
        if rule is None:
            raise TaxRule.DoesNotExist(f"{on} 没有适用的反向开票规则")
        return rule


class TaxRule(models.Model):
    """The thresholds and rates of reverse invoicing, as data (defaults: 国家税务总局公告2024年第5号)."""

    name = models.CharField("名称", max_length=80)
    effective_from = models.DateField("施行日期", unique=True)
    rolling_cap_fen = models.BigIntegerField("连续12个月累计销售额上限（分，不含增值税）")
    vat_free_monthly_fen = models.BigIntegerField("月销售额免征增值税额度（分）")
    vat_rate_bp = models.PositiveIntegerField("增值税征收率（万分比）")
    iit_rate_bp = models.PositiveIntegerField("个人所得税预征率（万分比）")
    source = models.CharField("依据", max_length=120, blank=True)

    objects = TaxRuleQuerySet.as_manager()

    class Meta:
        ordering = ["-effective_from"]
        verbose_name = verbose_name_plural = "反向开票规则"

    def __str__(self) -> str:
        return f"{self.name}（{self.effective_from}起）"


class InvoiceQuerySet(models.QuerySet["ReverseInvoice"]):
    def visible_to(self, user: Any) -> InvoiceQuerySet:
        return _scoped(self, user, org="organisation", region="region")


class ReverseInvoice(models.Model):
    """反向开票: a recycler's purchase of scrap from a natural-person seller, invoiced by the recycler."""

    number = models.CharField("开票编号", max_length=24, unique=True)
    organisation = models.ForeignKey(Organisation, models.PROTECT, related_name="+", verbose_name="回收企业")
    site = models.ForeignKey(Site, models.PROTECT, null=True, blank=True, related_name="+", verbose_name="站点")
    region = models.ForeignKey(Region, models.PROTECT, related_name="+", verbose_name="县区")
    seller_name = pii.EncryptedTextField("销售方（自然人）")
    seller_id = pii.EncryptedTextField("身份证号码")
    seller_id_hash = models.CharField(max_length=64, db_index=True, editable=False)
    sold_on = models.DateField("交易日期")
    category = models.CharField("货物品类", max_length=20, choices=Category.choices)
    description = models.CharField("货物名称", max_length=60, blank=True)
    weight_kg = models.DecimalField("数量（千克）", max_digits=12, decimal_places=2, default=0)
    amount_fen = models.BigIntegerField("金额（分，不含税）")
    vat_fen = models.BigIntegerField("增值税（分）")
    iit_fen = models.BigIntegerField("个人所得税（分）")
    rule = models.ForeignKey(TaxRule, models.PROTECT, related_name="+")
    created_by = models.ForeignKey(User, models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    token = models.CharField(max_length=64, blank=True)

    objects = InvoiceQuerySet.as_manager()

    class Meta:
        ordering = ["-sold_on", "-pk"]
        verbose_name = verbose_name_plural = "反向开票"
        constraints = [
            models.UniqueConstraint(fields=["created_by", "token"], condition=~Q(token=""), name="invoice_token_once"),
            models.CheckConstraint(condition=Q(amount_fen__gt=0), name="invoice_amount_positive"),
        ]
        indexes = [models.Index(fields=["seller_id_hash", "sold_on"])]

    def __str__(self) -> str:
        return self.number

    @property
    def masked_seller(self) -> str:
        return pii.mask_name(self.seller_name)

    @property
    def masked_seller_id(self) -> str:
        return pii.mask_resident_id(self.seller_id)


class NumberSequence(models.Model):
    """Counters behind the human-readable numbers (HS2511280001, BF2025000123): one row per key, locked to draw."""

    key = models.CharField(max_length=40, unique=True)
    last = models.PositiveIntegerField(default=0)

    class _QuerySet(models.QuerySet["NumberSequence"]):
        def visible_to(self, user: Any) -> models.QuerySet[NumberSequence]:
            return self if getattr(user, "is_superuser", False) else self.none()

    objects = _QuerySet.as_manager()

    class Meta:
        verbose_name = verbose_name_plural = "编号序列"

    def __str__(self) -> str:
        return f"{self.key}:{self.last}"
