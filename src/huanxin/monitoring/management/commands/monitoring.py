from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from huanxin.monitoring import ledgers, services
from huanxin.monitoring.models import IndicatorSetting
from huanxin.monitoring.periods import PeriodRef
from huanxin.plans.models import Indicator, Plan

DATA = Path(__file__).resolve().parents[2] / "data"
DEFAULT_FILE = DATA / "zhangjiakou-2024.yaml"
DEFAULT_LEDGERS = DATA / "ledgers-zhangjiakou-2024.yaml"
ALLOWED = {"frequency", "by_county", "aggregation", "value_unit", "source", "metric"}


class Command(BaseCommand):
    help = "监测设置。`huanxin monitoring setup [FILE]` 按文件为方案的量化指标建立填报设置（已有的不改动）。"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        setup = sub.add_parser("setup", help="为量化指标建立监测设置")
        setup.add_argument("file", nargs="?", default=str(DEFAULT_FILE))
        ledgers_cmd = sub.add_parser("ledgers", help="载入工作台账类型定义（可重复运行）")
        ledgers_cmd.add_argument("file", nargs="?", default=str(DEFAULT_LEDGERS))
        derive = sub.add_parser("derive", help="由业务数据生成派生指标的数值")
        derive.add_argument("periods", nargs="*", help="期间，如 2025-Q2；缺省为各频次最近已结束的期间")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "ledgers":
            try:
                changed = ledgers.load_kinds(path=Path(options["file"]))
            except ValidationError as exc:
                raise CommandError("；".join(exc.messages)) from exc
            self.stdout.write(self.style.SUCCESS(f"台账类型：更新 {changed} 项"))
            return
        if options["action"] == "derive":
            self._derive(options["periods"])
            return
        path = Path(options["file"])
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        plan = Plan.objects.filter(code=data["plan"]).first()
        if plan is None:
            raise CommandError(f"方案 {data['plan']} 尚未载入：先运行 huanxin plan load")
        if data.get("ledgers"):
            try:
                ledgers.load_kinds(path=path.parent / data["ledgers"])
            except ValidationError as exc:
                raise CommandError("；".join(exc.messages)) from exc
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

    def _derive(self, codes: list[str]) -> None:
        """The same function as the monthly `derive_indicators` job (monitoring/jobs.py)."""
        try:
            refs = [PeriodRef.parse(code) for code in codes]
            derived = services.derive_periods(refs=refs)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        except ValidationError as exc:
            raise CommandError("；".join(exc.messages)) from exc
        for ref, changed in derived:
            self.stdout.write(f"{ref.label}: 更新 {changed} 个派生数值")
