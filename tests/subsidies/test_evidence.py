"""申请材料: the invoice and the old appliance's photo, uploaded with the application form or later on its page;
checked by content and size, images stripped of EXIF, stored sealed under a random name, shown to the reviewer
beside the application and to nobody outside the application's own people (404)."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from huanxin.core import pii
from huanxin.core.models import AuditEvent
from huanxin.core.roles import Role
from huanxin.subsidies import evidence
from huanxin.subsidies.models import Application, Evidence
from huanxin.subsidies.review import decide
from tests.factories import UserFactory, user_with_role
from tests.subsidies.test_pages_and_api import citizens_form
from tests.subsidies.test_pages_and_api import programme as programme

pytestmark = pytest.mark.django_db


def jpeg(width: int = 64, height: int = 48) -> bytes:
    """A phone's photo: with EXIF naming the camera (and, on a real phone, where it was taken)."""
    image = Image.new("RGB", (width, height), (200, 40, 40))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0131] = "SecretCam 1.0"  # Software
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (20, 20), (0, 90, 200)).save(out, "PNG")
    return out.getvalue()


PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def upload(name: str, content: bytes, content_type: str = "application/octet-stream") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type)


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def citizen(plan):
    return UserFactory(role=Role.CITIZEN, verified_name="林芳", verified_phone="13912345678")


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_files_given_with_the_form_are_sealed_and_shown_to_the_reviewer(citizen, programme, media) -> None:
    client = logged_in(citizen)
    form = citizens_form(
        evidence_invoice=[upload("发票.pdf", PDF), upload("林芳的发票.jpg", jpeg())],
        evidence_old_item=upload("old.PNG", png()),
    )
    done = client.post(f"/subsidies/apply/{programme.code}/", form)
    application = Application.objects.get()
    assert done["Location"] == f"/subsidies/applications/{application.number}/"
    files = list(Evidence.objects.filter(application=application).order_by("pk"))
    assert [(f.kind, f.content_type) for f in files] == [
        ("invoice", "application/pdf"),
        ("invoice", "image/jpeg"),
        ("old_item", "image/png"),
    ]
    stored = files[1].file.path
    assert "林芳" not in stored and files[1].token in stored  # a random name, nothing of the uploader's
    raw = open(stored, "rb").read()  # noqa: SIM115
    assert not raw.startswith(b"\xff\xd8") and b"PhoneMaker" not in raw  # sealed at rest
    served = evidence.content_of(files[1])
    assert served.startswith(b"\xff\xd8") and b"PhoneMaker" not in served and b"SecretCam" not in served
    assert Image.open(io.BytesIO(served)).size == (64, 48)
    assert evidence.content_of(files[0]) == PDF  # a PDF is kept as given
    event = AuditEvent.objects.get(action="subsidies.evidence_attached")
    assert [f["kind"] for f in event.changes["files"]] == ["invoice", "invoice", "old_item"]

    reviewer = logged_in(user_with_role(Role.REVIEWER))
    page = reviewer.get(f"/subsidies/applications/{application.number}/").content.decode()
    assert f'src="/subsidies/evidence/{files[1].pk}/"' in page and "旧物照片" in page
    image = reviewer.get(f"/subsidies/evidence/{files[1].pk}/")
    assert image.status_code == 200 and image["Content-Type"] == "image/jpeg"
    assert image["Content-Disposition"].startswith("inline") and "sandbox" in image["Content-Security-Policy"]
    assert image["Cache-Control"] == "private, no-store" and image.content == served
    pdf = client.get(f"/subsidies/evidence/{files[0].pk}/")
    assert pdf["Content-Disposition"] == f'attachment; filename="{application.number}-{files[0].pk}.pdf"'


@pytest.mark.parametrize(
    ("name", "content", "code_text"),
    [
        ("发票.pdf", b"<html><script>alert(1)</script></html>", "内容不是PDF"),  # HTML named .pdf
        ("照片.jpg", png(), "扩展名"),  # a PNG named .jpg: decoded, not trusted by its name
        ("照片.gif", b"GIF89a" + b"\0" * 20, "不支持的文件类型"),
        ("发票.exe", b"MZ" + b"\0" * 20, "不支持的文件类型"),
        ("照片.jpg", b"\xff\xd8\xff\xe0" + b"\0" * 40, "图片已损坏"),  # a JPEG's first bytes, then nothing
        ("大.pdf", b"%PDF-1.4\n" + b"0" * (evidence.MAX_BYTES + 1), "超过5MB"),
    ],
)
def test_a_bad_file_refuses_the_form_and_nothing_is_submitted(citizen, programme, name, content, code_text) -> None:
    page = logged_in(citizen).post(
        f"/subsidies/apply/{programme.code}/", citizens_form(evidence_invoice=upload(name, content))
    )
    assert page.status_code == 200
    assert code_text in page.content.decode() and "第1个文件（购买发票）" in page.content.decode()
    assert not Application.objects.exists() and not Evidence.objects.exists()


def test_at_most_five_files_an_application(citizen, programme) -> None:
    client = logged_in(citizen)
    six = citizens_form(evidence_invoice=[upload(f"{n}.pdf", PDF) for n in range(6)])
    assert "最多上传5个" in client.post(f"/subsidies/apply/{programme.code}/", six).content.decode()
    assert not Application.objects.exists()
    client.post(
        f"/subsidies/apply/{programme.code}/",
        citizens_form(evidence_invoice=[upload(f"a{n}.pdf", PDF) for n in range(4)]),
    )
    application = Application.objects.get()
    url = f"/subsidies/applications/{application.number}/evidence/"
    client.post(url, {"evidence_old_item": [upload("b.png", png()), upload("c.png", png())]})
    assert Evidence.objects.count() == 4  # two would make six: refused whole
    client.post(url, {"evidence_old_item": upload("b.png", png())})
    assert Evidence.objects.count() == 5
    assert "补传旧物照片" not in client.get(f"/subsidies/applications/{application.number}/").content.decode()


def test_nobody_else_fetches_or_adds_evidence(citizen, programme) -> None:
    client = logged_in(citizen)
    client.post(f"/subsidies/apply/{programme.code}/", citizens_form(evidence_invoice=upload("a.jpg", jpeg())))
    application = Application.objects.get()
    file = Evidence.objects.get()
    url = f"/subsidies/evidence/{file.pk}/"
    assert client.get(url).status_code == 200
    stranger = logged_in(UserFactory(role=Role.CITIZEN))
    assert stranger.get(url).status_code == 404
    assert logged_in(user_with_role(Role.MERCHANT)).get(url).status_code == 404
    assert stranger.post(f"/subsidies/applications/{application.number}/evidence/").status_code == 404
    assert Client().get(url).status_code == 302  # to the login page
    assert stranger.get(f"/subsidies/evidence/{file.pk + 1}/").status_code == 404

    reviewer = user_with_role(Role.REVIEWER)  # sees it, adds nothing: the applicant's evidence is the applicant's
    logged_in(reviewer).post(
        f"/subsidies/applications/{application.number}/evidence/", {"evidence_invoice": upload("r.pdf", PDF)}
    )
    assert Evidence.objects.count() == 1
    decide(actor=reviewer, application=application, decision="approve")
    done = client.post(
        f"/subsidies/applications/{application.number}/evidence/", {"evidence_invoice": upload("x.pdf", PDF)}
    )
    assert done.status_code == 302 and Evidence.objects.count() == 1  # decided: nothing more to add
    assert pii.open_bytes(open(file.file.path, "rb").read()).startswith(b"\xff\xd8")  # noqa: SIM115
