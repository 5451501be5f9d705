"""Background jobs in the demo: the merchant's batch file of the day, processed by a worker, waiting in their 待办
with its result file; and the first run of the daily checks, for the auditor's 定期校验 page."""

from __future__ import annotations

import random
from typing import TextIO

from django.core.management.base import OutputWrapper
from django.utils import timezone

from huanxin.core.models import User
from huanxin.demo import identities
from huanxin.jobs.models import Job
from huanxin.jobs.worker import run_worker
from huanxin.subsidies import batch, batch_job
from huanxin.subsidies.models import Programme

ROWS = 40
FILENAME = "今日销售（批量申请）.csv"


def build(stdout: TextIO | OutputWrapper) -> None:
    merchant = User.objects.get(username="shanghu")
    if not Job.objects.filter(owner=merchant, kind=batch_job.KIND).exists():
        batch_job.start(actor=merchant, name=FILENAME, content_type="text/csv", data=_sales_file())
    run_worker(batch=True)  # the queue as `huanxin worker` would leave it; the periodic checks start with it
    stdout.write(f"后台任务演示数据：{Job.objects.count()} 个任务（商户的批量申请文件、每日校验）\n")


def _sales_file() -> bytes:
    """A day's sales at the till, one of them with a mistyped ID number: refused with its reason, the rest kept."""
    rng = random.Random(2031)  # noqa: S311 - demo data, not security
    today = timezone.localdate().isoformat()
    programme = Programme.objects.filter(category="appliance").order_by("-opens_on").values_list("code", flat=True)[0]
    lines = [",".join(batch.HEADERS[:12])]
    for i in range(ROWS):
        resident_id = identities.resident_id(rng)
        if i == 17:
            resident_id = resident_id[:-1] + ("0" if resident_id[-1] != "0" else "1")  # a wrong check digit
        model = rng.choice(["海尔BCD-501", "美的KFR-35GW", "海信65E5N", "格力KFR-26GW"])
        kind = {"海尔BCD-501": "refrigerator", "美的KFR-35GW": "air_conditioner", "海信65E5N": "tv"}.get(
            model, "air_conditioner"
        )
        price = rng.choice(["3999.00", "2899.00", "4599.00", "3299.00"])
        row = [
            f"PL{timezone.localdate():%Y%m%d}{i:03d}",
            programme,
            identities.name(rng),
            resident_id,
            identities.phone(rng),
            kind,
            model,
            f"SN{rng.randrange(10**8):08d}",
            "1",
            f"{rng.randrange(10**11, 10**12)}",
            today,
            price,
        ]
        lines.append(",".join(row))
    return ("\n".join(lines) + "\n").encode()
