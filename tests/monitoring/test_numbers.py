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


def test_the_demo_invents_whole_cameras_and_kilometres_with_decimals(setup) -> None:
    """The issue saw 18.17 cameras in the demo: its figures for a count are whole numbers."""
    import random

    from huanxin.demo.monitoring import _value
    from huanxin.monitoring.models import IndicatorSetting

    rng = random.Random(1)
    video = IndicatorSetting.objects.get(indicator__code="police-video-devices-renewed")
    gas = IndicatorSetting.objects.get(indicator__code="gas-pipeline-renewed-km")
    cameras = [_value(video, 0.5, 0.07, w, rng) for w in (0.05, 0.1, 0.3)]
    assert all(c == c.to_integral_value() for c in cameras) and len(set(cameras)) == 3
    assert any(k != k.to_integral_value() for k in (_value(gas, 0.5, 0.07, 0.1, rng) for _ in range(5)))
