"""Car scrap-and-renew against the recycling network's certificates, and the subsidy metrics for monitoring."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from huanxin.core import metrics
from huanxin.core.models import Region
from huanxin.core.roles import Role
from huanxin.demo import identities
from huanxin.recycling import services as recycling
from huanxin.subsidies import rules
from huanxin.subsidies.applications import ItemIn, submit_application
from tests import clock
from tests.factories import user_with_role
from tests.subsidies.accounts import payee
from tests.subsidies.conftest import make_programme

pytestmark = pytest.mark.django_db
NOW = timezone.now()  # every test here runs at this instant (clock pinned): TODAY is the app's today
TODAY = timezone.localdate(NOW)
pinned_clock = clock.pinned(NOW)


def scrap(dismantler, owner_id: str, registered_on: dt.date, vin: str, fuel: str = "petrol"):
    clerk, site = dismantler
    return recycling.issue_certificate(
        actor=clerk, kind="vehicle", site=site, category="car", owner_name="赵建国", owner_id=owner_id, vin=vin,
        plate="冀G12345", fuel=fuel, registered_on=registered_on,
    )  # fmt: skip


def car(vin: str, fuel: str = "nev") -> ItemIn:
    return ItemIn(
        kind="car",
        invoice_no=f"CAR{random.randrange(10**9)}",
        invoice_date=TODAY,
        price_fen=150_000_00,
        vin=vin,
        new_fuel=fuel,
    )


def test_car_scrap_renewal_needs_the_certificate_of_the_same_owner(dismantler, boss) -> None:
    programme = make_programme(
        boss,
        code="cars",
        category="car_scrap",
        parameters={**rules.DEFAULTS["car_scrap"], "sample_pct": 0},
        budget_fen=1_000_000_00,
    )
    rng = random.Random(4)
    owner_id, vin = identities.resident_id(rng), identities.vin(rng)
    dealer = user_with_role(Role.MERCHANT)  # the dealer's till files for several people here (a citizen: own only)

    def apply(applicant_id: str, item: ItemIn):
        return submit_application(
            actor=dealer,
            programme=programme,
            applicant_name="赵建国",
            applicant_id=applicant_id,
            phone="13912345678",
            **payee("赵建国"),  # cars are paid to the applicant
            items=[item],
        )

    with pytest.raises(ValidationError) as exc:
        apply(owner_id, car(vin))
    assert exc.value.error_list[0].code == "certificate_missing"
    with pytest.raises(ValidationError) as exc:  # another kind would be counted apart from the per-person limit
        apply(owner_id, car(vin)._replace(kind="tv"))
    assert exc.value.error_list[0].code == "kind_not_eligible"
    scrap(dismantler, owner_id, dt.date(2010, 5, 1), vin)
    with pytest.raises(ValidationError) as exc:
        apply(identities.resident_id(rng), car(vin))
    assert exc.value.error_list[0].code == "certificate_owner_mismatch"
    application = apply(owner_id, car(vin))
    assert application.amount_fen == 20_000_00 and "新能源乘用车" in application.items.get().explanation
    with pytest.raises(ValidationError) as exc:
        apply(owner_id, car(vin, "fuel"))
    assert exc.value.error_list[0].code in {"per_person_limit", "vin_already_used"}
    young_vin, other = identities.vin(rng), identities.resident_id(rng)
    scrap(dismantler, other, dt.date(2016, 1, 1), young_vin)  # a petrol car registered after 2012-06-30
    with pytest.raises(ValidationError) as exc:
        apply(other, car(young_vin))
    assert exc.value.error_list[0].code == "old_car_too_new"

    start, end = TODAY.replace(day=1), TODAY
    city = Region.objects.get(code="130700")
    assert metrics.get("subsidies.cars-renewed").compute(start, end)[city.pk] == 1
    assert metrics.get("subsidies.nev-share").compute(start, end)[city.pk] == Decimal("100.0")
    assert metrics.get("subsidies.applications").compute(start, end)[city.pk] == 1
    assert metrics.get("subsidies.amount").compute(start, end)[city.pk] == Decimal(2)  # 2万元
