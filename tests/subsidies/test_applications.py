"""Submitting applications: each named check refuses or flags with its reason, the amount follows the programme's
parameters, identifiers are claimed once (also by the database), a retry submits once, and the money is reserved
in the ledger in the same transaction."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from huanxin.core.models import AuditEvent
from huanxin.core.roles import Role
from huanxin.demo import identities
from huanxin.subsidies import rules, selectors
from huanxin.subsidies.applications import ItemIn, submit_application
from huanxin.subsidies.models import Application, Claim, Programme
from tests import clock
from tests.factories import UserFactory, user_with_role
from tests.subsidies.accounts import payee
from tests.subsidies.conftest import make_programme

pytestmark = pytest.mark.django_db
NOW = timezone.now()  # every test here runs at this instant (clock pinned): TODAY is the app's today
TODAY = timezone.localdate(NOW)
pinned_clock = clock.pinned(NOW)


@pytest.fixture
def programme(boss) -> Programme:
    return make_programme(boss, parameters={**rules.DEFAULTS["appliance"], "sample_pct": 0}, budget_fen=10_000_00)


@pytest.fixture
def citizen(plan):
    return UserFactory(role=Role.CITIZEN, verified_name="林芳")  # applies as 林芳, their verified name


@pytest.fixture
def merchant(plan):
    return user_with_role(Role.MERCHANT)


def fridge(**kwargs) -> ItemIn:
    values = {
        "kind": "refrigerator",
        "invoice_no": f"INV{random.randrange(10**8)}",
        "invoice_date": TODAY,
        "price_fen": 4_999_00,
        "grade": "1",
        "brand_model": "海尔BCD-501",
        "serial": f"SN{random.randrange(10**9)}",
    }
    return ItemIn(**{**values, **kwargs})


def apply(actor, programme, items, **kwargs) -> Application:
    """A citizen applies in their own verified identity; a merchant for a customer 林芳 drawn from its number."""
    if actor.role == Role.CITIZEN:
        values = {"applicant_name": "", "applicant_id": actor.verified_resident_id, "phone": ""}
    else:
        rng = random.Random(actor.pk)
        values = {"applicant_name": "林芳", "applicant_id": identities.resident_id(rng), "phone": "13912345678"}
    # paid to the applicant when a citizen files alone: the account is required (a merchant's is ignored)
    return submit_application(actor=actor, programme=programme, items=items, **{**values, **payee("林芳"), **kwargs})


def code_of(exc: ValidationError) -> str:
    return exc.error_list[0].code


def test_an_appliance_application_is_priced_checked_and_reserved(citizen, programme) -> None:
    application = apply(
        citizen, programme, [fridge(), fridge(kind="tv", grade="2", price_fen=3_000_00, brand_model="")]
    )
    assert application.status == Application.Status.RESERVED
    assert application.amount_fen == 999_80 + 450_00  # 20% of 4999 元; 15% of 3000 元
    items = list(application.items.order_by("pk"))
    assert items[0].explanation == "1级能效，按售价20%补贴，上限2000.00元"
    assert selectors.balances(programme).reserved_fen == application.amount_fen
    assert {c["name"] for c in application.checks} >= {"身份核验", "凭证唯一", "价格合理性"}
    assert Claim.objects.filter(application=application, kind="invoice").count() == 2
    assert application.number.startswith("BT")
    event = AuditEvent.objects.get(action="subsidies.application_submitted")
    assert application.applicant_id not in str(event.changes) and "林芳" not in str(event.changes)


def test_the_row_written_in_one_statement_reads_back_as_the_orm_saves_it(programme) -> None:
    """`bulkinsert.insert_one` writes the application without the ORM: what is read back equals what was submitted,
    personal data is ciphertext in the table, and the JSON columns are JSON."""
    citizen = UserFactory(role=Role.CITIZEN, verified_name="欧阳 林芳")
    application = apply(citizen, programme, [fridge(price_fen=20_000_00)])
    stored = Application.objects.get(pk=application.pk)
    for field in Application._meta.concrete_fields:
        assert getattr(stored, field.attname) == getattr(application, field.attname), field.name
    assert stored.applicant_name == "欧阳 林芳" and stored.checks and stored.applicant_user == citizen
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT applicant_name, applicant_id, phone FROM subsidies_application WHERE id = %s", [application.pk]
        )
        row = cursor.fetchone()
    assert all(value.startswith("g1:") for value in row) and "林芳" not in "".join(row)


def test_the_cap_applies(citizen, programme) -> None:
    application = apply(citizen, programme, [fridge(price_fen=20_000_00)])
    assert application.amount_fen == 2_000_00
    assert "已按上限" in application.items.get().explanation


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"applicant_id": "130722199001011234"}, "invalid_resident_id"),
        ({"phone": "12345"}, "invalid_phone"),
        ({"items": [fridge(grade="3")]}, "grade_not_eligible"),
        ({"items": [fridge(kind="bicycle")]}, "kind_not_eligible"),
        ({"items": [fridge(invoice_date=TODAY - dt.timedelta(days=90))]}, "invoice_outside_window"),
        ({"items": [fridge(price_fen=0)]}, "invalid_price"),
        ({"items": [fridge(price_fen=100_000_000_01)]}, "invalid_price"),  # above 1亿元: no trade-in costs that
        ({"items": []}, "no_items"),
    ],
)
def test_each_check_refuses_with_its_reason_and_leaves_nothing(merchant, programme, change, code) -> None:
    # at the till, where the customer's identity is typed (a citizen's comes from the account: test_citizen_identity)
    items = change.pop("items", [fridge()])
    with pytest.raises(ValidationError) as exc:
        apply(merchant, programme, items, **change)
    assert code_of(exc.value) == code
    assert "：" in exc.value.messages[0]  # "check name：reason"
    assert not Application.objects.exists() and not Claim.objects.exists()
    assert selectors.balances(programme).reserved_fen == 0


def test_the_same_invoice_or_serial_is_never_used_twice(citizen, programme) -> None:
    first = fridge()
    apply(citizen, programme, [first])
    other = UserFactory(role=Role.CITIZEN)
    with pytest.raises(ValidationError) as exc:
        apply(other, programme, [fridge(invoice_no=first.invoice_no)])
    assert code_of(exc.value) == "invoice_already_used"
    with pytest.raises(ValidationError) as exc:
        apply(other, programme, [fridge(serial=first.serial)])
    assert code_of(exc.value) == "serial_already_used"


def test_per_person_limits_count_earlier_applications(citizen, programme) -> None:
    apply(citizen, programme, [fridge()])
    with pytest.raises(ValidationError) as exc:
        apply(citizen, programme, [fridge()])
    assert code_of(exc.value) == "per_person_limit"
    # air conditioners: three per person
    app = apply(citizen, programme, [fridge(kind="air_conditioner") for _ in range(3)])
    assert app.items.count() == 3
    with pytest.raises(ValidationError):
        apply(citizen, programme, [fridge(kind="air_conditioner")])


def test_a_retry_submits_once(citizen, programme) -> None:
    item = fridge()
    first = apply(citizen, programme, [item], idempotency_key="k-1")
    again = apply(citizen, programme, [item], idempotency_key="k-1")
    assert again.pk == first.pk and Application.objects.count() == 1


def test_a_price_far_above_the_models_median_is_flagged_not_refused(citizen, programme) -> None:
    for _ in range(5):
        apply(UserFactory(role=Role.CITIZEN), programme, [fridge(price_fen=4_000_00)])
    application = apply(citizen, programme, [fridge(price_fen=9_000_00)])
    assert application.status == Application.Status.IN_REVIEW
    assert application.risk_score >= 40
    assert "高于同型号中位价4000.00元的1.5倍" in application.risk_reasons[0]
    assert {"name": "价格合理性", "outcome": "flagged", "reason": application.risk_reasons[0]} in application.checks


def test_an_exhausted_budget_refuses_or_queues_as_the_programme_says(citizen, boss) -> None:
    small = make_programme(
        boss, code="small", parameters={**rules.DEFAULTS["appliance"], "sample_pct": 0}, budget_fen=500_00, stripes=1
    )
    apply(citizen, small, [fridge(price_fen=2_000_00)])  # 400 元
    with pytest.raises(ValidationError) as exc:
        apply(UserFactory(role=Role.CITIZEN), small, [fridge()])
    assert code_of(exc.value) == "budget_exhausted"
    assert Application.objects.filter(programme=small).count() == 1
    queue = make_programme(
        boss,
        code="queue",
        on_exhaustion="queue",
        parameters={**rules.DEFAULTS["appliance"], "sample_pct": 0},
        budget_fen=100_00,
        stripes=1,
    )
    queued = apply(citizen, queue, [fridge()])
    assert queued.status == Application.Status.QUEUED
    assert selectors.balances(queue).reserved_fen == 0


def test_only_citizens_and_merchants_apply_and_programmes_must_be_open(citizen, boss, programme) -> None:
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        apply(user_with_role(Role.RECYCLER), programme, [fridge()])
    closed = make_programme(boss, code="closed", status=Programme.Status.PAUSED, parameters=rules.DEFAULTS["appliance"])
    with pytest.raises(ValidationError) as exc:
        apply(citizen, closed, [fridge()])
    assert code_of(exc.value) == "programme_not_open"
    unconfigured = make_programme(boss, code="ebike", category="ebike", parameters={})
    with pytest.raises(ValidationError) as exc:
        apply(citizen, unconfigured, [fridge()])
    assert code_of(exc.value) == "invalid_parameters"
    broken = make_programme(boss, code="broken", parameters={"kinds": {}, "cap_fen": -1})
    with pytest.raises(ValidationError) as exc:
        apply(citizen, broken, [fridge()])
    assert code_of(exc.value) == "invalid_parameters"


def test_scoping(citizen, programme, plan) -> None:
    application = apply(citizen, programme, [fridge()])
    assert list(Application.objects.visible_to(citizen)) == [application]
    assert not Application.objects.visible_to(UserFactory(role=Role.CITIZEN)).exists()
    assert Application.objects.visible_to(user_with_role(Role.REVIEWER)).exists()
    from django.contrib.auth.models import AnonymousUser

    assert not Application.objects.visible_to(AnonymousUser()).exists()


def test_the_two_person_threshold_is_a_programme_parameter(boss) -> None:
    params = rules.validate("appliance", {**rules.DEFAULTS["appliance"], "two_person_above_fen": 300_000})
    assert params.two_person_above_fen == 300_000
    assert rules.validate("appliance", rules.DEFAULTS["appliance"]).two_person_above_fen == 500_000


def test_a_name_that_looks_like_a_formula_is_exported_as_text() -> None:
    from huanxin.core.exports import csv_safe

    assert csv_safe("=HYPERLINK(1)") == "'=HYPERLINK(1)" and csv_safe("林芳") == "林芳"
