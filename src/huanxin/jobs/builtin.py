"""The job kinds of core: the daily audit-log verification."""

from __future__ import annotations

from huanxin.core import audit
from huanxin.jobs import kinds, schedule
from huanxin.jobs.services import Context


def verify_audit(ctx: Context) -> kinds.Finished:
    problems = [f"链 {p.chain} 第 {p.seq} 条：{p.reason}" for p in audit.verify_chain()]
    if problems:
        raise kinds.JobFailed(kinds.Finished(f"审计日志校验未通过：{len(problems)} 处问题", errors=problems))
    return kinds.Finished("审计日志校验通过：哈希链与签名检查点一致")


kinds.register(kinds.Kind("audit_verify", "审计日志校验", verify_audit))
schedule.register(schedule.Periodic("audit_verify", kind="audit_verify", every="daily"))
