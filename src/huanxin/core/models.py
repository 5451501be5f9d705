"""Regions, departments, organisations, users and the audit log."""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models import Q

from huanxin.core import pii
from huanxin.core.fields import CodeField
from huanxin.core.roles import Role, is_authenticated, is_official, reads_everything


class PublicToUsersQuerySet[M: models.Model](models.QuerySet[M]):
    """Reference data every logged-in user may read (regions, department aliases); anonymous users see none."""

    def visible_to(self, user: Any) -> PublicToUsersQuerySet[M]:
        return self if is_authenticated(user) else self.none()


class Region(models.Model):
    """A city or a county-level division: GB/T 2260 codes, or the statistical codes of zones that have none."""

    class Kind(models.TextChoices):
        PROVINCE = "province", "省"
        CITY = "city", "地级市"
        DISTRICT = "district", "市辖区"
        COUNTY = "county", "县"
        MANAGEMENT_ZONE = "management_zone", "管理区"
        DEVELOPMENT_ZONE = "development_zone", "经济开发区"

    class CodeSource(models.TextChoices):
        GB2260 = "gb2260", "GB/T 2260 行政区划代码"
        STATS = "stats", "统计用区划代码"

    code = models.CharField("区划代码", max_length=12, unique=True)
    name = models.CharField("名称", max_length=50)
    short_name = models.CharField("简称", max_length=20, blank=True)
    kind = models.CharField("类型", max_length=20, choices=Kind.choices)
    code_source = models.CharField("代码来源", max_length=10, choices=CodeSource.choices, default=CodeSource.GB2260)
    parent = models.ForeignKey("self", models.PROTECT, null=True, blank=True, related_name="children")

    objects = PublicToUsersQuerySet["Region"].as_manager()

    class Meta:
        ordering = ["code"]
        verbose_name = verbose_name_plural = "行政区划"

    def __str__(self) -> str:
        return self.name


class DepartmentQuerySet(PublicToUsersQuerySet["Department"]):
    # Who is responsible for what is public information inside the government network.

    def resolve(self, name: str) -> Department:
        """Find a department by its canonical name, short name or an alias the plan text uses."""
        name = "".join(name.split())
        return self.get(Q(name=name) | Q(short_name=name) | Q(aliases__name=name))


class Department(models.Model):
    """A body named in a plan's responsibility clauses (市发展和改革委员会, 张家口海关 …)."""

    class Kind(models.TextChoices):
        MUNICIPAL = "municipal", "市政府部门"
        VERTICAL = "vertical", "垂直管理单位"
        INSTITUTION = "institution", "事业单位及其他"
        BRIGADE = "brigade", "消防救援队伍"

    code = models.SlugField("代码", max_length=40, unique=True)
    name = models.CharField("名称", max_length=80, unique=True)
    short_name = models.CharField("简称", max_length=40, blank=True)
    kind = models.CharField("类型", max_length=20, choices=Kind.choices, default=Kind.MUNICIPAL)
    region = models.ForeignKey(Region, models.PROTECT, related_name="departments")

    objects = DepartmentQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = verbose_name_plural = "责任单位"

    def __str__(self) -> str:
        return self.name


class DepartmentAlias(models.Model):
    """Another spelling of a department's name found in a plan (e.g. 市发展和改革委)."""

    department = models.ForeignKey(Department, models.CASCADE, related_name="aliases")
    name = models.CharField("别名", max_length=80, unique=True)

    objects = PublicToUsersQuerySet["DepartmentAlias"].as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = verbose_name_plural = "单位别名"

    def __str__(self) -> str:
        return self.name


class OrganisationQuerySet(models.QuerySet["Organisation"]):
    def visible_to(self, user: Any) -> OrganisationQuerySet:
        if is_official(user):
            return self
        if is_authenticated(user) and user.organisation_id:
            return self.filter(pk=user.organisation_id)
        return self.none()


