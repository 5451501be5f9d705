from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from huanxin.core.models import User
from huanxin.subsidies.models import Programme
from huanxin.subsidies.queue import can_fund, promote_queue


class Command(BaseCommand):
    help = (
        "补贴排队申请。`huanxin queue promote --programme CODE --actor USERNAME` 按提交顺序为排队等待额度的申请"
        "预留额度，直到额度不足为止（例如在财政追加额度后运行）。"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        promote = sub.add_parser("promote", help="按提交顺序处理排队申请")
        promote.add_argument("--programme", required=True, help="补贴项目代码")
        promote.add_argument("--actor", required=True, help="操作人用户名（工作专班或财务人员，记入审计日志）")
        promote.add_argument("--limit", type=int, help="最多处理多少份")

    def handle(self, *args: Any, **options: Any) -> None:
        programme = Programme.objects.filter(code=options["programme"]).first()
        if programme is None:
            raise CommandError(f"没有代码为 {options['programme']} 的补贴项目")
        actor = User.objects.filter(username=options["actor"], is_active=True).first()
        if actor is None or not can_fund(actor):
            raise CommandError("操作人须为在职的工作专班或财务人员")
        report = promote_queue(actor=actor, programme=programme, limit=options.get("limit"))
        self.stdout.write(f"{programme.code}：{report.summary}")
        for number in report.promoted:
            self.stdout.write(f"  ✓ {number}")
