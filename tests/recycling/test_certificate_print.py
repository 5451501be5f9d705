"""A certificate to print: each kind's fields, the issuing site and a QR code to the public check; the code for the
issuer only (an official prints a copy without it); personal data masked as on the certificate's page; reached
from the certificate's page; the public check the QR code opens answers as before."""

from __future__ import annotations

import datetime as dt
import html
import re
from typing import Any
from urllib.parse import urlencode

import pytest
from django.test import Client

from huanxin.core.roles import Role
from huanxin.demo import identities
from huanxin.recycling import services
from huanxin.recycling.models import Certificate
from huanxin.recycling.print_views import qr_svg
from tests.factories import UserFactory, user_with_role
from tests.recycling.conftest import recycler_org

pytestmark = pytest.mark.django_db
TODAY = dt.date(2025, 6, 10)
OWNER_ID = "130722195003040015"  # a made-up resident ID of 张北县 (valid check digit)


def logged_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def certificates(recycler, site, dismantler, rng) -> dict[str, Certificate]:
    common = {"owner_name": "赵建国", "today": TODAY}
    return {
        "vehicle": services.issue_certificate(
            actor=recycler,
            kind="vehicle",
            site=dismantler,
            category="car",
            owner_id=identities.resident_id(rng),
            vin=identities.vin(rng),
            plate="冀G12345",
            vehicle_type="小型普通客车",
            fuel="petrol",
            emission_standard="国三",
            registered_on=dt.date(2010, 5, 1),
            **common,
        ),
        "take_back": services.issue_certificate(
            actor=recycler, kind="take_back", site=site, category="refrigerator", serial="BCD-215 0001", **common
        ),
        "data_wipe": services.issue_certificate(
            actor=recycler,
            kind="data_wipe",
            site=site,
            category="phone",
            serial="86123405678901",
            wipe_method="恢复出厂设置并三次覆写",
            owner_id=OWNER_ID,
            **common,
        ),
    }


def verify_url(c: Certificate, *, code: bool) -> str:
    query = {"number": c.number, **({"code": c.verify_code} if code else {})}
    return "http://testserver/recycling/verify/?" + urlencode(query)


def test_the_issuer_prints_each_kind_with_its_fields_site_and_qr_code(recycler, certificates) -> None:
    client = logged_in(recycler)
    for kind, c in certificates.items():
        response = client.get(f"/recycling/certificates/{c.number}/print/")
        assert response.status_code == 200, kind
        page = response.content.decode()
        assert c.get_kind_display() in page and c.number in page and c.verify_code in page
        assert c.site.name in page and c.site.address in page and c.organisation.name in page
        assert "2025年6月10日" in page
        url = verify_url(c, code=True)
        assert html.escape(url) in page
        # the QR code is the verification page with the number and the code, drawn inline (no image to fetch)
        assert str(qr_svg(url, title=f"扫码核验{c.get_kind_display()}{c.number}")) in page
        assert '<svg viewBox="0 0 ' in page and "<img" not in page
        assert "赵建国" not in page and "赵**" in page  # the owner as on the certificate's page: masked
        assert "存档副本" not in page
    vehicle = client.get(f"/recycling/certificates/{certificates['vehicle'].number}/print/").content.decode()
    assert certificates["vehicle"].vin in vehicle and "冀G12345" not in vehicle and "冀G****5" in vehicle
    assert "冀报废回收（张）001" in vehicle and "小型普通客车" in vehicle and "国三" in vehicle
    wipe = client.get(f"/recycling/certificates/{certificates['data_wipe'].number}/print/").content.decode()
    assert "86123405678901" in wipe and "恢复出厂设置并三次覆写" in wipe
    assert OWNER_ID not in wipe and "130722********0015" in wipe
    take_back = client.get(f"/recycling/certificates/{certificates['take_back'].number}/print/").content.decode()
    assert "BCD-215 0001" in take_back and "冰箱" in take_back


def test_an_official_prints_a_copy_without_the_code(certificates) -> None:
    c = certificates["vehicle"]
    for role in (Role.AUDITOR, Role.TASK_FORCE):
        page = logged_in(user_with_role(role)).get(f"/recycling/certificates/{c.number}/print/").content.decode()
        assert c.number in page and c.verify_code not in page and "存档副本" in page
        assert html.escape(verify_url(c, code=False)) in page


def test_only_those_who_see_the_certificate_print_it(certificates, zhangbei) -> None:
    c = certificates["take_back"]
    url = f"/recycling/certificates/{c.number}/print/"
    other = UserFactory(role=Role.RECYCLER, organisation=recycler_org(zhangbei, "另一家回收公司"))
    assert logged_in(other).get(url).status_code == 404
    assert logged_in(UserFactory(role=Role.CITIZEN)).get(url).status_code == 404
    assert Client().get(url).status_code == 302  # to the log-in page
    assert logged_in(other).get("/recycling/certificates/NO-SUCH/print/").status_code == 404


def test_a_revoked_certificate_prints_as_void(recycler, certificates) -> None:
    c = services.revoke_certificate(actor=recycler, certificate=certificates["take_back"], reason="所有人信息有误")
    page = logged_in(recycler).get(f"/recycling/certificates/{c.number}/print/").content.decode()
    assert "本证明已作废：所有人信息有误" in page and "cert-revoked" in page


def test_reached_from_the_certificates_page_and_the_qr_target_answers(recycler, certificates) -> None:
    c = certificates["vehicle"]
    detail = logged_in(recycler).get(f"/recycling/certificates/{c.number}/").content.decode()
    assert f'href="/recycling/certificates/{c.number}/print/"' in detail
    assert "此证明的审计记录" not in detail
    auditor_detail = logged_in(user_with_role(Role.AUDITOR)).get(f"/recycling/certificates/{c.number}/")
    assert f"/audit/?object_type=recycling.certificate&amp;object_id={c.pk}" in auditor_detail.content.decode()
    checked = Client().get(verify_url(c, code=True).removeprefix("http://testserver"))  # what the phone opens
    assert checked.status_code == 200 and "证明有效" in checked.content.decode()
    number_only = Client().get(verify_url(c, code=False).removeprefix("http://testserver")).content.decode()
    assert f'value="{c.number}"' in number_only and "证明有效" not in number_only  # the form, ready for the code


def test_the_page_keeps_the_csp(recycler, certificates) -> None:
    c = certificates["data_wipe"]
    response = logged_in(recycler).get(f"/recycling/certificates/{c.number}/print/")
    page = response.content.decode()
    assert "'unsafe-inline'" not in response["Content-Security-Policy"].split("script-src")[1].split(";")[0]
    assert re.findall(r"<script(?![^>]*\bsrc=)", page) == []  # no inline script: printing is app.js's data-print
    assert "data-print" in page and " style=" not in page.split('id="cert-sheet"')[1]
