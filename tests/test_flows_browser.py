"""Every flow the README names, walked in Chromium by the demo account it names, from login to its end state, on the
data of the real `huanxin demo` (run once, here: about two minutes, so the six flows share one test and report as
subtests).

Each flow starts from its page's address, not from the home page or the navigation (both are redesigned as they
are needed), and clicks the forms' buttons by their names, as a person would; its end state is checked on the page
and in the database. Background jobs (the bank's result file, the plan document) are run with the real worker loop
when the page shows the job. Screenshots land in test-artifacts/flow-*.png."""

from __future__ import annotations

import csv
import datetime as dt
import io
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone
from stdnum import luhn

from huanxin.demo.flows import jumin_car_vin
from huanxin.demo.management.commands.demo import DEMO_PASSWORD
from tests.browser import ARTIFACTS, browser_page, skip_without_chromium
from tests.jobs.helpers import run_queued_jobs

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
skip_without_chromium()
__all__ = ["browser_page"]  # the fixture, used by name


def sign_in(page: Any, live_server: Any, username: str) -> None:
    """Log in with the printed demo password, as whoever used the page before has logged out."""
    page.context.clear_cookies()
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(lambda url: "/accounts/login/" not in url)


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"flow-{name}.png"), full_page=True)


def test_every_readme_flow_with_the_demo_accounts(plan, live_server, browser_page, subtests, tmp_path) -> None:
    call_command("demo", stdout=StringIO())
    page = browser_page
    page.set_viewport_size({"width": 1366, "height": 900})
    for flow in (subsidy_flow, project_flow, recycling_flow, monitoring_flow, plan_import_flow, notice_flow):
        with subtests.test(flow.__name__):
            flow(page, live_server, tmp_path)


# (a) a citizen applies → reviewer 1 approves → reviewer 2 approves (two-person rule) → finance pays -------------


def subsidy_flow(page: Any, live_server: Any, tmp_path: Path) -> None:
    from huanxin.subsidies.models import Application, PaymentBatch, Programme

    programme = Programme.objects.get(category="car_scrap")
    today = timezone.localdate()

    # 林芳 scrapped her old car (the demo's certificate): she applies in her verified identity, from her phone
    sign_in(page, live_server, "jumin")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/subsidies/apply/{programme.code}/")
    page.get_by_label("旧车车辆识别代号（VIN）").fill(jumin_car_vin())
    page.get_by_label("新车类型").select_option("nev")
    page.get_by_label("新车品牌型号").fill("比亚迪秦PLUS")
    page.get_by_label("发票号码").fill("13070024120801")
    page.get_by_label("开票日期").fill(today.isoformat())
    page.get_by_label("成交价（元）").fill("109800")
    page.get_by_label("户名").fill("林芳")
    base = "622202130700123456"
    page.get_by_label("银行卡号（账号）").fill(base + luhn.calc_check_digit(base))
    page.get_by_label("开户行").fill("中国工商银行张家口分行营业部")
    page.get_by_label("联行号").fill("102138000018")
    shot(page, "a1-apply-phone")
    page.get_by_role("button", name="提交申请").click()
    page.wait_for_url("**/subsidies/applications/*/")
    number = page.url.rstrip("/").rsplit("/", 1)[-1]
    application = Application.objects.get(number=number)
    assert application.programme == programme and application.amount_fen == 2_000_000  # above the two-person limit
    assert application.status == Application.Status.RESERVED
    page.set_viewport_size({"width": 1366, "height": 900})

    # 周婷 approves first; the application waits for a second person, and she may not approve it twice
    sign_in(page, live_server, "shenhe")
    page.goto(f"{live_server.url}/subsidies/applications/{number}/")
    page.get_by_role("button", name="通过", exact=True).click()
    page.get_by_text("待复核").first.wait_for()
    application.refresh_from_db()
    assert application.status == Application.Status.IN_REVIEW
    shot(page, "a2-first-approval")

    # 韩雪, the second reviewer, approves: the subsidy waits for payment
    sign_in(page, live_server, "shenhe2")
    page.goto(f"{live_server.url}/subsidies/applications/{number}/")
    page.get_by_role("button", name="通过", exact=True).click()
    page.get_by_text("审核通过").first.wait_for()
    application.refresh_from_db()
    assert application.status == Application.Status.APPROVED
    assert set(application.decisions.values_list("actor__username", flat=True)) == {"shenhe", "shenhe2"}

    # 吴刚 makes the payment batch, downloads the bank file and imports the bank's answer (a background job)
    sign_in(page, live_server, "caiwu")
    page.goto(f"{live_server.url}/subsidies/payments/")
    page.locator("tr", has_text=programme.name).get_by_role("button", name="生成发放批次").click()
    page.wait_for_url("**/subsidies/payments/*/")
    batch = PaymentBatch.objects.get(payments__application=application)
    assert page.get_by_role("heading", name=f"发放批次 {batch.number}").is_visible()
    with page.expect_download() as download:
        page.get_by_role("button", name="下载发放文件").click()
    assert download.value.suggested_filename.endswith(".xlsx")
    batch.refresh_from_db()
    assert batch.status != PaymentBatch.Status.DRAFT
    result = tmp_path / "银行回单.csv"
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["申请编号", "结果", "银行流水号", "失败原因"])
    for n, paid in enumerate(batch.payments.order_by("pk").values_list("application__number", flat=True), start=1):
        writer.writerow([paid, "成功", f"ICBC{today:%Y%m%d}{n:06d}", ""])
    result.write_text(out.getvalue(), encoding="utf-8")
    page.get_by_label("银行回单文件").set_input_files(str(result))
    page.get_by_role("button", name="导入", exact=True).click()
    page.wait_for_url("**/jobs/*/")
    run_queued_jobs()
    page.reload()
    page.locator("#job-progress").get_by_text("已完成").wait_for()
    page.goto(f"{live_server.url}/subsidies/payments/{batch.number}/")
    batch.refresh_from_db()
    application.refresh_from_db()
    assert batch.status == PaymentBatch.Status.SETTLED
    assert application.status == Application.Status.PAID
    assert page.get_by_text(batch.get_status_display()).first.is_visible()
    shot(page, "a3-batch-settled")


