"""The life of a reported value: save, submit, approve or return, correct; every step in the history."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from io import StringIO

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command

from huanxin.core.models import AuditEvent, Region
from huanxin.monitoring import services
from huanxin.monitoring.models import IndicatorSetting, IndicatorValue, Period
from huanxin.monitoring.periods import PeriodRef
from huanxin.plans.models import Indicator
from tests.conftest import postgres_only
from tests.factories import officer, task_force

pytestmark = pytest.mark.django_db
AFTER_Q2 = dt.date(2025, 7, 5)


@pytest.fixture
def setup(plan):
    call_command("monitoring", "setup", stdout=StringIO())
    return plan


@pytest.fixture
def q2(setup) -> Period:
    return services.ensure_period(ref=PeriodRef.parse("2025-Q2"))


@pytest.fixture
def gas(setup) -> Indicator:
    return Indicator.objects.get(plan=setup, code="gas-pipeline-renewed-km")


@pytest.fixture
def zhangbei(setup) -> Region:
    return Region.objects.get(code="130722")


@pytest.fixture
def clerk(setup):
    return officer("市住房和城乡建设局")


def save(clerk, gas, q2, region, value, **kw) -> IndicatorValue:
    return services.save_value(actor=clerk, indicator=gas, period=q2, region=region, value=value, today=AFTER_Q2, **kw)


def test_setup_gives_each_quantitative_indicator_a_reporter(setup) -> None:
    settings = IndicatorSetting.objects.filter(indicator__plan=setup)
    assert settings.count() == Indicator.objects.filter(plan=setup).exclude(kind="qualitative").count()
    gas = settings.get(indicator__code="gas-pipeline-renewed-km")
    assert gas.reporting_department.name == "市住房和城乡建设局" and gas.by_county and gas.value_unit == "公里"
    video = settings.get(indicator__code="police-video-devices-renewed")
    assert video.reporting_department.name == "市公安局"  # the second clause's lead, not 住建局
    cars = settings.get(indicator__code="scrapped-cars-collected-growth")
    assert cars.value_unit == "辆" and cars.aggregation == "increment"


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("-3", "value_negative"),
        ("十二", "value_not_a_number"),
        ("12abc", "value_not_a_number"),
        ("", "value_missing"),
        ("NaN", "value_not_a_number"),
        ("1.123456", "value_precision"),
        ("1e15", "value_too_large"),
    ],
)
def test_bad_values_are_refused_with_a_reason(clerk, gas, q2, zhangbei, raw: str, code: str) -> None:
    with pytest.raises(ValidationError) as exc:
        save(clerk, gas, q2, zhangbei, raw)
    assert exc.value.code == code
    assert not IndicatorValue.objects.exists()


def test_a_count_refuses_a_fraction(setup, q2, zhangbei) -> None:
    """Video devices are counted (个): 18.17 of them is a typing slip; 18 and 18.0 are whole."""
    video = Indicator.objects.get(plan=setup, code="police-video-devices-renewed")
    police = officer("市公安局")
    with pytest.raises(ValidationError) as exc:
        services.save_value(actor=police, indicator=video, period=q2, region=zhangbei, value="18.17", today=AFTER_Q2)
    assert exc.value.code == "value_not_integer" and "请填写整数" in exc.value.messages[0]
    saved = services.save_value(actor=police, indicator=video, period=q2, region=zhangbei, value="18.0", today=AFTER_Q2)
    assert saved.value == 18


def test_a_share_above_100_is_refused(setup) -> None:
    share = Indicator.objects.get(plan=setup, code="benchmark-capacity-share")  # yearly, 市发改委's
    # Zhangjiakou derives it from the enterprise surveys; a city without them has the department report it
    services.configure_indicator(actor=None, indicator=share, source="reported", metric="")
    year = services.ensure_period(ref=PeriodRef.parse("2025"))
    clerk = officer("市发展和改革委员会")
    kwargs = {"actor": clerk, "indicator": share, "period": year, "region": setup.region, "today": dt.date(2026, 1, 5)}
    with pytest.raises(ValidationError, match="比例不能超过100%"):
        services.save_value(value="101", **kwargs)
    assert services.save_value(value="32.5", **kwargs).value == Decimal("32.5")


def test_derived_indicators_are_not_typed_in(setup, q2) -> None:
    buses = Indicator.objects.get(plan=setup, code="nev-share-new-buses")
    with pytest.raises(PermissionDenied, match="自动生成"):
        services.save_value(
            actor=officer("市交通运输局"), indicator=buses, period=q2, region=setup.region, value="90", today=AFTER_Q2
        )


def test_a_period_not_yet_over_is_refused(clerk, gas, q2, zhangbei) -> None:
    with pytest.raises(ValidationError) as exc:
        services.save_value(
            actor=clerk, indicator=gas, period=q2, region=zhangbei, value="3", today=dt.date(2025, 6, 15)
        )
    assert exc.value.code == "period_not_open"
    assert "尚未结束" in exc.value.messages[0]


def test_region_and_department_are_checked(setup, gas, q2, zhangbei) -> None:
    with pytest.raises(ValidationError, match="按县区填报"):
        save(officer("市住房和城乡建设局"), gas, q2, setup.region, "3")
    with pytest.raises(PermissionDenied, match="不是该指标的填报单位"):
        save(officer("市商务局"), gas, q2, zhangbei, "3")
    with pytest.raises(PermissionDenied):
        save(task_force(), gas, q2, zhangbei, "3")


def test_the_whole_life_of_a_value_is_in_its_history(clerk, gas, q2, zhangbei) -> None:
    boss = task_force()
    value = save(clerk, gas, q2, zhangbei, "3.5", note="住建局台账")
    assert save(clerk, gas, q2, zhangbei, "3.5", note="住建局台账").pk == value.pk  # same again: no new revision
    value = save(clerk, gas, q2, zhangbei, "4.2", note="住建局台账")
    assert services.submit_values(actor=clerk, values=[value]) == 1
    assert services.submit_values(actor=clerk, values=[value]) == 0  # a retried submission does nothing
    with pytest.raises(ValidationError, match="不能直接修改"):
        save(clerk, gas, q2, zhangbei, "5")

    with pytest.raises(ValidationError, match="写明原因"):
        services.return_value(actor=boss, value=value, reason=" ")
    services.return_value(actor=boss, value=value, reason="请附施工验收单")
    value = save(clerk, gas, q2, zhangbei, "4.0", note="附验收单")
    services.submit_values(actor=clerk, values=[value])
    with pytest.raises(PermissionDenied):
        services.approve_value(actor=clerk, value=value)
    services.approve_value(actor=boss, value=value)
    with pytest.raises(ValidationError, match="不在待审核状态"):
        services.approve_value(actor=boss, value=value)

    with pytest.raises(ValidationError, match="写明原因"):
        services.correct_value(actor=clerk, value=value, new_value="4.4", reason="")
    value = services.correct_value(actor=clerk, value=value, new_value="4.4", reason="补录宣化区交界段0.4公里")
    assert value.status == "submitted" and value.revision == 2 and value.value == Decimal("4.4")

    history = [(r.action, r.old_value, r.new_value, r.reason) for r in value.revisions.order_by("number")]
    assert history == [
        ("saved", None, Decimal("3.5"), ""),
        ("saved", Decimal("3.5"), Decimal("4.2"), ""),
        ("submitted", Decimal("4.2"), Decimal("4.2"), ""),
        ("returned", Decimal("4.2"), Decimal("4.2"), "请附施工验收单"),
        ("saved", Decimal("4.2"), Decimal("4.0"), ""),
        ("submitted", Decimal("4.0"), Decimal("4.0"), ""),
        ("approved", Decimal("4.0"), Decimal("4.0"), ""),
        ("corrected", Decimal("4.0"), Decimal("4.4"), "补录宣化区交界段0.4公里"),
    ]
    assert {r.actor for r in value.revisions.all()} == {clerk, boss}
    actions = list(
        AuditEvent.objects.filter(object_id=str(value.pk), object_type="monitoring.indicatorvalue").values_list(
            "action", flat=True
        )
    )
    assert actions.count("indicator_value.saved") == 3 and "indicator_value.corrected" in actions


def test_values_are_scoped(clerk, gas, q2, zhangbei) -> None:
    from huanxin.core.roles import Role
    from tests.factories import user_with_role

    value = save(clerk, gas, q2, zhangbei, "2")
    other = officer("市商务局")
    boss = task_force()
    assert IndicatorValue.objects.visible_to(clerk).filter(pk=value.pk).exists()
    assert not IndicatorValue.objects.visible_to(boss).filter(pk=value.pk).exists()  # a draft
    services.submit_values(actor=clerk, values=[value])
    assert IndicatorValue.objects.visible_to(boss).filter(pk=value.pk).exists()
    assert not IndicatorValue.objects.visible_to(other).filter(pk=value.pk).exists()  # not yet approved
    services.approve_value(actor=boss, value=value)
    assert IndicatorValue.objects.visible_to(other).filter(pk=value.pk).exists()
    assert not IndicatorValue.objects.visible_to(user_with_role(Role.CITIZEN)).exists()


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_clerks_saving_the_same_cell_at_once_leave_one_value(plan) -> None:
    """Real parallel connections (the in-memory SQLite test database cannot take threads)."""
    import threading

    from django.db import connections

    call_command("monitoring", "setup", stdout=StringIO())
    gas = Indicator.objects.get(plan=plan, code="gas-pipeline-renewed-km")
    period = services.ensure_period(ref=PeriodRef.parse("2025-Q2"))
    region = Region.objects.get(code="130722")
    clerks = [officer("市住房和城乡建设局") for _ in range(6)]
    barrier = threading.Barrier(len(clerks))
    errors: list[BaseException] = []

    def work(clerk, n: int) -> None:
        try:
            barrier.wait()
            services.save_value(
                actor=clerk, indicator=gas, period=period, region=region, value=str(n + 1), today=AFTER_Q2
            )
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(clerk, n)) for n, clerk in enumerate(clerks)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    value = IndicatorValue.objects.get(indicator=gas, period=period, region=region)
    revisions = list(value.revisions.order_by("number"))
    assert [r.number for r in revisions] == list(range(1, len(revisions) + 1))
    assert revisions[-1].new_value == value.value
    assert 1 <= len(revisions) <= 6


def test_a_county_officer_fills_in_the_county_and_the_department_submits(gas, q2, zhangbei, clerk, setup) -> None:
    from huanxin.core.models import Organisation
    from huanxin.core.roles import Role
    from tests.factories import UserFactory

    org = Organisation.objects.create(name="张北县人民政府", kind="county_government", region=zhangbei)
    county = UserFactory(role=Role.COUNTY_OFFICER, organisation=org)
    value = save(county, gas, q2, zhangbei, "2.6", note="县住建局台账")
    assert IndicatorValue.objects.visible_to(county).filter(pk=value.pk).exists()
    with pytest.raises(PermissionDenied, match="只能填写张北县的数值"):
        save(county, gas, q2, Region.objects.get(code="130723"), "1")
    video = Indicator.objects.get(plan=setup, code="nev-heavy-trucks")
    with pytest.raises(PermissionDenied):
        services.save_value(actor=county, indicator=video, period=q2, region=zhangbei, value="1", today=AFTER_Q2)
    with pytest.raises(PermissionDenied, match="责任单位经办人可以报送"):
        services.submit_values(actor=county, values=[value])
    # the city department sees the county's draft and submits it
    assert IndicatorValue.objects.visible_to(clerk).filter(pk=value.pk, status="draft").exists()
    assert services.submit_values(actor=clerk, values=[value]) == 1
    assert [r.actor for r in value.revisions.order_by("number")] == [county, clerk]
    # another county's officer sees nothing of it while it is not approved
    other = UserFactory(
        role=Role.COUNTY_OFFICER,
        organisation=Organisation.objects.create(
            name="康保县人民政府", kind="county_government", region=Region.objects.get(code="130723")
        ),
    )
    assert not IndicatorValue.objects.visible_to(other).filter(pk=value.pk).exists()
