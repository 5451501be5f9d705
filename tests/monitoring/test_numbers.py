"""Numbers people trust: counts are whole everywhere they are entered, and the entry template shows each value
with its unit and lets a spreadsheet refuse a fraction of a count before it is uploaded."""

from __future__ import annotations

import io

import pytest
from django.utils import timezone
from openpyxl import load_workbook

from huanxin.monitoring import excel, selectors, services
from huanxin.monitoring.models import IndicatorValue, Period
from huanxin.monitoring.periods import Frequency
from tests.factories import officer
from tests.monitoring.test_ledgers import setup

pytestmark = pytest.mark.django_db
__all__ = ["setup"]  # a fixture, used by name


@pytest.fixture
def period(setup) -> Period:
    return services.ensure_period(ref=selectors.latest_open_period(Frequency.QUARTER, timezone.localdate()))


def test_the_template_shows_each_value_with_its_unit_and_checks_counts(period) -> None:
    police = officer("市公安局")
    wb = load_workbook(io.BytesIO(excel.build_template(user=police, period=period)))
    ws = wb["填报"]
    rows = list(ws.iter_rows(min_row=2))
    assert rows and all(r[4].value == "个" for r in rows)  # the video devices, by county
    assert {r[5].number_format for r in rows} == {'General" 个"'}
    (check,) = ws.data_validations.dataValidation
    assert check.type == "whole" and check.operator == "greaterThanOrEqual" and check.formula1 == "0"
    assert check.error == "该指标以“个”计数，请填写整数" and check.showErrorMessage
    assert str(check.sqref).split() == [f"F{n}" for n in range(2, ws.max_row + 1)]
    wb = load_workbook(io.BytesIO(excel.build_template(user=officer("市住房和城乡建设局"), period=period)))
    ws = wb["填报"]
    assert ws["F2"].number_format == 'General" 公里"'
    assert [v.type for v in ws.data_validations.dataValidation] == ["decimal"]  # kilometres have decimals


def test_an_uploaded_fraction_of_a_count_is_refused_and_a_whole_one_saved(period) -> None:
    police = officer("市公安局")
    wb = load_workbook(io.BytesIO(excel.build_template(user=police, period=period)))
    ws = wb["填报"]
    ws["F2"], ws["F3"] = 18.17, 18.0
    out = io.BytesIO()
    wb.save(out)
    results = excel.import_workbook(user=police, period=period, data=out.getvalue())
    assert [(r.ok, r.message) for r in results] == [(False, "该指标以“个”计数，请填写整数"), (True, "已保存（草稿）")]
    assert [v.value for v in IndicatorValue.objects.all()] == [18]
