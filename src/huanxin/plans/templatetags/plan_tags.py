from __future__ import annotations

from django import template
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString, mark_safe

from huanxin.plans import selectors
from huanxin.plans.models import Indicator, Measure, Responsibility

register = template.Library()


@register.filter
def responsible(measure: Measure) -> list[Responsibility]:
    """Distinct departments of a measure, lead first (needs `measures_with_departments` prefetching)."""
    return selectors.measure_departments(measure)


@register.filter
def indicator_departments(indicator: Indicator) -> list[Responsibility]:
    return selectors.indicator_departments(indicator)


@register.filter
def highlight(text: str, query: str) -> SafeString:
    """Escape `text` and wrap each word of `query` in <mark>."""
    out = str(conditional_escape(text))
    for word in (query or "").split():
        escaped = str(conditional_escape(word))
        if escaped:
            out = out.replace(escaped, str(format_html("<mark>{}</mark>", word)))
    return mark_safe(out)  # noqa: S308 - built from escaped parts only


@register.filter
def field_error(errors: dict[str, str] | None, key: str) -> str:
    """A form's message for one field ({field: message}, as core.views.form_errors gives), "" when none."""
    return (errors or {}).get(str(key), "")


@register.simple_tag
def key(prefix: str, n: int, name: str) -> str:
    """A row field's name in the import forms: c0-lead, t2-target."""
    return f"{prefix}{n}-{name}"