# (b) an enterprise declares a project → the county approves → the field's department approves ---------------------


def project_flow(page: Any, live_server: Any, tmp_path: Path) -> None:
    from huanxin.projects.models import Project

    sign_in(page, live_server, "qiye")
    page.goto(f"{live_server.url}/projects/new/")
    page.get_by_label("项目名称").fill("宣钢装备热处理炉节能改造")
    page.get_by_label("领域").select_option(label="工业")
    page.get_by_label("建设内容").fill("更新热处理生产线的电机和风机，降低能耗。")
    page.get_by_label("总投资（万元）").fill("860")
    page.get_by_label("其中设备投资（万元）").fill("520")
    starts = timezone.localdate() + dt.timedelta(days=30)
    page.get_by_label("开工日期").fill(starts.isoformat())
    page.get_by_label("竣工日期").fill((starts + dt.timedelta(days=300)).isoformat())
    page.get_by_label("年综合能耗（吨标准煤）").fill("3200")
    page.get_by_role("button", name="保存", exact=True).click()
    page.wait_for_url(lambda url: "/projects/new/" not in url)
    project = Project.objects.get(title="宣钢装备热处理炉节能改造")
    assert project.status == Project.Status.DRAFT and project.region.code == "130705"  # 宣化区

    form = page.locator("#item-form")
    form.get_by_label("设备名称").fill("永磁同步电机")
    form.get_by_label("型号").fill("TYCX-250")
    form.get_by_label("数量").fill("12")
    form.get_by_label("单价（元）").fill("85000")
    form.get_by_label("产品类别").select_option("motor")
    form.get_by_label("能效等级").fill("1级")
    form.get_by_role("button", name="添加").click()
    page.get_by_role("cell", name="永磁同步电机", exact=True).wait_for()
    page.get_by_role("button", name="提交县区审核").click()
    page.get_by_text(Project.Status.SUBMITTED.label).first.wait_for()
    project.refresh_from_db()
    assert project.status == Project.Status.SUBMITTED

    # 宣化区's officer reviews the enterprises of 宣化区
    sign_in(page, live_server, "xuanhua")
    page.goto(f"{live_server.url}/projects/{project.code}/")
    page.get_by_role("button", name="审核通过").click()
    page.get_by_text(Project.Status.COUNTY_APPROVED.label).first.wait_for()
    project.refresh_from_db()
    assert project.status == Project.Status.COUNTY_APPROVED

    # then industry's department
    sign_in(page, live_server, "gongxin")
    page.goto(f"{live_server.url}/projects/{project.code}/")
    page.get_by_role("button", name="审核通过").click()
    page.get_by_text(Project.Status.APPROVED.label).first.wait_for()
    project.refresh_from_db()
    assert project.status == Project.Status.APPROVED
    shot(page, "b-project-approved")


