"""Where a form may send the browser afterwards. A `next` taken from the request is followed only when it stays
on this site (Django's `url_has_allowed_host_and_scheme`: same host, no scheme-relative `//host` or `/\\host`, no
`javascript:`), so no page can be used to send someone elsewhere.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponseRedirect
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme


def safe_next(request: HttpRequest, value: str | None) -> str:
    """`value` if it is a path or URL of this site (same host, and https when the request is), else ""."""
    value = (value or "").strip()
    if value and url_has_allowed_host_and_scheme(
        value, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return value
    return ""


def next_from(request: HttpRequest) -> str:
    """The request's own `next` (the form's, else the query string's) when it is safe, else ""."""
    return safe_next(request, request.POST.get("next") or request.GET.get("next"))


def redirect_next(request: HttpRequest, default: str) -> HttpResponseRedirect:
    """Redirect to the request's `next` when it is safe, else to `default` (a URL or a URL name). The `next` goes
    out as a URL as it is: given to `redirect`, a bare word such as "NaN" would be looked up as a view name and
    fail with a 500."""
    if target := next_from(request):
        return HttpResponseRedirect(target)
    return redirect(default)
