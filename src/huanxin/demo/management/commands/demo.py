"""`huanxin demo`: load the plan and create an organisation and a user for every role, so a new user can log
in at once. Idempotent: run it again and it only adds what is missing."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from huanxin.core import services
from huanxin.core.models import Department, Organisation, Region, User
from huanxin.core.roles import Role
from huanxin.demo import citizens as demo_citizens
from huanxin.demo import flows as demo_flows
from huanxin.demo import jobs as demo_jobs
from huanxin.demo import monitoring as demo_monitoring
from huanxin.demo import plan_import as demo_plan_import
from huanxin.demo import projects as demo_projects
from huanxin.demo import recycling as demo_recycling
from huanxin.demo import subsidies as demo_subsidies
from huanxin.demo import supervision as demo_supervision
from huanxin.plans import services as plan_services
from huanxin.plans.models import Measure, MeasureAction, Plan

DEMO_PASSWORD = "huanxin-demo-2024"  # noqa: S105 - demo accounts only; `demo` refuses to run in production

# username, display name, role, organisation (a department code, a region code, or a named organisation)
DEMO_USERS: list[tuple[str, str, Role, str]] = [
    ("zhuanban", "王建国（工作专班）", Role.TASK_FORCE, "dept:drc"),
    ("fagai", "李敏（市发改委）", Role.DEPARTMENT_OFFICER, "dept:drc"),
    ("shangwu", "赵倩（市商务局）", Role.DEPARTMENT_OFFICER, "dept:commerce"),
    ("gongxin", "刘洋（市工信局）", Role.DEPARTMENT_OFFICER, "dept:miit"),
    ("zhujian", "陈静（市住建局）", Role.DEPARTMENT_OFFICER, "dept:housing"),
    ("zhangbei", "孙磊（张北县）", Role.COUNTY_OFFICER, "region:130722"),
    # 宣化区's officer reviews qiye's projects: its enterprise is in 宣化区, and a county reviews only its own
    ("xuanhua", "高峰（宣化区）", Role.COUNTY_OFFICER, "region:130705"),
    ("shenhe", "周婷（市商务局审核）", Role.REVIEWER, "dept:commerce"),
    # the second reviewer of the two-person rule: an approval above its amount needs another person
    ("shenhe2", "韩雪（市商务局复核）", Role.REVIEWER, "dept:commerce"),
    ("caiwu", "吴刚（市财政局）", Role.FINANCE_OFFICER, "dept:finance"),
    ("shenji", "郑华（市审计局）", Role.AUDITOR, "org:张家口市审计局"),
    ("shanghu", "冯军（焕新家电商行）", Role.MERCHANT, "org:张家口焕新家电商行"),
    ("huishou", "何平（绿源再生资源回收）", Role.RECYCLER, "org:张家口绿源再生资源回收有限公司"),
    # a qualified dismantler's clerk: only a 报废机动车回收拆解 site may issue a 报废机动车回收证明
    ("chaijie", "曹亮（宏达报废汽车拆解）", Role.RECYCLER, "org:张家口宏达报废汽车回收拆解有限公司"),
    ("qiye", "许强（宣钢装备制造）", Role.ENTERPRISE, "org:张家口宣钢装备制造有限公司"),
    ("jumin", "林芳", Role.CITIZEN, ""),
]

EXTRA_ORGS = {
    "张家口市审计局": (Organisation.Kind.DEPARTMENT, "130700"),
    "张家口焕新家电商行": (Organisation.Kind.MERCHANT, "130702"),
    "张家口绿源再生资源回收有限公司": (Organisation.Kind.RECYCLER, "130705"),
    "张家口宏达报废汽车回收拆解有限公司": (Organisation.Kind.RECYCLER, "130705"),
    "张家口宣钢装备制造有限公司": (Organisation.Kind.ENTERPRISE, "130705"),
}

# 落实举措 the demo departments have written: (username, measure code, title, body, submit?)
DEMO_ACTIONS = [
    (
        "zhujian",
        "二（二）2",
        "2024年燃气老旧管网更新改造计划",
        "主城区及各县城区燃气老旧管网摸底建档，年内完成45公里改造；按季度向专班报送进度。",
        True,
    ),
    (
        "zhujian",
        "二（二）1",
        "老旧住宅电梯更新意愿摸排",
        "会同市市场监管局对2000年前投用的住宅电梯逐台登记，建立“一梯一档”。",
        False,
    ),
    (
        "shangwu",
        "三（二）",
        "“焕新潮”家电以旧换新系列促销",
        "组织全市家电销售、回收企业开展季度促销活动，开设线上线下以旧换新专区。",
        True,
    ),
    (
        "shangwu",
        "四（一）",
        "再生资源回收分拣中心布局规划",
        "按县区梳理现有分拣中心，2025年新建6个，2027年底前达到19个。",
        False,
    ),
    (
        "gongxin",
        "二（一）4",
        "智能工厂梯度培育",
        "遴选20家规上工业企业开展智能化改造诊断，推动建设智能工厂。",
        True,
    ),
    (
        "fagai",
        "七（三）",
        "新建项目能效审查要点",
        "对年耗能1万吨标准煤及以上新建项目，在节能审查中逐台核对设备能效是否达到节能水平。",
        True,
    ),
]


class Command(BaseCommand):
    help = "载入张家口方案并创建各角色的演示账号（可重复运行）"

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.PRODUCTION:
            raise CommandError("生产模式下不能创建演示数据")
        call_command("plan", "load", stdout=self.stdout)
        city = Region.objects.get(code="130700")
        orgs: dict[str, Organisation] = {}
        for department in Department.objects.all():
            orgs[f"dept:{department.code}"] = self._org(department.name, Organisation.Kind.DEPARTMENT, city, department)
        for region in Region.objects.exclude(pk=city.pk):
            name = f"{region.name}人民政府" if region.kind in ("district", "county") else f"{region.name}管委会"
            orgs[f"region:{region.code}"] = self._org(name, Organisation.Kind.COUNTY_GOVERNMENT, region)
        for name, (kind, region_code) in EXTRA_ORGS.items():
            orgs[f"org:{name}"] = self._org(name, kind, Region.objects.get(code=region_code))

        if not User.objects.filter(username="admin").exists():
            services.create_user(
                actor=None,
                username="admin",
                password=DEMO_PASSWORD,
                role=Role.TASK_FORCE,
                organisation=orgs["dept:drc"],
                display_name="系统管理员",
                is_staff=True,
                is_superuser=True,
            )
        for username, name, role, org_key in DEMO_USERS:
            if not User.objects.filter(username=username).exists():
                services.create_user(
                    actor=None,
                    username=username,
                    password=DEMO_PASSWORD,
                    role=role,
                    organisation=orgs.get(org_key),
                    display_name=name,
                    phone=f"1380313{len(username):02d}{ord(username[0]) % 100:02d}",
                )
        self._actions()
        demo_recycling.build(self.stdout)  # before monitoring: some indicators are derived from these two
        demo_citizens.verify(self.stdout)  # after recycling (its citizens jm-N), before subsidies (they apply as such)
        demo_projects.build(self.stdout)
        demo_subsidies.build(self.stdout)  # after recycling: car applications use its scrapping certificates
        demo_flows.build(self.stdout)  # after subsidies: 林芳's scrapped car, applications awaiting a second reviewer
        demo_monitoring.build(self.stdout)
        demo_supervision.build(self.stdout)
        demo_plan_import.build(self.stdout)
        demo_jobs.build(self.stdout)  # last: its worker run also starts the periodic checks over the whole demo
        self._print_accounts()

    def _org(self, name: str, kind: str, region: Region, department: Department | None = None) -> Organisation:
        existing = Organisation.objects.filter(name=name).first()
        return existing or services.create_organisation(
            actor=None, name=name, kind=kind, region=region, department=department
        )

    def _actions(self) -> None:
        plan = Plan.objects.get(code="zhangjiakou-2024")
        for username, code, title, body, submit in DEMO_ACTIONS:
            if MeasureAction.objects.filter(title=title).exists():
                continue
            user = User.objects.get(username=username)
            action = plan_services.save_measure_action(
                actor=user, measure=Measure.objects.get(plan=plan, code=code), title=title, body=body
            )
            if submit:
                plan_services.submit_measure_action(actor=user, action=action)

    def _print_accounts(self) -> None:
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS(f"演示账号（密码均为 {DEMO_PASSWORD}）："))
        self.stdout.write(f"  {'admin':<10} 系统管理员（后台 /admin/）")
        for username, name, role, _org in DEMO_USERS:
            self.stdout.write(f"  {username:<10} {role.label:<8} {name}")
        self.stdout.write("  tb-<单位代码> 其他填报单位的填报员（如 tb-police 市公安局、tb-transport 市交通运输局）")
        self.stdout.write("网站启动后（make run 会显示它的地址）用以上账号登录。")
