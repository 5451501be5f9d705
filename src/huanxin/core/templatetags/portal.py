"""The portal's frame from settings: `{% load portal %}{% portal_site as site %}` gives the site's name, emblem,
主办单位, 备案号 and hotline (HUANXIN_SITE_NAME …, settings.py). A tag rather than a context processor so that
the standalone 500 page, rendered without a request, carries the same footer."""

from __future__ import annotations

from dataclasses import dataclass

from django import template
from django.conf import settings

register = template.Library()


@dataclass(frozen=True)
class Site:
    name: str
    owner: str
    icp: str
    hotline: str
    emblem: str  # a static file's path, or "" for the text mark


@register.simple_tag
def portal_site() -> Site:
    return Site(
        name=settings.HUANXIN_SITE_NAME,
        owner=settings.HUANXIN_SITE_OWNER,
        icp=settings.HUANXIN_ICP,
        hotline=settings.HUANXIN_HOTLINE,
        emblem=settings.HUANXIN_EMBLEM,
    )
