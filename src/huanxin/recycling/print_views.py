"""A certificate to print: one A4 page with its fields, the issuing site and a QR code to the public check.

The QR code is drawn on the server (segno) as inline SVG: the page's CSP allows no inline script, and an image
service would be a request to the internet. For the issuer (the recycler that issued it, or the task force that
entered it for one) it encodes the verification page with the number and the verification code, so whoever scans
the paper sees the check's answer at once; an official who is not the issuer never sees the code (as on the
certificate's page), so the copy it prints links to the check with the number only and says so.
"""

from __future__ import annotations

from urllib.parse import urlencode

import segno
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe

from huanxin.core.roles import is_task_force
from huanxin.core.views import get_visible_or_404
from huanxin.recycling.models import Certificate
from huanxin.recycling.views import _is_recycler


def qr_svg(text: str, *, title: str) -> SafeString:
    """`text` as a QR code in SVG markup, sized by CSS (no width or height: the print stylesheet sets millimetres).
    Error correction M (15%): a stamp or a fold across the code still scans. segno escapes the title."""
    code = segno.make(text, error="m", micro=False)
    return mark_safe(code.svg_inline(scale=1, border=2, omitsize=True, title=title, svgclass="qr"))  # noqa: S308


def issued_by_viewer(request: HttpRequest, certificate: Certificate) -> bool:
    """The certificate's own recycler, or the task force for one it entered (代录): those see the code."""
    user = request.user
    own = _is_recycler(user) and user.organisation_id == certificate.organisation_id  # type: ignore[union-attr]
    return own or (is_task_force(user) and certificate.proxy_entered_by_id is not None)


def certificate_print(request: HttpRequest, number: str) -> HttpResponse:
    certificate = get_visible_or_404(
        Certificate.objects.visible_to(request.user).select_related("site", "organisation", "region", "site__region"),
        number=number,
    )
    issuer = issued_by_viewer(request, certificate)
    query = {"number": certificate.number, **({"code": certificate.verify_code} if issuer else {})}
    verify_url = request.build_absolute_uri(reverse("recycling:verify") + "?" + urlencode(query))
    return render(
        request,
        "recycling/certificate_print.html",
        {
            "c": certificate,
            "issuer": issuer,
            "verify_url": verify_url,
            "qr": qr_svg(verify_url, title=f"扫码核验{certificate.get_kind_display()}{certificate.number}"),
        },
    )
