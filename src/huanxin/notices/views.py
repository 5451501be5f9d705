"""消息: a person's messages about their applications and bookings, newest first; opening the page reads them."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from huanxin.core.views import actor
from huanxin.notices import notify
from huanxin.notices.models import Message

LINKS: dict[str, str] = {
    Message.Subject.APPLICATION: "subsidies:application",
    Message.Subject.BOOKING: "recycling:booking",
}


def messages_page(request: HttpRequest) -> HttpResponse:
    user = actor(request)
    page = Paginator(Message.objects.filter(user=user), 20).get_page(request.GET.get("page"))
    rows = [
        (m, notify.title(m.event), reverse(LINKS[m.subject_kind], args=[m.subject]) if m.subject_kind in LINKS else "")
        for m in page.object_list
    ]
    unread = [m.pk for m, _, _ in rows if m.read_at is None]
    response = render(request, "notices/messages.html", {"page": page, "rows": rows, "unread": set(unread)})
    notify.mark_read(user=user, ids=unread)  # after rendering: this page still shows which were new
    return response
