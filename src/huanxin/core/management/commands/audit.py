from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from huanxin.core import audit
from huanxin.core.models import AuditEvent


class Command(BaseCommand):
    help = (
        "审计日志工具。`huanxin audit verify` 校验哈希链及其签名检查点；"
        "`huanxin audit checkpoint --adopt | --export PATH` 签署或导出各链的链头。"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        verify = sub.add_parser("verify", help="校验审计日志哈希链与检查点")
        verify.add_argument("--anchor-file", help="与此前 `audit checkpoint --export` 导出的链头比对")
        checkpoint = sub.add_parser("checkpoint", help="签署或导出各链的检查点")
        what = checkpoint.add_mutually_exclusive_group(required=True)
        what.add_argument("--adopt", action="store_true", help="为尚无检查点的链签署当前链头（升级后执行一次）")
        what.add_argument("--export", metavar="PATH", help="把各链当前链头写成 JSON（- 为标准输出），存放在数据库之外")
        checkpoint.add_argument(
            "--resign", action="store_true", help="与 --adopt 同用：重新签署所有链（更换 HUANXIN_AUDIT_ANCHOR_KEY 后）"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "checkpoint":
            self._checkpoint(options)
        else:
            self._verify(options.get("anchor_file"))

    def _verify(self, anchor_file: str | None) -> None:
        anchors = None
        if anchor_file:
            try:
                anchors = audit.read_anchors(json.loads(Path(anchor_file).read_text(encoding="utf-8")))
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise CommandError(f"无法读取链头文件 {anchor_file}：{exc}") from exc
        problems = list(audit.verify_chain(anchors=anchors))
        if problems:
            for p in problems[:50]:
                self.stderr.write(f"链 {p.chain} #{p.seq}: {p.reason}")
            raise CommandError(f"审计日志哈希链已损坏：{len(problems)} 处问题")
        events, chains = AuditEvent.objects.count(), AuditEvent.objects.values("chain").distinct().count()
        compared = f"，与 {len(anchors)} 个导出链头一致" if anchors is not None else ""
        self.stdout.write(
            self.style.SUCCESS(f"审计日志完整：{events} 条记录，{chains} 条哈希链校验通过，检查点签名有效{compared}")
        )

    def _checkpoint(self, options: dict[str, Any]) -> None:
        if options["export"]:
            text = json.dumps(audit.export_heads(), ensure_ascii=False, indent=2) + "\n"
            if options["export"] == "-":
                sys.stdout.write(text)
            else:
                Path(options["export"]).write_text(text, encoding="utf-8")
                self.stdout.write(self.style.SUCCESS(f"已导出各链链头到 {options['export']}"))
            return
        try:
            adopted = audit.adopt(resign=options["resign"])
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            self.style.SUCCESS(f"已签署 {len(adopted.signed)} 条链的检查点；{len(adopted.kept)} 条链已有检查点，未改动")
        )
