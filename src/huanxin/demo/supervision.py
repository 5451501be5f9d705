"""Demo supervision history, written through the services: monthly progress reports of every responsible
department since the plan was issued (a few months missing, so some show as overdue; this month's drafts),
milestones (on time, late, overdue, cancelled) and 督办单 in every state with their answers.

Every figure and sentence is invented for the demo, in the plan's own terms.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import TextIO

from django.core.management.base import OutputWrapper
from django.db import transaction
from django.utils import timezone

from huanxin.core.models import Department, User
from huanxin.demo.monitoring import _clerk
from huanxin.plans.models import Indicator, Measure, Plan, Responsibility
from huanxin.supervision import selectors, services
from huanxin.supervision.models import Milestone, Notice, ProgressReport

# What the lead department writes about a measure, month by month ({n}: a number, {p}: percent of the target).
REPORTS = {
    "二（一）1": [
        "推动石化化工老旧装置淘汰退出，本月完成安全评估{n}套",
        "督促民爆企业实施“机械化换人、自动化减人”改造{n}项",
    ],
    "二（一）2": ["组织重点用能企业开展能效诊断{n}家", "推进钢铁、建材行业能效领跑者行动，新增对标企业{n}家"],
    "二（一）3": ["梳理风电场“上大压小”改造项目{n}个，完成前期手续", "推动工程机械行业淘汰超期服役设备{n}台（套）"],
    "二（一）4": ["遴选智能工厂培育对象{n}家，组织专家现场诊断", "推动规上工业企业数字化改造，本月完成诊断{n}家"],
    "二（二）1": [
        "完成{n}个老旧小区电梯摸排，建立“一梯一档”",
        "推进既有住宅加装电梯，本月新开工{n}部",
        "完成既有建筑节能改造{n}万平方米",
    ],
    "二（二）2": [
        "燃气老旧管网改造本月完成{n}公里，累计完成三年改造任务的{p}%",
        "排水管网更新改造新开工{n}公里，雨污分流同步推进",
        "城市生命线工程新装物联感知设备{n}处",
    ],
    "二（三）": [
        "新增及更新新能源公交车{n}辆",
        "推进出租车电动化更新，本月完成{n}辆",
        "组织重卡运输企业对接新能源车型{n}场",
    ],
    "二（四）": ["受理农机报废补贴申请{n}台，完成核验并拨付补贴", "组织复式高效农机具推介会{n}场"],
    "三（一）": ["组织汽车以旧换新促销巡展{n}场，带动新车销售", "报废机动车回收拆解企业本月回收报废汽车{n}00余辆"],
    "三（二）": [
        "开展“焕新潮”家电以旧换新活动{n}场",
        "新增线上线下家电以旧换新专区{n}个",
        "推动售后维修服务进社区{n}次",
    ],
    "四（一）": [
        "新建改造乡村回收站点{n}个",
        "推进“两网融合”，新增融合网点{n}个",
        "推广“收旧+换新”上门服务，合作物业企业{n}家",
    ],
    "四（二）": ["开展“线上预约、线下回收”试点企业{n}家", "规范旧货交易市场，检查经营主体{n}家"],
    "七（一）": ["争取超长期特别国债等上级资金{n}笔，完成资金下达", "会同行业部门审核以旧换新补贴资金{n}批次"],
    "七（二）": ["组织银企对接活动{n}场，推送设备更新项目清单", "引导金融机构投放技术改造贷款{n}亿元"],
}
GENERIC = [
    "按照“{title}”任务分工，本月召开专题推进会{n}次，逐项调度县区和重点企业",
    "围绕“{title}”梳理在建项目{n}个，建立台账、按月跟踪",
    "“{title}”各项工作按计划推进，本月完成督导检查{n}次",
]
# What a co-operating department writes: its own part where the plan names one, else its support to the lead.
BY_DEPARTMENT = {
    ("二（二）2", "police"): ["更新公安视频图像前端采集设备{n}0路", "完成老旧视频监控点位摸排{n}处，纳入年度更新计划"],
    ("二（二）2", "urban-management"): ["更新改造环卫设施设备{n}台（套）", "推进窨井盖物联智能感知设备安装{n}处"],
    ("二（二）2", "market"): ["开展液化石油气充装站安全检查{n}家", "督促存在安全隐患的充装站设施更新改造{n}处"],
    ("二（二）1", "market"): ["完成在用老旧电梯安全评估{n}台", "开展电梯维保质量抽查{n}台次"],
    ("三（一）", "police"): ["办理报废机动车注销登记{n}00余辆", "开展非标电动自行车路面查处{n}次"],
    ("三（一）", "transport"): ["督促道路运输企业淘汰国三及以下营运柴油货车{n}辆"],
    ("四（一）", "housing"): ["指导物业企业与回收企业签订“收旧+换新”合作协议{n}份"],
    ("四（一）", "supply-coop"): ["供销系统新建改造乡村回收网点{n}个"],
    ("三（二）", "supply-coop"): ["组织供销系统商贸流通企业{n}家参与家电以旧换新"],
    ("二（三）", "miit"): ["对接新能源商用车生产企业{n}家，组织车型推介"],
}
COOPERATING = [
    "配合{lead}推进“{title}”，本月参加专题调度会{n}次，报送本领域工作情况",
    "按职责分工落实“{title}”相关工作，本月核查本领域项目{n}个",
    "配合做好“{title}”政策宣传和企业对接，服务企业{n}家",
]
PROBLEMS = [
    "",
    "",
    "部分县区配套资金到位较慢，下月加强调度，督促资金按期拨付。",
    "冬季施工条件受限，部分项目延至春季集中推进。",
    "企业更新意愿受市场预期影响，下月组织政策宣讲和银企对接。",
    "个别县区数据报送不及时，下月建立周调度机制。",
]
STOPPED = {("二（二）2", "police"): 3, ("二（三）", "transport"): 2, ("二（二）1", "housing"): 1}  # months not reported

# measure, responsible department, title, due, done (None: still open), set by the lead department's clerk?
MILESTONES = [
    ("二（二）2", "housing", "2024年度燃气老旧管网更新改造计划下达", dt.date(2024, 7, 31), dt.date(2024, 7, 19)),
    ("二（二）2", "housing", "主城区燃气老旧管网改造完成年度任务过半", dt.date(2025, 9, 30), dt.date(2025, 10, 16)),
    ("二（二）2", "housing", "2026年度排水管网更新改造项目全部开工", dt.date(2026, 10, 31), None),
    ("二（二）2", "police", "公安视频图像前端采集设备更新项目完成招标", dt.date(2026, 6, 30), None),
    ("二（二）1", "housing", "老旧住宅电梯更新意愿摸排完成", dt.date(2024, 12, 31), dt.date(2024, 12, 20)),
    ("二（二）1", "market", "在用老旧电梯安全评估报告汇总", dt.date(2027, 3, 31), None),
    ("二（三）", "transport", "新能源公交车年度更新计划印发", dt.date(2025, 3, 31), dt.date(2025, 3, 28)),
    ("二（三）", "transport", "新增及更新新能源重型货车累计达到100辆", dt.date(2026, 6, 30), None),
    ("二（四）", "agriculture", "年度农机报废补贴资金拨付到位", dt.date(2025, 12, 31), dt.date(2026, 1, 20)),
    ("三（二）", "commerce", "“焕新潮”家电以旧换新年度活动方案印发", dt.date(2025, 4, 30), dt.date(2025, 4, 18)),
    ("四（一）", "commerce", "再生资源回收分拣中心布局规划印发", dt.date(2025, 6, 30), dt.date(2025, 6, 12)),
    ("四（一）", "commerce", "建成区域性集中分拣处理中心12个", dt.date(2026, 12, 31), None),
    ("二（一）4", "miit", "智能工厂梯度培育名单发布", dt.date(2026, 8, 31), None),
]
CANCELLED = (
    "四（一）",
    "supply-coop",
    "县级供销社回收网点全覆盖",
    dt.date(2026, 9, 30),
    "并入再生资源回收分拣中心布局规划统筹推进",
)

# department, measure, indicator, subject, body, issued (days before today), days allowed, the story
NOTICES: list[tuple[str, str, str | None, str, str, int, int, list[tuple[str, str, int]]]] = [
    (
        "housing",
        "二（二）2",
        "gas-pipeline-renewed-km",
        "燃气老旧管网改造进度滞后",
        "据第三季度监测数据，全市燃气老旧管网累计改造完成率低于序时进度，宣化区、万全区尚未开工。"
        "请市住房和城乡建设局分析滞后原因，明确各县区剩余任务和完成时限，于办理时限前书面报工作专班。",
        420,
        15,
        [
            (
                "answer",
                "经核查，滞后主要因宣化区、万全区管网普查延期及部分路段掘路审批未完成。已召开专题调度会，"
                "压实县区责任，实行周调度、月通报，两区已于本月进场施工，预计年底前追上序时进度。",
                12,
            ),
            ("close", "原因分析清楚，整改措施具体。请按周调度机制推进，纳入月度进展报告持续跟踪。", 16),
        ],
    ),
    (
        "commerce",
        "三（一）",
        "scrapped-cars-collected-growth",
        "报废汽车回收量偏低",
        "上半年全市报废汽车回收量同比增幅明显低于“较2023年增长一倍”的目标路径。请市商务局会同市公安局，"
        "分析回收渠道、补贴申领等方面存在的问题，提出提升回收量的具体措施。",
        300,
        20,
        [
            (
                "answer",
                "已组织回收拆解企业座谈，主要问题是县域回收网点少、车主申领补贴流程不熟悉。下步将加强宣传。",
                15,
            ),
            ("return", "答复偏原则，请补充分县区的回收网点建设计划、补贴申领便利化措施和量化目标。", 18),
            (
                "answer",
                "补充如下：一是年内在张北、怀来、蔚县新设报废机动车回收网点3个；二是会同公安交管部门推行"
                "注销登记与回收“一站式”办理；三是按季度分解回收目标至各县区，第四季度回收量力争环比增长30%。",
                26,
            ),
            ("close", "补充措施可行，请按季度报送回收量完成情况。", 30),
        ],
    ),
    (
        "agriculture",
        "二（四）",
        "agricultural-machines-scrapped",
        "农业机械报废进度明显低于时间进度",
        "截至上季度末，累计报废农业机械数量仅完成目标的四成左右，明显低于时间进度。请市农业农村局"
        "分县区说明报废任务分解和补贴兑付情况，提出加快推进的措施。",
        75,
        20,
        [
            ("answer", "已印发通知督促各县区加快农机报废补贴申报，下步加强调度。", 14),
            ("return", "请补充分县区的报废任务分解、补贴资金兑付进度和完成时限。", 17),
        ],
    ),
    (
        "transport",
        "二（三）",
        "nev-heavy-trucks",
        "新能源重型货车推广不及预期",
        "新增及更新新能源重型货车数量与“力争达到200辆以上”的目标差距较大。请市交通运输局梳理重点运输企业"
        "更新需求，研究充换电保障和路权支持措施，书面报告推进计划。",
        48,
        20,
        [],
    ),
    (
        "housing",
        "二（二）1",
        "elevators-renewed",
        "老旧住宅电梯更新改造推进缓慢",
        "群众更新意愿强烈的老旧电梯更新改造推进缓慢，部分小区资金筹措方案未落地。请市住房和城乡建设局"
        "会同市市场监督管理局提出分年度更新计划和资金筹措方案。",
        40,
        20,
        [
            (
                "answer",
                "已完成老旧电梯摸排，群众更新意愿强烈的电梯共计二百余部。拟按“业主出一点、维修资金用一点、"
                "政策补一点”筹措资金，分两年完成更新改造，2026年底前完成60%。",
                16,
            ),
        ],
    ),
    (
        "miit",
        "二（一）4",
        "key-process-nc-rate",
        "关键工序数控化率年度数据缺报",
        "规上工业企业关键工序数控化率年度数据未按期报送，影响总体目标评估。请市工业和信息化局核实数据来源，"
        "按期补报并说明统计口径。",
        200,
        15,
        [
            ("answer", "已会同统计部门核实口径，年度数据已于监测平台补报，今后按年度报送要求按时报送。", 9),
            ("close", "数据已补报，口径说明清楚，同意办结。", 11),
        ],
    ),
    (
        "commerce",
        "三（二）",
        "appliances-collected-growth",
        "废旧家电回收量统计口径不一致",
        "各县区报送的废旧家电回收量统计口径不一致，部分县区将以旧换新销售量计入回收量。请市商务局统一"
        "统计口径，组织各县区核实更正。",
        24,
        15,
        [
            (
                "answer",
                "已印发废旧家电回收量统计口径说明，明确以回收企业台账和拆解企业入库量为准。"
                "各县区已完成核实，更正数据将随本季度数据一并报送。",
                10,
            ),
        ],
    ),
    (
        "police",
        "二（二）2",
        "police-video-devices-renewed",
        "公安视频图像前端采集设备更新数据请按季度报送",
        "公安视频图像前端采集设备累计更新数量连续两个季度未报送。请市公安局按季度报送更新数量，并说明年度更新计划。",
        6,
        14,
        [],
    ),
]


def _text(rng: random.Random, measure: Measure, department: Department, lead: str | None, percent: int) -> str:
    lines = BY_DEPARTMENT.get((measure.code, department.code))
    if lines is None:
        lines = REPORTS.get(measure.code, GENERIC) if lead is None else COOPERATING
    return rng.choice(lines).format(n=rng.randint(2, 15), p=percent, title=measure.title, lead=lead) + "。"


def _reports(plan: Plan, rng: random.Random, today: dt.date) -> int:
    months = selectors.plan_months(plan, today)
    done = months[:-1]  # the current month is not over
    total_days = (plan.deadline - plan.issued_on).days
    pairs: dict[tuple[int, int], str] = {}
    for measure_id, department_id, role in Responsibility.objects.filter(clause__measure__plan=plan).values_list(
        "clause__measure_id", "department_id", "role"
    ):
        if pairs.get((measure_id, department_id)) != "lead":
            pairs[(measure_id, department_id)] = role
    measures = {m.pk: m for m in Measure.objects.filter(plan=plan).select_related("plan")}
    departments = {d.pk: d for d in Department.objects.filter(pk__in={d for _, d in pairs})}
    lead_of: dict[int, str] = {}  # the first clause's lead department
    for (measure_id, department_id), role in pairs.items():
        if role == "lead":
            lead_of.setdefault(measure_id, departments[department_id].short_name or departments[department_id].name)
    clerks: dict[int, User] = {}
    count = 0
    for (measure_id, department_id), role in sorted(pairs.items()):
        measure, department = measures[measure_id], departments[department_id]
        if department_id not in clerks:
            clerks[department_id] = _clerk(department)
        clerk = clerks[department_id]
        stopped = STOPPED.get((measure.code, department.code), 0)
        lead = None if role == "lead" else lead_of[measure_id]
        diligence = rng.choice([0.0, 0.0, 0.0, 0.02, 0.05])  # the share of months this department forgot
        pace = rng.uniform(0.8, 1.1)  # ahead of or behind the straight path to the deadline
        for i, month in enumerate(done):
            if i >= len(done) - stopped or (i < len(done) - 3 and rng.random() < diligence):
                continue
            percent = min(100, round(100 * (month.end - plan.issued_on).days / total_days * pace))
            late = rng.random() < 0.08
            on = month.end + dt.timedelta(days=rng.randint(12, 25) if late else rng.randint(1, 9))
            services.save_report(
                actor=clerk,
                measure=measure,
                period=month.code,
                text=_text(rng, measure, department, lead, percent),
                problems=rng.choice(PROBLEMS),
                percent_done=percent if role == "lead" else None,
                submit=on <= today,  # last month's report may still be a draft
                today=min(on, today),
            )
            count += 1
        if role == "lead" and months and rng.random() < 0.3:  # a draft for the month under way
            services.save_report(
                actor=clerk,
                measure=measure,
                period=months[-1].code,
                text=_text(rng, measure, department, None, 0).replace("本月", "截至目前"),
                today=today,
            )
            count += 1
    return count


def _milestones(plan: Plan, boss: User, today: dt.date) -> None:
    for code, department_code, title, due, done in MILESTONES:
        measure = Measure.objects.get(plan=plan, code=code)
        department = Department.objects.get(code=department_code)
        lead = Responsibility.objects.filter(clause__measure=measure, role="lead").first()
        setter = _clerk(lead.department) if lead is not None and lead.department == department else boss
        milestone = services.add_milestone(
            actor=setter, measure=measure, department=department, title=title, due_on=min(due, plan.deadline)
        )
        if done is not None and done <= today:
            note = "按计划完成" if done <= due else "受审批手续影响延期完成，已补齐"
            services.complete_milestone(
                actor=_clerk(department), milestone=milestone, done_on=done, note=note, today=today
            )
    code, department_code, title, due, reason = CANCELLED
    measure = Measure.objects.get(plan=plan, code=code)
    milestone = services.add_milestone(
        actor=boss, measure=measure, department=Department.objects.get(code=department_code), title=title, due_on=due
    )
    services.cancel_milestone(actor=boss, milestone=milestone, reason=reason)


def _notices(plan: Plan, boss: User, today: dt.date) -> None:
    for department_code, code, indicator_code, subject, body, days_ago, allowed, story in NOTICES:
        department = Department.objects.get(code=department_code)
        issued = today - dt.timedelta(days=days_ago)
        notice = services.issue_notice(
            actor=boss,
            department=department,
            subject=subject,
            body=body,
            due_on=issued + dt.timedelta(days=allowed),
            measure=Measure.objects.get(plan=plan, code=code),
            indicator=Indicator.objects.get(plan=plan, code=indicator_code) if indicator_code else None,
            today=issued,
        )
        for kind, text, after in story:
            on = min(issued + dt.timedelta(days=after), today)
            if kind == "answer":
                services.answer_notice(actor=_clerk(department), notice=notice, text=text, today=on)
            elif kind == "return":
                services.return_notice(
                    actor=boss, notice=notice, reason=text, due_on=on + dt.timedelta(days=10), today=on
                )
            else:
                services.close_notice(actor=boss, notice=notice, note=text, today=on)


def build(stdout: TextIO | OutputWrapper) -> None:
    plan = Plan.objects.get(code="zhangjiakou-2024")
    if Notice.objects.exists() or ProgressReport.objects.exists() or Milestone.objects.exists():
        return
    rng = random.Random(2026)  # noqa: S311 - demo figures, not security
    today = timezone.localdate()
    boss = User.objects.get(username="zhuanban")
    with transaction.atomic():  # all or nothing, so the check above stays a good test of "already built"
        reports = _reports(plan, rng, today)
        _milestones(plan, boss, today)
        _notices(plan, boss, today)
    stdout.write(
        f"调度督办演示数据：{reports} 份月度进展报告，{Milestone.objects.count()} 个里程碑，"
        f"{Notice.objects.count()} 份督办单\n"
    )