class Organisation(models.Model):
    """Who a user works for. A department organisation points at its plan department."""

    class Kind(models.TextChoices):
        DEPARTMENT = "department", "市直部门"
        COUNTY_GOVERNMENT = "county_government", "县区政府"
        MERCHANT = "merchant", "商户"
        RECYCLER = "recycler", "回收企业"
        ENTERPRISE = "enterprise", "企业"

    name = models.CharField("名称", max_length=120, unique=True)
    kind = models.CharField("类型", max_length=20, choices=Kind.choices)
    region = models.ForeignKey(Region, models.PROTECT, related_name="organisations")
    department = models.OneToOneField(Department, models.PROTECT, null=True, blank=True, related_name="organisation")
    uscc = models.CharField("统一社会信用代码", max_length=18, blank=True)

    objects = OrganisationQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = verbose_name_plural = "组织"

    def __str__(self) -> str:
        return self.name


class HuanxinUserManager(UserManager["User"]):
    def visible_to(self, user: Any) -> models.QuerySet[User]:
        qs = self.get_queryset()
        if reads_everything(user):
            return qs
        if is_authenticated(user) and user.organisation_id:
            return qs.filter(organisation_id=user.organisation_id)
        if is_authenticated(user):
            return qs.filter(pk=user.pk)
        return qs.none()


class User(AbstractUser):
    role = models.CharField("角色", max_length=30, choices=Role.choices, default=Role.CITIZEN)
    organisation = models.ForeignKey(
        Organisation, models.PROTECT, null=True, blank=True, related_name="users", verbose_name="所属组织"
    )
    display_name = models.CharField("姓名", max_length=50, blank=True)
    phone = pii.EncryptedTextField("手机号", blank=True)
    phone_hash = models.CharField(max_length=64, blank=True, db_index=True, editable=False)
    # 实名: the identity an identity provider confirmed (core/identity.py), written by `identity.verify_identity`
    # only and fixed once verified. A citizen applies for subsidies in this name (subsidies/applications.py).
    verified_name = pii.EncryptedTextField("实名姓名", blank=True, default="", db_default="")
    verified_resident_id = pii.EncryptedTextField("实名身份证号码", blank=True, default="", db_default="")
    verified_phone = pii.EncryptedTextField("实名手机号码", blank=True, default="", db_default="")
    resident_id_hash = models.CharField(max_length=64, blank=True, default="", db_default="", editable=False)
    identity_verified_at = models.DateTimeField("实名认证时间", null=True, blank=True, editable=False)
    identity_reference = models.CharField("核验流水号", max_length=80, blank=True, default="", db_default="")

    objects: ClassVar[HuanxinUserManager] = HuanxinUserManager()

    class Meta:
        verbose_name = verbose_name_plural = "用户"
        constraints = [
            # one person, one verified account: the look-up hash of the ID number, among verified users
            models.UniqueConstraint(
                fields=["resident_id_hash"],
                condition=Q(identity_verified_at__isnull=False),
                name="user_verified_resident_id_unique",
            ),
        ]

    def __str__(self) -> str:
        return self.display_name or self.username

    @property
    def department(self) -> Department | None:
        org = self.organisation
        return org.department if org is not None else None

    @property
    def masked_phone(self) -> str:
        return pii.mask_phone(self.phone)

    @property
    def identity_verified(self) -> bool:
        return self.identity_verified_at is not None

    @property
    def masked_verified_name(self) -> str:
        return pii.mask_name(self.verified_name)

    @property
    def masked_verified_id(self) -> str:
        return pii.mask_resident_id(self.verified_resident_id)

    @property
    def masked_verified_phone(self) -> str:
        return pii.mask_phone(self.verified_phone)


class AuditorsOnlyQuerySet[M: models.Model](models.QuerySet[M]):
    """The audit log and its checkpoints: read by auditors, nobody else."""

    def visible_to(self, user: Any) -> AuditorsOnlyQuerySet[M]:
        from huanxin.core.roles import is_auditor

        return self if is_auditor(user) else self.none()


