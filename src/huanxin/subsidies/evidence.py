"""申请材料: the invoice and a photo of the old appliance, given with an application and seen by its reviewer.

- Checked by content (`core.uploads.check_evidence`: JPEG, PNG or PDF by their first bytes, whatever the name
  says), at most `MAX_BYTES` each and `MAX_FILES` per application, before the application is submitted: a bad file
  refuses the form, nothing half-done.
- Images are decoded and written again (Pillow): a file that does not decode is refused, and what a phone puts in a
  photo besides the picture — EXIF with the GPS position of the applicant's home, the camera's serial — is dropped.
  The uploader's file name is not kept either (it is often the person's name).
- Stored sealed (`pii.seal_bytes`, AES-GCM under `HUANXIN_PII_KEY`) under a random name in `HUANXIN_MEDIA_ROOT`;
  there is no media URL. `evidence_file` serves one to those who may see its application (the applicant, the
  merchant that filed it, reviewers, finance, the task force, its county's officer); anyone else gets 404.
- The applicant (or the merchant that filed) may add files while the application is still being handled (已受理,
  人工审核, 排队); each addition is audited with the kinds and sizes, never the content.
"""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.views.decorators.http import require_POST

from huanxin.core import audit, pii, uploads
from huanxin.core.models import User
from huanxin.core.roles import Role, is_authenticated
from huanxin.core.views import actor, get_visible_or_404
from huanxin.subsidies.models import Application, Evidence

TYPES = {"jpg", "jpeg", "png", "pdf"}
ACCEPT = ".jpg,.jpeg,.png,.pdf,image/jpeg,image/png,application/pdf"  # the file inputs' accept=""
MAX_BYTES = 5 * 1024 * 1024
MAX_FILES = 5
MAX_PIXELS = 40_000_000  # a 40-megapixel photo; more is a decompression bomb rather than a phone's picture
OPEN = (Application.Status.RESERVED, Application.Status.IN_REVIEW, Application.Status.QUEUED)
CONTENT_TYPES = {"jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png", "pdf": "application/pdf"}


@dataclass(frozen=True)
class Checked:
    kind: str
    content: bytes
    content_type: str


def _refuse(message: str, code: str) -> ValidationError:
    return ValidationError(message, code=code)


def collect(files: Any) -> list[tuple[str, Any]]:
    """The uploaded files of a form, by kind: the inputs are named evidence_invoice, evidence_old_item …"""
    return [(kind, upload) for kind in Evidence.Kind.values for upload in files.getlist(f"evidence_{kind}")]


def _clean_image(data: bytes, suffix: str) -> bytes:
    from PIL import Image, ImageOps

    fmt = "PNG" if suffix == "png" else "JPEG"
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format != fmt:
                raise _refuse("文件内容与扩展名不符，请上传原始图片", "file_content")
            if image.width * image.height > MAX_PIXELS:
                raise _refuse("图片像素过大，请压缩后上传", "image_too_large")
            image.load()
            upright = ImageOps.exif_transpose(image)  # the picture as the phone showed it, then without EXIF
            out = io.BytesIO()
            if fmt == "JPEG":
                upright.convert("RGB").save(out, "JPEG", quality=90)
            else:
                upright.save(out, "PNG")
    except ValidationError:
        raise
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise _refuse("图片已损坏或无法识别，请重新拍照上传", "file_content") from exc
    return out.getvalue()


def check_files(files: list[tuple[str, Any]], *, already: int = 0) -> list[Checked]:
    """Each file checked and made ready to store; refused with the first problem, naming the file by its place."""
    if already + len(files) > MAX_FILES:
        left = max(0, MAX_FILES - already)
        raise _refuse(f"每份申请最多上传{MAX_FILES}个材料文件（还可上传{left}个）", "too_many_files")
    checked = []
    for n, (kind, upload) in enumerate(files, start=1):
        if kind not in Evidence.Kind.values:
            raise _refuse("材料类型无效", "invalid_kind")
        label = f"第{n}个文件（{Evidence.Kind(kind).label}）"
        try:
            suffix = uploads.check_evidence(upload, allowed=TYPES, max_bytes=MAX_BYTES)
            data = uploads.read_upload(upload, max_bytes=MAX_BYTES)
            if suffix != "pdf":
                data = _clean_image(data, suffix)
        except ValidationError as exc:
            code = exc.error_list[0].code or "file_content"
            message = "JPG、PNG 或 PDF" if code == "file_type" else "；".join(exc.messages)
            if code == "file_type":
                message = f"不支持的文件类型，请上传 {message}"
            if code == "file_too_large":
                message = f"文件超过{MAX_BYTES // (1024 * 1024)}MB，请压缩后上传"
            raise _refuse(f"{label}：{message}", code) from None
        checked.append(Checked(kind, data, CONTENT_TYPES[suffix]))
    return checked