# (c) a citizen books a pickup → the recycler accepts and completes → a certificate → verified in public -----------


def recycling_flow(page: Any, live_server: Any, tmp_path: Path) -> None:
    from huanxin.recycling.models import Booking, Certificate

    recycler = "张家口绿源再生资源回收有限公司"
    sign_in(page, live_server, "jumin")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/recycling/book/")
    page.get_by_label("所在县区").select_option("130705")
    page.locator("input[name=categories][value=refrigerator]").check()
    page.get_by_role("button", name="查找可预约时段").click()
    page.locator("label.slot", has_text=recycler).first.get_by_role("radio").check()
    page.get_by_label("联系人").fill("林芳")
    page.get_by_label("手机号码").fill("13903130520")
    page.get_by_label("上门地址").fill("宣化区钟楼小区3号楼2单元401")
    shot(page, "c1-book-phone")
    page.get_by_role("button", name="提交预约").click()
    page.wait_for_url("**/recycling/bookings/*/")
    number = page.url.rstrip("/").rsplit("/", 1)[-1]
    booking = Booking.objects.get(number=number)
    assert booking.status == Booking.Status.SUBMITTED and booking.site.organisation.name == recycler
    page.set_viewport_size({"width": 1366, "height": 900})

    sign_in(page, live_server, "huishou")
    page.goto(f"{live_server.url}/recycling/bookings/{number}/")
    page.get_by_role("button", name="接单", exact=True).click()
    page.get_by_role("button", name="确认完成").wait_for()
    page.get_by_label("冰箱重量").fill("62.5")
    page.get_by_label("冰箱支付金额").fill("80")
    page.get_by_role("button", name="确认完成").click()
    page.get_by_role("link", name="为冰箱出具收旧凭证").click()
    page.get_by_label("品牌型号").fill("海尔BCD-215")
    page.get_by_role("button", name="出具", exact=True).click()
    page.wait_for_url("**/recycling/certificates/*/")
    booking.refresh_from_db()
    assert booking.status == Booking.Status.COMPLETED
    certificate = Certificate.objects.get(booking=booking)
    assert certificate.kind == Certificate.Kind.TAKE_BACK and certificate.status == "valid"
    shot(page, "c2-certificate")

    # anyone checks it on the public page, without logging in
    page.context.clear_cookies()
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/recycling/verify/")
    page.get_by_label("证明编号").fill(certificate.number)
    page.get_by_label("校验码").fill(certificate.verify_code.lower())  # not case-sensitive
    page.get_by_role("button", name="核验").click()
    result = page.locator("#verify-result")
    result.get_by_text("证明有效").wait_for()
    assert certificate.number in result.inner_text() and recycler in result.inner_text()
    shot(page, "c3-verified-phone")
    page.set_viewport_size({"width": 1366, "height": 900})

    # the dismantler issues a 报废机动车回收证明 (only a dismantling site may), verified the same way
    sign_in(page, live_server, "chaijie")
    page.goto(f"{live_server.url}/recycling/certificates/new/vehicle/")
    assert page.get_by_label("出具站点").locator("option").first.inner_text() != "（没有可出具此证明的站点）"
    page.get_by_label("车辆识别代号（VIN）").fill("LHG88NY92LC1HAUA4")
    page.get_by_label("号牌号码").fill("冀GA3K51")
    page.get_by_label("车辆类型").fill("小型轿车")
    page.get_by_label("燃料类型").select_option("petrol")
    page.get_by_label("排放标准").fill("国三")
    page.get_by_label("初次登记日期").fill("2009-04-18")
    page.get_by_label("机动车所有人").fill("王建华")
    page.get_by_label("证件号码", exact=False).fill("130705198606035642")
    page.get_by_role("button", name="出具", exact=True).click()
    page.wait_for_url("**/recycling/certificates/*/")
    car = Certificate.objects.get(vin="LHG88NY92LC1HAUA4")
    assert car.kind == Certificate.Kind.VEHICLE and car.site.kind == "dismantler"