class AuditEvent(models.Model):
    """Append-only, hash-chained record of every write. Written by `huanxin.core.audit.record` only."""

    chain = models.SmallIntegerField(default=0, editable=False)  # see core/audit.py: chains side by side
    seq = models.BigIntegerField(editable=False)  # 1, 2, 3 … within the chain
    at = models.DateTimeField(editable=False)
    # No database-level foreign key: the hash chain, not a constraint, vouches for who acted (the id and the label
    # are hashed), and an append-only log must never depend on another table's rows; Django still refuses to delete
    # a user who appears here (PROTECT). Checked row by row at commit, the constraint cost a batch of 100,000
    # applications a third of a second.
    actor = models.ForeignKey(User, models.PROTECT, null=True, blank=True, related_name="+", db_constraint=False)
    actor_label = models.CharField(max_length=150)
    action = CodeField(max_length=80)  # indexed in Meta (no LIKE index: never searched by prefix)
    object_type = CodeField(max_length=80)
    object_id = CodeField(max_length=64)
    object_repr = models.CharField(max_length=200, blank=True)
    changes = models.JSONField(default=dict)
    prev_hash = models.CharField(max_length=64)
    hash = CodeField(max_length=64)  # unique: see Meta

    objects = AuditorsOnlyQuerySet["AuditEvent"].as_manager()

    class Meta:
        ordering = ["id"]
        verbose_name = verbose_name_plural = "审计日志"
        indexes = [
            models.Index(fields=["object_type", "object_id"]),
            models.Index(fields=["action"], name="audit_action"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["chain", "seq"], name="audit_chain_seq"),
            models.UniqueConstraint(fields=["hash"], name="audit_hash_unique"),
        ]

    def __str__(self) -> str:
        return f"#{self.chain}/{self.seq} {self.action} {self.object_type}:{self.object_id}"


class AuditCheckpoint(models.Model):
    """The head of one audit chain (its last seq and hash), signed with HMAC-SHA256 under `AUDIT_ANCHOR_KEY`.
    Every appending transaction moves it (core/audit.py), so `audit verify` sees when the newest events of a chain
    were deleted: the chain no longer ends where its checkpoint says. Without the key nobody can move it to match."""

    chain = models.SmallIntegerField(primary_key=True)
    seq = models.BigIntegerField()
    hash = models.CharField(max_length=64)
    signature = models.CharField(max_length=64)
    updated_at = models.DateTimeField()

    objects = AuditorsOnlyQuerySet["AuditCheckpoint"].as_manager()

    class Meta:
        ordering = ["chain"]
        verbose_name = verbose_name_plural = "审计日志检查点"

    def __str__(self) -> str:
        return f"#{self.chain}/{self.seq}"


class ApiTokenQuerySet(models.QuerySet["ApiToken"]):
    def visible_to(self, user: Any) -> ApiTokenQuerySet:
        from huanxin.core.roles import is_auditor

        if is_auditor(user):
            return self
        if is_authenticated(user):
            return self.filter(user_id=user.pk)
        return self.none()


class ApiToken(models.Model):
    """A key for calling /api/v1/ from another system. Only the SHA-256 of the key is stored (core/tokens.py)."""

    user = models.ForeignKey(User, models.CASCADE, related_name="api_tokens", verbose_name="用户")
    name = models.CharField("名称", max_length=50)
    prefix = models.CharField("前缀", max_length=8)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    last_used_at = models.DateTimeField("最近使用", null=True, blank=True)
    expires_at = models.DateTimeField("到期时间", null=True, blank=True)
    revoked_at = models.DateTimeField("吊销时间", null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = verbose_name_plural = "API 令牌"

    def __str__(self) -> str:
        return f"{self.name}（{self.prefix}…）"

    def status_at(self, now: Any) -> str:
        """One of: revoked, expired, active."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"