def may_attach(user: Any, application: Application) -> bool:
    """The applicant, or the merchant that filed, while the application is still being handled."""
    if not is_authenticated(user) or application.status not in OPEN:
        return False
    if application.applicant_user_id is not None and application.applicant_user_id == user.pk:
        return True
    return bool(user.role == Role.MERCHANT and user.organisation_id and application.merchant_id == user.organisation_id)


@transaction.atomic
def attach(*, actor: User, application: Application, files: list[Checked]) -> list[Evidence]:
    """Store checked files with an application; the application's row is locked so that two uploads at once keep
    to `MAX_FILES` between them."""
    locked = Application.objects.select_for_update(no_key=True).get(pk=application.pk)
    if not may_attach(actor, locked):
        raise PermissionDenied("只有申请人或代办商户可以在审核完成前上传申请材料")
    already = Evidence.objects.filter(application=locked).count()
    if already + len(files) > MAX_FILES:
        raise _refuse(f"每份申请最多上传{MAX_FILES}个材料文件（还可上传{MAX_FILES - already}个）", "too_many_files")
    now = timezone.now()
    stored = []
    for checked in files:
        evidence = Evidence(
            application=locked,
            kind=checked.kind,
            token=uuid.uuid4().hex,
            content_type=checked.content_type,
            size=len(checked.content),
            uploaded_by=actor,
            uploaded_at=now,
        )
        # a file written and its transaction then rolled back stays behind, sealed and unreferenced
        evidence.file.save("evidence", ContentFile(pii.seal_bytes(checked.content)), save=False)
        evidence.save()
        stored.append(evidence)
    audit.record(
        actor=actor,
        action="subsidies.evidence_attached",
        target=locked,
        changes={
            "number": locked.number,
            "files": [{"id": e.pk, "kind": e.kind, "type": e.content_type, "size": e.size} for e in stored],
        },
    )
    return stored


def context(user: Any, application: Application) -> dict[str, Any]:
    """What the application's page shows of its evidence: the files, and the upload form to whom may add."""
    files = list(application.evidence.all())
    return {
        "evidence": files,
        "may_attach": may_attach(user, application) and len(files) < MAX_FILES,
        "evidence_left": MAX_FILES - len(files),
        "evidence_accept": ACCEPT,
    }


def content_of(evidence: Evidence) -> bytes:
    with evidence.file.open("rb") as handle:
        return pii.open_bytes(handle.read())


# --- pages --------------------------------------------------------------------------------------------------------


def evidence_file(request: HttpRequest, pk: int) -> HttpResponse:
    """One file of evidence, to those who may see its application: images shown in the page, a PDF downloaded.
    Sandboxed and never cached: what a file holds cannot run as this site."""
    evidence = get_visible_or_404(Evidence.objects.visible_to(request.user).select_related("application"), pk=pk)
    response = HttpResponse(content_of(evidence), content_type=evidence.content_type)
    suffix = "pdf" if evidence.content_type == "application/pdf" else evidence.content_type.split("/")[-1]
    name = f"{evidence.application.number}-{evidence.pk}.{suffix}"
    response["Content-Disposition"] = f'{"inline" if evidence.is_image else "attachment"}; filename="{name}"'
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_POST
def evidence_upload(request: HttpRequest, number: str) -> HttpResponse:
    """补充上传 on the application's page."""
    user = actor(request)
    application = get_visible_or_404(Application.objects.visible_to(user), number=number)
    try:
        files = collect(request.FILES)
        if not files:
            raise _refuse("请选择要上传的文件", "no_file")
        already = Evidence.objects.filter(application=application).count()
        stored = attach(actor=user, application=application, files=check_files(files, already=already))
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, "；".join(exc.messages) if isinstance(exc, ValidationError) else str(exc))
    else:
        messages.success(request, f"已上传{len(stored)}个材料文件")
    return redirect("subsidies:application", number=application.number)


def attach_from_form(request: HttpRequest, application: Application, checked: list[Checked]) -> None:
    """The files given with the application form, stored once it is submitted (they were checked before)."""
    if not checked:
        return
    try:
        attach(actor=actor(request), application=application, files=checked)
    except (ValidationError, PermissionDenied) as exc:
        reason = "；".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
        messages.error(request, f"申请已提交，但材料未能保存：{reason}。请在本页重新上传")
