"""The 实名认证 page: a citizen verifies their account once (core/identity.py), then goes back where they were.

`verify_first` is what a page that needs a verified citizen answers an unverified one with: a redirect here with
`next` set to where they were. `next` is followed only when it stays on this site (core/redirects.py).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache

from huanxin.core import identity
from huanxin.core.redirects import next_from
from huanxin.core.views import actor, form_errors

FIELDS = ("name", "resident_id", "phone")
STAND_IN = "huanxin.core.identity.LocalIdentityProvider"


def verify_first(request: HttpRequest) -> HttpResponse:
    """Send an unverified citizen to 实名认证, to come back to this page afterwards."""
    messages.info(request, "申请补贴须以本人实名进行，请先完成实名认证。")
    return redirect(f"{reverse('identity')}?{urlencode({'next': request.get_full_path()})}")


@never_cache
def verify_page(request: HttpRequest) -> HttpResponse:
    user = actor(request)
    if not identity.may_verify(user):
        raise PermissionDenied("实名认证面向居民个人账户；商户、企业和工作人员的账户代表所在单位，无需实名认证")
    next_url = next_from(request)
    form: dict[str, Any] = {"name": "", "resident_id": "", "phone": user.phone, "consent": False}
    errors: dict[str, str] = {}
    if request.method == "POST" and not user.identity_verified:
        form = {name: request.POST.get(name, "") for name in FIELDS}
        form["consent"] = request.POST.get("consent") == "on"  # kept ticked when a refusal shows the form again
        if not form["consent"]:
            errors = {"consent": "请阅读并勾选同意后再提交"}
        else:
            try:
                identity.verify_identity(
                    actor=user, name=form["name"], resident_id=form["resident_id"], phone=form["phone"]
                )
            except (ValidationError, PermissionDenied) as exc:
                errors = form_errors(exc)
            else:
                messages.success(request, "实名认证成功，申请补贴时将使用您的实名信息。")
                return redirect(next_url or "subsidies:home")
    context: dict[str, Any] = {
        "form": form,
        "errors": errors,
        "next": next_url,
        "stand_in": settings.HUANXIN_IDENTITY_PROVIDER == STAND_IN,
    }
    return render(request, "core/identity.html", context, status=400 if errors else 200)
