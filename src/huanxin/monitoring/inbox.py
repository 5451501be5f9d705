from __future__ import annotations

import datetime as dt
from typing import Any

from django.urls import reverse
from django.utils import timezone

from huanxin.core import inbox
from huanxin.core.roles import is_task_force
from huanxin.monitoring import selectors
from huanxin.monitoring.models import REPORTING_WINDOW_DAYS, IndicatorValue, Period


@inbox.provider
def reporting_items(user: Any) -> list[inbox.Item]:
    items = []
    if is_task_force(user):
        waiting = IndicatorValue.objects.visible_to(user).filter(status=IndicatorValue.Status.SUBMITTED).count()
        items.append(inbox.Item("待审核的填报数值", waiting, reverse("monitoring:review")))
    department = getattr(user, "department", None)
    if department is not None:
        mine = IndicatorValue.objects.visible_to(user).filter(indicator__setting__reporting_department=department)
        returned = mine.filter(status=IndicatorValue.Status.RETURNED).count()
        items.append(inbox.Item("被退回待修改的数值", returned, reverse("monitoring:report"), "bad"))
        items.extend(_missing(user))
    return items


def _missing(user: Any) -> list[inbox.Item]:
    """Rows of the latest open period(s) this department has not yet submitted, once the period is due."""
    today = timezone.localdate()
    items = []
    frequencies = set(selectors.reporting_settings(user=user).values_list("frequency", flat=True))
    for frequency in sorted(frequencies):
        ref = selectors.latest_open_period(selectors.Frequency(frequency), today)
        period = Period.objects.filter(code=ref.code).first()
        rows = selectors.entry_sheet(user=user, period=period, frequency=frequency)
        open_rows = sum(1 for row in rows if row.value is None or row.value.status == IndicatorValue.Status.DRAFT)
        due_on = ref.end + dt.timedelta(days=REPORTING_WINDOW_DAYS)
        tone: inbox.Tone = "bad" if today > due_on else "warn"
        label = f"{ref.label}未报送（截止{due_on:%m月%d日}）"
        items.append(inbox.Item(label, open_rows, reverse("monitoring:report") + f"?period={ref.code}", tone))
    return items
