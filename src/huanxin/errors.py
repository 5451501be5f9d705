"""The site's own error pages, in its frame and in Chinese, also while developing.

In production Django renders 400.html, 403.html, 404.html and 500.html through its handlers (`handler400` below
gives the 400 page the request, so the frame shows who is logged in). With DEBUG on (`make run`) Django answers a
404 and a 400 with its technical pages instead; `DebugErrorPagesMiddleware` renders ours then, so what a person
sees while trying the site is what they will see in production. A real exception still gets Django's technical
500 page in DEBUG: that one is for the developer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import BadRequest, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse
from django.template import loader
from django.urls import Resolver404, get_resolver

BAD_REQUEST = "提交的内容无法处理，请检查后重新提交。"


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """handler400: the 400 page with the request (Django's own renders it without one). The reason is never the
    exception's text: a SuspiciousOperation's message names headers and hosts, not something to show."""
    html = loader.render_to_string("400.html", {"reason": BAD_REQUEST}, request)
    return HttpResponse(html, status=400)


def page_not_found(request: HttpRequest) -> HttpResponse:
    html = loader.render_to_string("404.html", {"request_path": request.path}, request)
    return HttpResponse(html, status=404)


class DebugErrorPagesMiddleware:
    """DEBUG only (a no-op otherwise): our 404 for an address no route matches and for Http404 raised by a view,
    our 400 for BadRequest and SuspiciousOperation. The API keeps its own JSON answers."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if settings.DEBUG and not _is_api(request):
            # An unknown address fails in URL resolution, before any view or process_exception: resolve it here.
            try:
                get_resolver(getattr(request, "urlconf", None)).resolve(request.path_info)
            except Resolver404:
                return page_not_found(request)
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not settings.DEBUG or _is_api(request):
            return None
        if isinstance(exception, Http404):
            return page_not_found(request)
        if isinstance(exception, (BadRequest, SuspiciousOperation)):
            if isinstance(exception, SuspiciousOperation):  # logged as Django would have
                name = f"django.security.{exception.__class__.__name__}"
                logging.getLogger(name).error("%s", exception.__class__.__name__)
            return bad_request(request, exception)
        return None


def _is_api(request: HttpRequest) -> bool:
    return request.path_info.startswith("/api/")