# (d) the county enters a value → the department submits → the task force approves -----------------------------


def monitoring_flow(page: Any, live_server: Any, tmp_path: Path) -> None:
    from huanxin.monitoring.models import IndicatorValue
    from huanxin.monitoring.periods import Frequency
    from huanxin.monitoring.selectors import latest_open_period

    indicator = "淘汰更新改造燃气老旧管网"
    cell = f"{indicator} 张北县"
    period = latest_open_period(Frequency.QUARTER, timezone.localdate())

    sign_in(page, live_server, "zhangbei")
    page.goto(f"{live_server.url}/monitoring/report/")
    assert page.get_by_role("heading", name=f"数据填报 · {period.label}").is_visible()  # the latest quarter
    assert page.get_by_label(cell).input_value() == ""  # left for 张北县 to fill in
    page.get_by_label(cell).fill("4.2")
    page.get_by_role("button", name="保存草稿").click()
    page.get_by_text("已保存").first.wait_for()
    value = IndicatorValue.objects.get(indicator__name=indicator, region__code="130722", period__code=period.code)
    assert value.status == IndicatorValue.Status.DRAFT
    shot(page, "d1-county-sheet")

    sign_in(page, live_server, "zhujian")
    page.goto(f"{live_server.url}/monitoring/report/?period={period.code}")
    assert page.get_by_label(cell).input_value() == "4.2"
    page.get_by_role("button", name="保存并报送").click()
    page.get_by_text("至工作专班审核").first.wait_for()
    value.refresh_from_db()
    assert value.status == IndicatorValue.Status.SUBMITTED

    sign_in(page, live_server, "zhuanban")
    page.goto(f"{live_server.url}/monitoring/review/?period={period.code}")
    page.locator("tr").filter(has=page.get_by_label(f"退回原因 {cell}")).get_by_role(
        "button", name="通过", exact=True
    ).click()
    page.get_by_text(f"已审核通过：{indicator}（张北县）").wait_for()
    value.refresh_from_db()
    assert value.status == IndicatorValue.Status.APPROVED
    shot(page, "d2-approved")


# (e) the task force imports a plan document → fixes the draft → publishes ------------------------------------------

CHONGLI_TITLE = "崇礼区推动大规模设备更新和消费品以旧换新实施方案"
CHONGLI_NUMBER = "崇礼政字〔2024〕8号"
CHONGLI = """崇礼区推动大规模设备更新和消费品以旧换新实施方案

张家口市崇礼区人民政府
2024年7月1日

为贯彻落实国务院《推动大规模设备更新和消费品以旧换新行动方案》（国发〔2024〕7号），结合我区实际，制定本方案。

一、总体目标
到2027年，全区文旅、交通、医疗等领域设备投资规模较2023年增长20%以上。

二、实施设备更新行动
（一）推进文旅设备更新
1.更新滑雪场设备。推动滑雪场更新造雪机、压雪车和索道设备，到2027年完成更新项目10个以上。（区文化广电和旅游局牵头，区发展和改革局配合）

三、保障措施
各乡镇、各部门要高度重视，按照职责分工抓好落实。
"""


