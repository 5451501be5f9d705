from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from huanxin.recycling import services

DEFAULT_TOWNSHIPS = Path(__file__).resolve().parents[2] / "data" / "townships-zhangjiakou.yaml"


class Command(BaseCommand):
    help = "回收网络。`huanxin recycling townships [FILE]` 载入各县区的乡镇（街道）名单（可重复运行）。"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        townships = sub.add_parser("townships", help="载入乡镇（街道）名单")
        townships.add_argument("file", nargs="?", default=str(DEFAULT_TOWNSHIPS))

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise CommandError(f"无法读取 {path}：{exc}") from exc
        if not isinstance(data, dict) or not all(isinstance(v, list) for v in data.values()):
            raise CommandError("文件格式应为：县区代码: [乡镇名称, …]")
        try:
            added = services.load_townships(actor=None, data={str(k): v for k, v in data.items()})
        except ValidationError as exc:
            raise CommandError("；".join(exc.messages)) from exc
        self.stdout.write(f"新增乡镇（街道）{added}个")
