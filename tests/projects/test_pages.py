"""Project pages as people use them, the Excel import of the enterprise register, and the exports."""

from __future__ import annotations

import io

import pytest
from django.test import Client
from openpyxl import Workbook, load_workbook

from huanxin.core.models import Organisation, Region
from huanxin.core.roles import Role
from huanxin.projects import excel, services
from huanxin.projects.models import Enterprise, Project, Recognition
from tests.factories import UserFactory
from tests.jobs.helpers import run_queued_jobs
from tests.projects.conftest import add_item, credit_code, declare

pytestmark = pytest.mark.django_db


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_an_enterprise_declares_through_the_form_and_sees_the_flag(owner, enterprise) -> None:
    client = logged_in(owner)
    assert "申报设备更新项目" in client.get("/projects/new/").content.decode()
    data = {
        "title": "热处理线节能改造",
        "field": "industry",
        "total_investment": "3000",
        "equipment_investment": "3500",  # above the total
        "starts_on": "2025-04-01",
        "ends_on": "2026-03-31",
        "annual_energy_tce": "15000",
        "token": "t-1",
    }
    refused = client.post("/projects/new/", data)
    assert refused.status_code == 200 and "设备投资不能超过总投资" in refused.content.decode()
    assert not Project.objects.exists()
    saved = client.post("/projects/new/", {**data, "equipment_investment": "2000.5"})
    project = Project.objects.get()
    assert saved["Location"] == f"/projects/{project.code}/"
    assert project.equipment_investment_fen == 20_005_000_00
    client.post("/projects/new/", {**data, "equipment_investment": "2000.5"})  # a double click
    assert Project.objects.count() == 1
    base = f"/projects/{project.code}/"
    item = {
        "name": "中频感应炉",
        "quantity": "1",
        "unit_price": "1800000",
        "category": "induction_furnace",
        "grade": "3级",
    }
    client.post(base + "item/", item)
    bad = client.post(base + "item/", {**item, "grade": "9级"}, follow=True).content.decode()
    assert "未知的能效等级" in bad
    page = client.get(base).content.decode()
    assert "1 项设备低于节能水平" in page and "中频感应电炉能效3级，低于节能水平" in page
    client.post(base + "submit/")
    project.refresh_from_db()
    assert project.status == Project.Status.SUBMITTED


def test_the_county_sees_the_flag_and_cannot_approve(owner, enterprise, county) -> None:
    project = declare(owner, enterprise)
    add_item(owner, project, grade="3级")
    services.submit_project(actor=owner, project=project)
    client = logged_in(county)
    page = client.get(f"/projects/{project.code}/").content.decode()
    assert "低于节能水平" in page and "县区审核" in page
    result = client.post(f"/projects/{project.code}/approve/", follow=True).content.decode()
    assert "请退回企业修改，或说明理由予以豁免" in result
    project.refresh_from_db()
    assert project.status == Project.Status.SUBMITTED
    assert logged_in(county).get("/").status_code == 200  # the 待办 provider works for a county officer


def test_library_export_and_financing_list(owner, enterprise, county, miit, boss) -> None:
    project = declare(owner, enterprise, seeks_loan=True, loan_wanted_fen=10_000_000_00)
    add_item(owner, project)
    services.submit_project(actor=owner, project=project)
    services.review_project(actor=county, project=project, decision="approve")
    services.review_project(actor=miit, project=project, decision="approve")
    client = logged_in(boss)
    listing = client.get("/projects/", {"status": "approved"}).content.decode()
    assert project.title in listing and "已入库" in listing
    export = client.get("/projects/", {"status": "approved", "format": "xlsx"})
    sheet = load_workbook(io.BytesIO(export.content)).active
    assert sheet.cell(2, 1).value == project.code and sheet.cell(2, 8).value == 3000.0
    banks = client.get("/projects/financing/", {"format": "xlsx"})
    assert load_workbook(io.BytesIO(banks.content)).active.cell(2, 8).value == 1000.0
    assert "有融资需求的项目" in client.get("/projects/financing/").content.decode()
    assert logged_in(owner).get("/projects/financing/").status_code == 403


