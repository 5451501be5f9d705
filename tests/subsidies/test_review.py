"""Manual review: approve, reject (with or without fraud), ask for more material; the two-person rule above an
amount; county officers review their county only; the queue is sorted by risk."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from huanxin.core.models import AuditEvent, Organisation, Region, User
from huanxin.core.roles import Role
from huanxin.demo import identities
from huanxin.subsidies import rules, selectors
from huanxin.subsidies.applications import ItemIn, submit_application
from huanxin.subsidies.models import Application, Claim, Entry, MaterialRequest, Programme, ReviewDecision
from huanxin.subsidies.review import decide, queue, supply_material
from tests import clock
from tests.factories import UserFactory, user_with_role
from tests.subsidies.accounts import payee
from tests.subsidies.conftest import make_programme

pytestmark = pytest.mark.django_db
NOW = timezone.now()  # every test here runs at this instant (clock pinned): TODAY is the app's today
TODAY = timezone.localdate(NOW)
pinned_clock = clock.pinned(NOW)
NAME = "林芳"


def appliance_programme(boss: User, **kwargs: Any) -> Programme:
    values: dict[str, Any] = {
        "parameters": {**rules.DEFAULTS["appliance"], "sample_pct": 0},
        "budget_fen": 100_000_00,
        **kwargs,
    }
    return make_programme(boss, **values)


def item(**kwargs: Any) -> ItemIn:
    values: dict[str, Any] = {
        "kind": "refrigerator",
        "invoice_no": f"INV{random.randrange(10**9)}",
        "invoice_date": TODAY,
        "price_fen": 4_999_00,
        "grade": "1",
        "serial": f"SN{random.randrange(10**9)}",
    }
    return ItemIn(**{**values, **kwargs})


def big_items() -> list[ItemIn]:
    """Three items at the 2,000-yuan cap: 6,000 yuan, above the default two-person amount of 5,000 yuan."""
    return [item(kind=k, price_fen=10_000_00) for k in ("refrigerator", "tv", "washing_machine")]


def apply(actor: User, programme: Programme, items: list[ItemIn] | None = None, **kwargs: Any) -> Application:
    values = {
        "applicant_name": NAME,
        # a citizen applies in their own verified identity (实名), a merchant for a customer drawn from its number
        "applicant_id": actor.verified_resident_id or identities.resident_id(random.Random(actor.pk)),
        "phone": "13912345678",
        **payee(NAME),  # paid to the applicant (a citizen filing alone): the account is required
        **kwargs,
    }
    return submit_application(actor=actor, programme=programme, items=items or [item()], **values)


def code_of(exc: ValidationError) -> str:
    return exc.error_list[0].code or ""


def county_officer(code: str) -> User:
    region = Region.objects.get(code=code)
    org, _ = Organisation.objects.get_or_create(
        name=f"{region.name}人民政府", defaults={"kind": Organisation.Kind.COUNTY_GOVERNMENT, "region": region}
    )
    return UserFactory(role=Role.COUNTY_OFFICER, organisation=org)


@pytest.fixture
def programme(boss: User) -> Programme:
    return appliance_programme(boss)


@pytest.fixture
def citizen(plan: Any) -> User:
    return UserFactory(role=Role.CITIZEN, verified_name=NAME)  # applies as NAME, their verified name


@pytest.fixture
def reviewer(plan: Any) -> User:
    return user_with_role(Role.REVIEWER)


def test_approval_records_the_decision_and_an_event(citizen, programme, reviewer) -> None:
    application = apply(citizen, programme)
    result = decide(actor=reviewer, application=application, decision="approve", reason="材料齐全")
    assert result.status == Application.Status.APPROVED
    application.refresh_from_db()
    assert application.status == Application.Status.APPROVED
    decision = ReviewDecision.objects.get(application=application)
    assert (decision.actor, decision.decision, decision.reason) == (reviewer, "approve", "材料齐全")
    assert application.events.last().note == "审核通过，等待发放"
    assert selectors.balances(programme).reserved_fen == application.amount_fen  # still reserved until paid
    event = AuditEvent.objects.get(action="subsidies.application_approved")
    assert event.changes["number"] == application.number
    assert NAME not in str(event.changes) and application.applicant_id not in str(event.changes)
    assert application not in queue(reviewer)


def test_two_person_rule_needs_a_second_reviewer(citizen, programme, reviewer) -> None:
    application = apply(citizen, programme, big_items())
    assert application.amount_fen == 6_000_00
    first = decide(actor=reviewer, application=application, decision="approve")
    assert first.status == Application.Status.IN_REVIEW
    assert "待复核" in application.events.last().note
    assert application in queue(reviewer)  # still waits for the second person
    with pytest.raises(ValidationError) as exc:
        decide(actor=reviewer, application=application, decision="approve")
    assert code_of(exc.value) == "same_reviewer"
    assert ReviewDecision.objects.filter(application=application).count() == 1
    second = decide(actor=user_with_role(Role.REVIEWER), application=application, decision="approve")
    assert second.status == Application.Status.APPROVED
    assert ReviewDecision.objects.filter(application=application, decision="approve").count() == 2
    assert AuditEvent.objects.filter(action="subsidies.application_first_approval").count() == 1
    assert AuditEvent.objects.filter(action="subsidies.application_approved").count() == 1


def test_amounts_at_or_below_the_threshold_need_one_reviewer_and_the_threshold_is_the_programmes(
    citizen, programme, reviewer
) -> None:
    small = apply(citizen, programme)
    assert decide(actor=reviewer, application=small, decision="approve").status == "approved"
    Programme.objects.filter(pk=programme.pk).update(
        parameters={**programme.parameters, "two_person_above_fen": 500_00}
    )
    other = apply(UserFactory(role=Role.CITIZEN), programme)
    other.programme.refresh_from_db()
    assert decide(actor=reviewer, application=other, decision="approve").status == "in_review"


def test_a_request_for_more_material_starts_the_two_person_count_again(citizen, programme, reviewer) -> None:
    application = apply(citizen, programme, big_items())
    other = user_with_role(Role.REVIEWER)
    decide(actor=reviewer, application=application, decision="approve")
    decide(actor=other, application=application, decision="more", reason="请上传旧机回收照片")
    supply_material(actor=citizen, application=application, note="已上传")
    assert decide(actor=other, application=application, decision="approve").status == "in_review"
    assert decide(actor=reviewer, application=application, decision="approve").status == "approved"


def test_county_officers_review_their_county_only(boss, citizen, reviewer) -> None:
    county = appliance_programme(boss, code="zhangbei", region=Region.objects.get(code="130722"))
    city = appliance_programme(boss, code="city")
    in_county = apply(citizen, county)
    in_city = apply(UserFactory(role=Role.CITIZEN), city)
    zhangbei, xuanhua = county_officer("130722"), county_officer("130705")
    assert list(queue(zhangbei)) == [in_county]
    assert not queue(xuanhua).exists()
    assert set(queue(reviewer)) == {in_county, in_city}
    with pytest.raises(PermissionDenied):
        decide(actor=xuanhua, application=in_county, decision="approve")
    with pytest.raises(PermissionDenied):  # a city programme's applications: reviewers only
        decide(actor=zhangbei, application=in_city, decision="approve")
    assert decide(actor=zhangbei, application=in_county, decision="approve").status == "approved"


def test_only_reviewers_decide(citizen, programme, finance, boss) -> None:
    application = apply(citizen, programme)
    for actor in (finance, boss, citizen, user_with_role(Role.AUDITOR)):
        with pytest.raises(PermissionDenied):
            decide(actor=actor, application=application, decision="approve")
    assert not ReviewDecision.objects.exists()


def test_rejection_without_fraud_releases_the_money_and_frees_the_invoice(citizen, programme, reviewer) -> None:
    first = item()
    application = apply(citizen, programme, [first])
    with pytest.raises(ValidationError) as exc:
        decide(actor=reviewer, application=application, decision="reject")
    assert code_of(exc.value) == "reason_required"
    decide(actor=reviewer, application=application, decision="reject", reason="发票抬头与申请人不符")
    application.refresh_from_db()
    assert application.status == Application.Status.REJECTED
    assert selectors.balances(programme).reserved_fen == 0
    assert Entry.objects.filter(kind="release", reference=application.number).count() == 1
    assert not Claim.objects.filter(application=application, active=True).exists()
    assert application.events.last().note == "未通过：发票抬头与申请人不符"
    again = apply(citizen, programme, [first])  # the same invoice and serial, applied for again
    assert again.status == Application.Status.RESERVED and again.pk != application.pk
    event = AuditEvent.objects.get(action="subsidies.application_rejected")
    assert event.changes["fraud"] is False and event.changes["released"] is True
    assert NAME not in str(event.changes)


def test_rejection_for_fraud_keeps_the_claims(citizen, programme, reviewer) -> None:
    first = item()
    application = apply(citizen, programme, [first])
    with pytest.raises(ValidationError) as exc:
        decide(actor=reviewer, application=application, decision="approve", fraud=True)
    assert code_of(exc.value) == "fraud_needs_reject"
    decide(actor=reviewer, application=application, decision="reject", reason="伪造发票", fraud=True)
    assert selectors.balances(programme).reserved_fen == 0
    assert Claim.objects.filter(application=application, active=True).count() == 2  # invoice and serial
    assert ReviewDecision.objects.get(application=application).fraud
    with pytest.raises(ValidationError) as exc:
        apply(citizen, programme, [first])
    assert code_of(exc.value) == "invoice_already_used"


def test_asking_for_more_material_and_the_applicant_answering(citizen, programme, reviewer) -> None:
    application = apply(citizen, programme)
    decide(actor=reviewer, application=application, decision="more", reason="请补充旧机回收照片")
    application.refresh_from_db()
    assert application.status == Application.Status.IN_REVIEW
    assert application.events.last().note == "请补充材料：请补充旧机回收照片"
    assert application not in queue(reviewer)  # waits for the applicant
    with pytest.raises(ValidationError) as exc:
        decide(actor=reviewer, application=application, decision="approve")
    assert code_of(exc.value) == "awaiting_material"
    with pytest.raises(ValidationError) as exc:
        decide(actor=reviewer, application=application, decision="more", reason="再补充")
    assert code_of(exc.value) == "awaiting_material"
    with pytest.raises(PermissionDenied):
        supply_material(actor=UserFactory(role=Role.CITIZEN), application=application, note="不是我的")
    secret = "照片已上传，联系人林芳 13912345678"
    request = supply_material(actor=citizen, application=application, note=secret)
    assert request.supplied_at is not None and MaterialRequest.objects.get().answer == secret
    assert application in queue(reviewer)
    event = AuditEvent.objects.get(action="subsidies.material_supplied")
    assert "林芳" not in str(event.changes) and "13912345678" not in str(event.changes)
    with pytest.raises(ValidationError) as exc:
        supply_material(actor=citizen, application=application, note="再来一次")
    assert code_of(exc.value) == "no_material_requested"
    assert decide(actor=reviewer, application=application, decision="approve").status == "approved"


def test_decisions_only_on_applications_awaiting_one(citizen, programme, reviewer) -> None:
    application = apply(citizen, programme)
    decide(actor=reviewer, application=application, decision="approve")
    for decision, reason in (("approve", ""), ("reject", "重复"), ("more", "补充")):
        with pytest.raises(ValidationError) as exc:
            decide(actor=reviewer, application=application, decision=decision, reason=reason)
        assert code_of(exc.value) == "not_in_review"
    with pytest.raises(ValidationError) as exc:
        decide(actor=reviewer, application=application, decision="maybe")
    assert code_of(exc.value) == "invalid_decision"


def test_a_queued_application_can_be_rejected_without_a_release(boss, citizen, reviewer) -> None:
    small = appliance_programme(boss, code="small", on_exhaustion="queue", budget_fen=100_00, stripes=1)
    application = apply(citizen, small)
    assert application.status == Application.Status.QUEUED
    assert application not in queue(reviewer)
    with pytest.raises(ValidationError):
        decide(actor=reviewer, application=application, decision="approve")
    decide(actor=reviewer, application=application, decision="reject", reason="额度已用完，本批次不再受理")
    assert not Entry.objects.filter(reference=application.number).exists()
    assert AuditEvent.objects.get(action="subsidies.application_rejected").changes["released"] is False


def test_the_queue_is_sorted_by_risk_then_age(programme, reviewer, plan) -> None:
    now = timezone.now()
    times = [now - dt.timedelta(hours=h) for h in (3, 2, 1)]
    # each invoice dated the day of its own submission: three hours back may be yesterday in Beijing
    apps = [
        apply(UserFactory(role=Role.CITIZEN), programme, [item(invoice_date=timezone.localdate(at))], now=at)
        for at in times
    ]
    Application.objects.filter(pk=apps[2].pk).update(risk_score=80, status="in_review")
    Application.objects.filter(pk=apps[1].pk).update(risk_score=40, status="in_review")
    assert list(queue(reviewer)) == [apps[2], apps[1], apps[0]]
    assert not queue(AnonymousUser()).exists()
    assert not queue(user_with_role(Role.CITIZEN)).exists()
    assert not ReviewDecision.objects.visible_to(AnonymousUser()).exists()
