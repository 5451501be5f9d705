"""The "API 令牌" page: a merchant's, recycler's or enterprise's own tokens, a form to issue one, revoke buttons.

One URL: GET lists; POST with action=create issues a token and shows its key in the response (only there, never
in the session or a redirect); POST with action=revoke revokes one of the user's tokens and redirects.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache

from huanxin.core import tokens
from huanxin.core.models import ApiToken
from huanxin.core.views import actor, get_visible_or_404

STATUS_LABELS = {"active": "有效", "expired": "已过期", "revoked": "已吊销"}


def _errors(exc: ValidationError) -> dict[str, str]:
    if hasattr(exc, "error_dict"):
        return {("form" if k == "__all__" else k): "；".join(v) for k, v in exc.message_dict.items()}
    return {"form": "；".join(exc.messages)}


def _expiry(value: str) -> dt.datetime | None:
    """A date from the form: the token works through the end of that day (Asia/Shanghai)."""
    day = dt.date.fromisoformat(value.strip())
    return timezone.make_aware(dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min))


@never_cache
def token_list(request: HttpRequest) -> HttpResponse:
    user = actor(request)
    if not tokens.may_hold_tokens(user):
        raise PermissionDenied("只有商户、回收企业和企业用户可以使用 API 令牌")
    form: dict[str, str] = {"name": "", "expires_on": ""}
    errors: dict[str, str] = {}
    new_key = ""
    new_token: ApiToken | None = None
    status = 200
    if request.method == "POST":
        action = request.POST.get("action", "")
        if action == "revoke":
            pk = request.POST.get("token", "")
            token = get_visible_or_404(
                ApiToken.objects.visible_to(user).filter(user=user), pk=int(pk) if pk.isdigit() else 0
            )
            tokens.revoke_token(actor=user, token=token)
            messages.success(request, f"令牌“{token.name}”（{token.prefix}…）已吊销，使用它的系统将无法再调用接口。")
            return redirect("tokens")
        if action == "create":
            form = {"name": request.POST.get("name", ""), "expires_on": request.POST.get("expires_on", "")}
            try:
                expires_at = _expiry(form["expires_on"]) if form["expires_on"].strip() else None
            except ValueError:
                errors = {"expires_on": "日期格式不正确"}
            else:
                try:
                    new_token, new_key = tokens.issue_token(actor=user, name=form["name"], expires_at=expires_at)
                except ValidationError as exc:
                    errors = _errors(exc)
                    if "expires_at" in errors:
                        errors["expires_on"] = errors.pop("expires_at")
                else:
                    form = {"name": "", "expires_on": ""}
            if errors:
                status = 400
    now = timezone.now()
    rows: list[dict[str, Any]] = []
    for token in ApiToken.objects.visible_to(user).filter(user=user):
        state = token.status_at(now)
        rows.append({"token": token, "status": state, "status_label": STATUS_LABELS[state]})
    context = {
        "rows": rows,
        "form": form,
        "errors": errors,
        "new_key": new_key,
        "new_token": new_token,
        "limit": tokens.MAX_LIVE_TOKENS,
        "live_count": sum(1 for row in rows if row["status"] == "active"),
        "api_base": request.build_absolute_uri("/api/v1/"),
    }
    return render(request, "core/tokens.html", context, status=status)
