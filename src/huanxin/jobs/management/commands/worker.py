from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from huanxin.jobs.worker import identity, run_worker


class Command(BaseCommand):
    help = "运行后台任务（批量导入、导出、定期校验）；可在多台机器上各运行多个"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch", action="store_true", help="处理完排队中的任务后退出")
        parser.add_argument("--interval", type=float, default=0.5, help="无任务时的轮询间隔（秒）")

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(f"后台任务进程 {identity()} 已启动")
        run_worker(batch=options["batch"], interval=max(0.05, min(options["interval"], 60.0)))
