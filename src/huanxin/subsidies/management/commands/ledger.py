from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from huanxin.subsidies.ledger import yuan
from huanxin.subsidies.models import Programme
from huanxin.subsidies.reconcile import check_programme


class Command(BaseCommand):
    help = (
        "补贴额度台账工具。`huanxin ledger verify` 按分录重算每个账户、校验台账的不变量，"
        "并将分录与补贴申请、发放记录、退货和追回逐笔核对。"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        verify = sub.add_parser("verify", help="校验补贴额度台账")
        verify.add_argument("--programme", help="只校验这个项目（代码）")

    def handle(self, *args: Any, **options: Any) -> None:
        programmes = Programme.objects.order_by("code")
        if options.get("programme"):
            programmes = programmes.filter(code=options["programme"])
            if not programmes.exists():
                raise CommandError(f"没有代码为 {options['programme']} 的补贴项目")
        failed = 0
        checked = 0
        for programme in programmes:
            result = check_programme(programme)
            checked += 1
            b = result.balances
            self.stdout.write(
                f"{programme.code}（{programme.name}）：{result.entries} 条分录，拨入 {yuan(b.funded_fen)} 元 = "
                f"可用 {yuan(b.available_fen)} + 预留 {yuan(b.reserved_fen)} + 兑付 {yuan(b.paid_fen)} + "
                f"追回 {yuan(b.clawed_back_fen)} 元"
            )
            if result.problems:
                failed += 1
                for problem in result.problems[:50]:
                    self.stderr.write(f"  ✗ {problem}")
                if len(result.problems) > 50:
                    self.stderr.write(f"  …… 另有 {len(result.problems) - 50} 处问题")
        if failed:
            raise CommandError(f"补贴额度台账校验未通过：{failed} 个项目有问题（共校验 {checked} 个）")
        self.stdout.write(
            self.style.SUCCESS(f"补贴额度台账校验通过：{checked} 个项目，余额与分录一致，分录与申请和发放记录相符")
        )
