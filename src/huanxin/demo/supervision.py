"""Demo supervision history: monthly progress reports since mid-2024 (some months missing), milestones (some done,
some late) and supervision notices in every state. Invented for the demo, in the plan's own terms."""

from __future__ import annotations

import datetime as dt
import random
from typing import TextIO

from django.core.management.base import OutputWrapper
from django.utils import timezone

from huanxin.core.models import Department, User
from huanxin.demo.monitoring import _clerk
from huanxin.monitoring.periods import Frequency, periods_between
from huanxin.plans.models import Indicator, Measure, Plan
from huanxin.supervision import services
from huanxin.supervision.models import Notice

REPORTS = {  # measure code -> what its departments write, month by month
    "二（二）1": ["完成{n}个小区老旧电梯摸排，建立“一梯一档”", "推进既有住宅加装电梯，本月新开工{n}部"],
    "二（二）2": ["燃气老旧管网改造完成{n}公里，供热管网同步推进", "开展城市生命线工程监测设备安装，完成{n}处"],
    "三（二）": ["组织“焕新潮”家电以旧换新促销活动{n}场", "新增线上线下以旧换新专区{n}个"],
    "四（一）": ["新建改造乡村回收站点{n}个", "推进“两网融合”，新增融合网点{n}个"],
    "二（一）4": ["遴选智能工厂培育对象{n}家", "推动规上工业企业数字化改造，完成诊断{n}家"],
    "二（三）": ["新增及更新新能源公交车{n}辆", "推进出租车电动化更新，完成{n}辆"],
}
MILESTONES = [
    ("二（二）2", "housing", "2025年度燃气管网改造计划下达", dt.date(2025, 3, 31), dt.date(2025, 3, 20)),
    ("二（二）2", "housing", "主城区燃气老旧管网改造完成过半", dt.date(2026, 6, 30), None),
    ("二（二）1", "housing", "老旧电梯更新意愿摸排完成", dt.date(2025, 6, 30), dt.date(2025, 7, 15)),
    ("四（一）", "commerce", "再生资源回收分拣中心布局规划印发", dt.date(2025, 9, 30), dt.date(2025, 9, 12)),
    ("四（一）", "commerce", "建成分拣中心12个", dt.date(2026, 8, 31), None),
    ("二（三）", "transport", "公交车新能源更新年度计划", dt.date(2026, 12, 31), None),
]
NOTICES = [
    ("housing", "二（二）2", "drainage-pipeline-renewed-km", "排水管网更新改造进度滞后", "closed"),
    ("commerce", "四（一）", "scrapped-cars-collected-growth", "报废汽车回收量增长偏慢", "answered"),
    ("transport", "二（三）", "nev-heavy-trucks", "新能源重型货车推广不及预期", "issued"),
    ("agriculture", "二（四）", "agricultural-machines-scrapped", "农业机械报废进度明显低于时间进度", "returned"),
    ("housing", "二（二）1", None, "老旧电梯更新意愿摸排结果未按期报送", "closed"),
    ("commerce", "三（二）", "appliances-collected-growth", "废旧家电回收量数据口径不一致", "issued-late"),
    ("miit", "二（一）4", "key-process-nc-rate", "关键工序数控化率年度数据缺报", "answered"),
    ("commerce", "三（一）", "used-car-trades-growth", "二手车交易量增长乏力", "issued"),
]


def build(stdout: TextIO | OutputWrapper) -> None:
    plan = Plan.objects.get(code="zhangjiakou-2024")
    if Notice.objects.exists():
        return
    rng = random.Random(2025)  # noqa: S311 - demo figures
    today = timezone.localdate()
    boss = User.objects.get(username="zhuanban")
    months = [m for m in periods_between(Frequency.MONTH, plan.issued_on, today) if m.end < today]
    for code, lines in REPORTS.items():
        measure = Measure.objects.get(plan=plan, code=code)
        lead = measure.clauses.first().responsibilities.get(role="lead").department  # type: ignore[union-attr]
        clerk = _clerk(lead)
        for i, month in enumerate(months):
            if rng.random() < 0.12 and i < len(months) - 1:
                continue  # a missed month: shows as overdue
            services.save_report(
                actor=clerk,
                measure=measure,
                period=month.code,
                text=rng.choice(lines).format(n=rng.randint(2, 15)) + "。",
                problems=rng.choice(["", "部分县区资金到位较慢，下月加强调度。", "施工受冬季影响，春季集中推进。"]),
                percent_done=min(100, round(100 * (i + 1) / 43)),
                submit=i < len(months) - 1,
                today=min(month.end + dt.timedelta(days=rng.randint(2, 9)), today),
            )
    for code, department_code, title, due, done in MILESTONES:
        measure = Measure.objects.get(plan=plan, code=code)
        department = Department.objects.get(code=department_code)
        milestone = services.add_milestone(actor=boss, measure=measure, department=department, title=title, due_on=due)
        if done is not None:
            services.complete_milestone(actor=_clerk(department), milestone=milestone, done_on=done, note="按期完成")
    for n, (department_code, measure_code, indicator_code, subject, state) in enumerate(NOTICES):
        department = Department.objects.get(code=department_code)
        issued = today - dt.timedelta(days=70 - n * 8)
        notice = services.issue_notice(
            actor=boss,
            department=department,
            subject=subject,
            body=f"{subject}。请对照方案目标和时间进度，分析原因，提出加快推进的具体措施和时间表，按时限书面答复工作专班。",
            due_on=issued + dt.timedelta(days=20 if state != "issued-late" else 10),
            measure=Measure.objects.get(plan=plan, code=measure_code),
            indicator=Indicator.objects.get(plan=plan, code=indicator_code) if indicator_code else None,
            today=issued,
        )
        if state in {"answered", "closed", "returned"}:
            services.answer_notice(
                actor=_clerk(department),
                notice=notice,
                text="已召开专题会议分析原因，制定推进计划：一是压实县区责任，二是加快资金拨付，三是每周调度进度。",
                at=timezone.make_aware(dt.datetime.combine(issued + dt.timedelta(days=12), dt.time(15))),
            )
        if state == "closed":
            services.close_notice(actor=boss, notice=notice, note="措施具体可行，继续跟踪落实。")
        if state == "returned":
            services.return_notice(actor=boss, notice=notice, reason="请补充分县区的报废任务分解和完成时限。")
    stdout.write(f"督办演示数据：{Notice.objects.count()} 份督办单\n")