def plan_import_flow(page: Any, live_server: Any, tmp_path: Path) -> None:
    from huanxin.plans.models import Plan, PlanImport

    document = tmp_path / "崇礼区推动大规模设备更新和消费品以旧换新实施方案.txt"
    document.write_text(CHONGLI, encoding="utf-8")
    before = set(PlanImport.objects.values_list("pk", flat=True))

    sign_in(page, live_server, "zhuanban")
    page.goto(f"{live_server.url}/plans/imports/new/")
    page.get_by_label("方案文件", exact=False).set_input_files(str(document))
    page.get_by_role("button", name="上传并生成草稿").click()
    page.wait_for_url("**/jobs/*/")
    run_queued_jobs()
    page.reload()
    page.locator("#job-progress").get_by_text("已完成").wait_for()
    imported = PlanImport.objects.exclude(pk__in=before).get()
    page.goto(f"{live_server.url}/plans/imports/{imported.pk}/")

    # the fix: the document carries no 文号 (the importer leaves a stand-in), the reviewer types it from the paper
    header = page.locator("#header")  # 方案信息: the draft's header as a form
    if header.count():
        for label, value in (
            ("方案代码", "chongli-2024"),
            ("方案名称", CHONGLI_TITLE),
            ("文号", CHONGLI_NUMBER),
            ("发文机关", "张家口市崇礼区人民政府"),
            ("成文日期", "2024-07-01"),
            ("地区代码", "130709"),
        ):
            if header.get_by_label(label).count():
                header.get_by_label(label).fill(value)
        header.get_by_role("button", name="保存方案信息").click()
    else:  # the draft edited as YAML
        editor = page.get_by_label("草稿 YAML")
        fixed = editor.input_value().replace("（请填写文号）", CHONGLI_NUMBER, 1)
        assert fixed != editor.input_value()
        editor.fill(fixed)
        page.get_by_role("button", name="保存并校验").click()
    page.wait_for_load_state()
    imported.refresh_from_db()
    assert CHONGLI_NUMBER in imported.draft_yaml
    shot(page, "e1-draft")

    page.once("dialog", lambda dialog: dialog.accept())  # 确定发布吗？
    page.locator("#publish-form").get_by_role("button", name="发布", exact=True).click()
    page.get_by_text("已发布为实施方案").first.wait_for()
    imported.refresh_from_db()
    assert imported.status == "published"
    published = Plan.objects.get(title=CHONGLI_TITLE)
    assert published.document_number == CHONGLI_NUMBER and published.region.code == "130709"
    assert published.measures.filter(title__contains="更新滑雪场").exists()
    shot(page, "e2-published")


# (f) the task force issues a 督办单 → the department answers → the task force closes it ----------------------------


def notice_flow(page: Any, live_server: Any, tmp_path: Path) -> None:
    from huanxin.supervision.models import Notice

    subject = "燃气老旧管网改造第四季度进度滞后"
    sign_in(page, live_server, "zhuanban")
    page.goto(f"{live_server.url}/supervision/notices/new/")
    page.get_by_label("督办对象").select_option(label="市住房和城乡建设局")
    page.get_by_label("关于指标").select_option(label="淘汰更新改造燃气老旧管网（二（二）2）")
    page.get_by_label("督办事项").fill(subject)
    page.get_by_label("督办内容").fill("本季度燃气老旧管网改造进度低于计划，请说明原因并提出赶进度措施。")
    page.get_by_label("办理时限").fill((timezone.localdate() + dt.timedelta(days=10)).isoformat())
    page.get_by_role("button", name="发出").click()
    page.wait_for_url("**/supervision/notices/*/")
    notice = Notice.objects.get(subject=subject)
    assert notice.status == Notice.Status.ISSUED

    sign_in(page, live_server, "zhujian")
    page.goto(f"{live_server.url}/supervision/notices/")
    page.locator("tr", has_text=subject).get_by_role("link", name=notice.number).click()
    page.get_by_label("答复内容").fill("已约谈施工单位，增加两个作业面，12月底前补齐进度。")
    page.get_by_role("button", name="提交答复").click()
    page.get_by_text("已约谈施工单位").first.wait_for()
    notice.refresh_from_db()
    assert notice.status == Notice.Status.ANSWERED

    sign_in(page, live_server, "zhuanban")
    page.goto(f"{live_server.url}/supervision/notices/{notice.pk}/")
    page.get_by_label("办结意见").fill("措施可行，按期跟踪。")
    page.get_by_role("button", name="办结", exact=True).click()
    page.get_by_text("措施可行，按期跟踪。").first.wait_for()
    notice.refresh_from_db()
    assert notice.status == Notice.Status.CLOSED
    shot(page, "f-notice-closed")
