from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import ProtectedError

from huanxin.plans import services
from huanxin.plans.importer.evaluate import iter_draft_indicators
from huanxin.plans.loader import PlanFileError, iter_measures, read_plan_file

DEFAULT_PLAN = Path(__file__).resolve().parents[2] / "data" / "zhangjiakou-2024.yaml"
DEFAULT_SOURCE = DEFAULT_PLAN.with_suffix(".txt")


class Command(BaseCommand):
    help = "载入、校验或导入实施方案。Load or validate a plan file; import a plan document as a draft."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        load = sub.add_parser("load", help="校验并载入方案（幂等：重复载入不做修改）")
        load.add_argument("file", nargs="?", default=str(DEFAULT_PLAN))
        check = sub.add_parser("validate", help="只校验，不写数据库")
        check.add_argument("file", nargs="?", default=str(DEFAULT_PLAN))
        imp = sub.add_parser("import", help="把方案文件（.txt .md .docx .pdf）导入为待审核的草稿 YAML")
        imp.add_argument("file")
        imp.add_argument("-o", "--output", help="草稿 YAML 的路径（默认：与原文件同名的 .draft.yaml）")
        evaluate = sub.add_parser("evaluate", help="用导入器处理方案原文，与人工整理的 YAML 比较，输出准确率和召回率")
        evaluate.add_argument("file", nargs="?", default=str(DEFAULT_SOURCE))
        evaluate.add_argument("--against", default=str(DEFAULT_PLAN), help="人工整理的方案 YAML")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        if options["action"] == "import":
            return self.import_document(path, options.get("output"))
        if options["action"] == "evaluate":
            return self.evaluate(path, Path(options["against"]))
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

    def import_document(self, path: Path, output: str | None) -> None:
        from huanxin.plans.importer import ImportFailed, dump_yaml, import_document

        if not path.exists():
            raise CommandError(f"找不到文件 {path}")
        try:
            result = import_document(path.read_bytes(), path.name)
        except ImportFailed as exc:
            raise CommandError(f"导入失败（{exc.code}）：{exc}") from exc
        target = Path(output) if output else path.with_name(f"{path.stem}.draft.yaml")
        source = target.with_name(f"{target.stem}.source.txt")
        target.parent.mkdir(parents=True, exist_ok=True)
        source.write_text(result.text, encoding="utf-8")
        draft = result.draft
        draft["plan"] = {**draft["plan"], "source": source.name}
        draft["plan"] = _header_in_order(draft["plan"])
        target.write_text(dump_yaml(draft), encoding="utf-8")
        counts = _count(draft)
        self.stdout.write(
            self.style.SUCCESS(
                f"已导入 {path.name} → {target}（原文 {source.name}）：{counts['measures']} 项举措，"
                f"{counts['responsibilities']} 条责任分工，{counts['indicators']} 个目标指标"
                f"（其中定量 {counts['numeric']} 个），{counts['departments']} 个责任单位"
                f"（新提出 {counts['proposed']} 个）；低置信度 {len(result.low_confidence)} 项"
            )
        )
        for path_ in result.low_confidence:
            self.stdout.write(f"  需核对：{path_}")
        for warning in result.warnings:
            self.stdout.write(self.style.WARNING(f"  提示：{warning}"))

    def evaluate(self, path: Path, against: Path) -> None:
        from huanxin.plans.importer import ImportFailed, import_document
        from huanxin.plans.importer.evaluate import evaluate

        for file in (path, against):
            if not file.exists():
                raise CommandError(f"找不到文件 {file}")
        try:
            result = import_document(path.read_bytes(), path.name)
        except ImportFailed as exc:
            raise CommandError(f"导入失败（{exc.code}）：{exc}") from exc
        gold = yaml.safe_load(against.read_text(encoding="utf-8"))
        report = evaluate(result.draft, gold)
        self.stdout.write(f"{path.name} 对照 {against.name}：")
        self.stdout.write(report.table())


def _header_in_order(header: dict[str, Any]) -> dict[str, Any]:
    """`source` where the loader's format puts it: after deadline."""
    out: dict[str, Any] = {}
    for key, value in header.items():
        if key != "source":
            out[key] = value
        if key == "deadline":
            out["source"] = header["source"]
    return out


def _count(draft: dict[str, Any]) -> dict[str, int]:
    from huanxin.plans.importer.evaluate import iter_draft_measures

    counts = dict.fromkeys(["measures", "responsibilities", "indicators", "numeric"], 0)
    for _code, measure in iter_draft_measures(draft.get("sections", [])):
        counts["measures"] += 1
        counts["responsibilities"] += len(measure.get("responsibilities", []))
    for _where, indicator in iter_draft_indicators(draft.get("sections", [])):
        counts["indicators"] += 1
        counts["numeric"] += indicator.get("kind") != "qualitative"
    departments = draft.get("departments", [])
    counts["departments"] = len(departments)
    counts["proposed"] = sum(1 for d in departments if d.get("proposed"))
    return counts
