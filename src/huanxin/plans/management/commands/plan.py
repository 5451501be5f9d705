from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import ProtectedError

from huanxin.plans import services
from huanxin.plans.loader import PlanFileError, iter_measures, read_plan_file

DEFAULT_PLAN = Path(__file__).resolve().parents[2] / "data" / "zhangjiakou-2024.yaml"


class Command(BaseCommand):
    help = "载入或校验实施方案文件（YAML）。Load or validate a plan file."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        load = sub.add_parser("load", help="校验并载入方案（幂等：重复载入不做修改）")
        load.add_argument("file", nargs="?", default=str(DEFAULT_PLAN))
        check = sub.add_parser("validate", help="只校验，不写数据库")
        check.add_argument("file", nargs="?", default=str(DEFAULT_PLAN))

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        if not path.exists():
            raise CommandError(f"找不到文件 {path}")
        try:
            if options["action"] == "validate":
                parsed, _raw = read_plan_file(path)
                n = sum(1 for _ in iter_measures(parsed.sections))
                self.stdout.write(self.style.SUCCESS(f"{path.name}: 校验通过（{n} 项举措）"))
                return
            report = services.load_plan_file(path=path)
        except PlanFileError as exc:
            raise CommandError(str(exc)) from exc
        except ProtectedError as exc:
            raise CommandError(f"载入失败，未做任何修改：文件删去的举措已有落实举措记录（{exc.args[0]}）") from exc
        self.stdout.write(self.style.SUCCESS(report.summary()))
