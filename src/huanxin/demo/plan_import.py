"""A plan document imported for review, so the task force's 方案文件导入 list is not empty: a short county plan in
the shape every county issued in 2024 (invented for the demo), read by the real importer and left as a draft.
"""

from __future__ import annotations

from typing import TextIO

from django.core.management.base import OutputWrapper

from huanxin.core.models import User
from huanxin.jobs.models import Job
from huanxin.plans import jobs as plan_jobs
from huanxin.plans.models import PlanImport

FILENAME = "张北县推动大规模设备更新和消费品以旧换新实施方案.txt"

SAMPLE = """张北县推动大规模设备更新和消费品以旧换新实施方案

张北政字〔2024〕12号
张北县人民政府
2024年6月3日

为贯彻落实国务院《推动大规模设备更新和消费品以旧换新行动方案》（国发〔2024〕7号），结合我县实际，制定本方案。

一、总体目标
到2027年，全县工业、农业、建筑、交通、教育、文旅、医疗等领域设备投资规模较2023年增长25%以上。

二、实施设备更新行动
（一）推进重点行业设备更新改造
1.提升设备安全性。推动化工、民爆等行业更新改造老旧设备，到2027年完成改造项目50个以上。（县工业和信息化局、县应急管理局按职责分工负责）
2.加快建筑市政设施更新。更新改造燃气老旧管网120公里以上。（县住房和城乡建设局牵头，县城市管理综合行政执法局配合）

三、实施消费品以旧换新行动
（一）开展汽车以旧换新。加大报废汽车回收力度，到2027年报废汽车回收量较2023年增加约一倍。（县商务局、县公安局等按职责分工负责）

四、保障措施
各乡镇、各部门要高度重视，按照职责分工抓好落实。
"""


def build(stdout: TextIO | OutputWrapper) -> None:
    """Upload the sample once (nothing when any import or import job exists), as the page does: a `plan_import`
    job, which the demo's worker run at the end (demo/jobs.py) reads into a draft, so 王建国's 最近的导入 and
    后台任务 show a finished job beside the draft."""
    if PlanImport.objects.exists() or Job.objects.filter(kind=plan_jobs.KIND).exists():
        return
    actor = User.objects.get(username="zhuanban")
    job = plan_jobs.start_import(actor=actor, filename=FILENAME, data=SAMPLE.encode(), content_type="text/plain")
    stdout.write(f"方案文件导入演示：{FILENAME}（后台任务 {job.pk}）\n")