def workbook(rows) -> bytes:
    wb = Workbook()
    wb.active.append(excel.HEADERS)
    for row in rows:
        wb.active.append(row)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def test_the_import_keeps_good_rows_and_gives_reasons(boss) -> None:
    good, other = credit_code(11), credit_code(12)
    rows = [
        [good, "张家口宏远机械有限公司", "宣化区", "工业", "C34", "是", "省级", 2024],
        [good[:-1] + ("1" if good[-1] != "1" else "2"), "校验位错误", "宣化区", "工业", "", "", "", ""],
        [other, "未知县区的企业", "火星县", "工业", "", "", "", ""],
        [credit_code(13), "未知领域", "张北县", "航天", "", "", "", ""],
        [credit_code(14), "认定缺年度", "张北", "农业", "", "否", "市级", ""],
        [credit_code(15), "蔚县现代农业公司", "蔚县", "农业", "A01", "否", "市级", 2025],
    ]
    results, result_file = excel.import_enterprises(actor=boss, data=workbook(rows))
    assert [r.ok for r in results] == [True, False, False, False, False, True]
    messages = [r.message for r in results]
    assert "统一社会信用代码" in messages[1] and "请选择所在县区" in messages[2]
    assert "领域应为" in messages[3] and "认定年度" in messages[4]
    assert Enterprise.objects.count() == 2
    assert not Enterprise.objects.filter(uscc=credit_code(14)).exists()  # the row failed whole: no half-saved row
    assert Recognition.objects.filter(enterprise__uscc=good, level="provincial", year=2024).exists()
    again, _ = excel.import_enterprises(actor=boss, data=workbook(rows[:1]))
    assert again[0].message == "已更新（或无变化）" and Enterprise.objects.count() == 2
    sheet = load_workbook(io.BytesIO(result_file)).active
    assert sheet.cell(1, 9).value == "结果" and "统一社会信用代码" in sheet.cell(3, 9).value


def test_the_import_page_and_scoping_of_enterprises(boss, enterprise, owner, county) -> None:
    client = logged_in(boss)
    page = client.post(
        "/projects/enterprises/import/",
        {"file": io.BytesIO(workbook([[credit_code(21), "新企业", "宣化区", "工业", "", "是", "", ""]]))},
    )
    assert page.status_code == 302  # the rows are saved by a worker (projects/jobs.py)
    run_queued_jobs()
    assert "共 1 行：1 行已导入或更新，0 行未导入" in client.get(page["Location"]).content.decode()
    assert Enterprise.objects.filter(uscc=credit_code(21)).exists()
    assert logged_in(owner).get("/projects/enterprises/import/").status_code == 403
    assert logged_in(owner).get("/projects/enterprises/").status_code == 302  # to its own page
    zhangbei = UserFactory(
        role=Role.COUNTY_OFFICER,
        organisation=Organisation.objects.create(
            name="张北县人民政府", kind="county_government", region=Region.objects.get(code="130722")
        ),
    )
    assert logged_in(zhangbei).get(f"/projects/enterprises/{enterprise.pk}/").status_code == 404
    assert logged_in(county).get(f"/projects/enterprises/{enterprise.pk}/").status_code == 200


def test_an_enterprise_files_its_survey(owner, enterprise) -> None:
    client = logged_in(owner)
    url = f"/projects/enterprises/{enterprise.pk}/"
    bad = client.post(url, {"year": "2025", "nc_rate": "130"}).content.decode()
    assert "数控化率应在0到100之间" in bad
    client.post(
        url,
        {"year": "2025", "digital_rd_tools": "on", "nc_rate": "82.5", "capacity": "100", "benchmark_capacity": "30"},
    )
    survey = enterprise.surveys.get()
    assert survey.nc_rate == 82.5 and survey.digital_rd_tools
