from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from huanxin.monitoring import services
from huanxin.monitoring.models import IndicatorSetting
from huanxin.plans.models import Indicator, Plan

DEFAULT_FILE = Path(__file__).resolve().parents[2] / "data" / "zhangjiakou-2024.yaml"
ALLOWED = {"frequency", "by_county", "aggregation", "value_unit", "source", "metric"}


class Command(BaseCommand):
    help = "监测设置。`huanxin monitoring setup [FILE]` 按文件为方案的量化指标建立填报设置（已有的不改动）。"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        setup = sub.add_parser("setup", help="为量化指标建立监测设置")
        setup.add_argument("file", nargs="?", default=str(DEFAULT_FILE))

    def handle(self, *args: Any, **options: Any) -> None:
        data = yaml.safe_load(Path(options["file"]).read_text(encoding="utf-8"))
        plan = Plan.objects.filter(code=data["plan"]).first()
        if plan is None:
            raise CommandError(f"方案 {data['plan']} 尚未载入：先运行 huanxin plan load")
        created = 0
        with transaction.atomic():
            for code, fields in data["indicators"].items():
                indicator = Indicator.objects.filter(plan=plan, code=code).first()
                if indicator is None:
                    raise CommandError(f"方案中没有指标 {code}")
                unknown = set(fields or {}) - ALLOWED
                if unknown:
                    raise CommandError(f"{code}: 未知字段 {sorted(unknown)}")
                if IndicatorSetting.objects.filter(indicator=indicator).exists():
                    continue
                try:
                    services.configure_indicator(actor=None, indicator=indicator, **(fields or {}))
                except ValidationError as exc:
                    raise CommandError(f"{code}: {'；'.join(exc.messages)}") from exc
                created += 1
        missing = plan.indicators.exclude(kind="qualitative").filter(setting__isnull=True)
        if missing.exists():
            self.stderr.write("未设置监测的量化指标：" + "、".join(i.code for i in missing))
        self.stdout.write(self.style.SUCCESS(f"{plan.code}: 新建 {created} 项监测设置"))
