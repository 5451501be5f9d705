from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from huanxin.core.audit import verify_chain
from huanxin.core.models import AuditEvent


class Command(BaseCommand):
    help = "审计日志工具。`huanxin audit verify` 校验哈希链是否完整。"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("verify", help="校验审计日志哈希链")

    def handle(self, *args: Any, **options: Any) -> None:
        problems = list(verify_chain())
        if problems:
            for p in problems[:50]:
                self.stderr.write(f"链 {p.chain} #{p.seq}: {p.reason}")
            raise CommandError(f"审计日志哈希链已损坏：{len(problems)} 处问题")
        self.stdout.write(
            self.style.SUCCESS(
                f"审计日志完整：{AuditEvent.objects.count()} 条记录，"
                f"{AuditEvent.objects.values('chain').distinct().count()} 条哈希链校验通过"
            )
        )
