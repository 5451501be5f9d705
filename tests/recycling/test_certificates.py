"""Certificates: one 报废机动车回收证明 per VIN ever (also refused by the database), valid identifiers, verification
by number and code, revocation; personal data encrypted, masked and never in the audit log."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction

from huanxin.core.models import AuditEvent
from huanxin.demo import identities
from huanxin.recycling import selectors, services
from huanxin.recycling.models import Certificate, Site
from tests.recycling.test_bookings import codes

pytestmark = pytest.mark.django_db
TODAY = dt.date(2025, 6, 10)


def scrap(recycler, dismantler, rng, **kwargs):
    fields = {
        "kind": Certificate.Kind.VEHICLE,
        "site": dismantler,
        "category": "car",
        "owner_name": "赵建国",
        "owner_id": identities.resident_id(rng),
        "vin": identities.vin(rng),
        "plate": "冀G12345",
        "vehicle_type": "小型普通客车",
        "fuel": "petrol",
        "emission_standard": "国三",
        "registered_on": dt.date(2010, 5, 1),
        "today": TODAY,
        **kwargs,
    }
    return services.issue_certificate(actor=recycler, **fields)


def test_a_dismantler_issues_a_scrap_certificate_that_verifies(recycler, dismantler, rng) -> None:
    certificate = scrap(recycler, dismantler, rng)
    assert certificate.number == "BF2025000001"
    assert len(certificate.verify_code) == 8
    assert selectors.verify_certificate(certificate.number, certificate.verify_code.lower()) == certificate
    assert selectors.verify_certificate(certificate.number, "WRONGCOD") is None
    assert selectors.verify_certificate("BF2025999999", certificate.verify_code) is None
    assert selectors.scrap_certificate_for_vin(certificate.vin) == certificate
    assert scrap(recycler, dismantler, rng).number == "BF2025000002"


def test_a_second_certificate_for_the_same_vin_is_refused(recycler, dismantler, rng) -> None:
    first = scrap(recycler, dismantler, rng)
    with pytest.raises(ValidationError) as exc:
        scrap(recycler, dismantler, rng, vin=first.vin.lower())
    assert codes(exc.value) == {"vin_already_certified"}
    services.revoke_certificate(actor=recycler, certificate=first, reason="所有人填写错误")
    with pytest.raises(ValidationError):  # a revoked certificate still holds its VIN: a car is scrapped once
        scrap(recycler, dismantler, rng, vin=first.vin)
    assert Certificate.objects.filter(vin=first.vin).count() == 1
    assert selectors.scrap_certificate_for_vin(first.vin) is None  # revoked: no longer proof for a subsidy


def test_the_database_itself_refuses_a_second_vin(recycler, dismantler, rng) -> None:
    first = scrap(recycler, dismantler, rng)
    twin = Certificate.objects.get(pk=first.pk)
    twin.pk, twin.number = None, "BF2025000999"
    with pytest.raises(IntegrityError), transaction.atomic():
        twin.save()


@pytest.mark.parametrize(
    ("change", "field", "code"),
    [
        ({"vin": "LFV2A21K8G3050010"}, "vin", "vin_check_digit"),
        ({"vin": "LFV2A21K"}, "vin", "vin_length"),
        ({"vin": "LFV2A21KIG3O5001Q"}, "vin", "vin_characters"),
        ({"owner_id": "130722199001011234"}, "owner_id", "invalid_owner_id"),
        ({"owner_id": ""}, "owner_id", "required"),
        ({"plate": ""}, "plate", "required"),
        ({"fuel": "steam"}, "fuel", "invalid_fuel"),
        ({"registered_on": dt.date(2026, 1, 1)}, "registered_on", "invalid_date"),
        ({"issued_on": TODAY + dt.timedelta(days=1)}, "issued_on", "date_in_future"),
    ],
)
def test_bad_vehicle_certificates_are_refused_with_the_field(recycler, dismantler, rng, change, field, code) -> None:
    with pytest.raises(ValidationError) as exc:
        scrap(recycler, dismantler, rng, **change)
    assert field in exc.value.error_dict
    assert code in codes(exc.value)
    assert not Certificate.objects.exists()


def test_an_organisation_owner_uses_its_credit_code(recycler, dismantler, rng) -> None:
    from stdnum.cn import uscc

    code = "91130722MA0CXXXX0" + uscc.calc_check_digit("91130722MA0CXXXX0")
    certificate = scrap(recycler, dismantler, rng, owner_name="张北县公交公司", owner_id=code)
    assert certificate.owner_id == code
    with pytest.raises(ValidationError) as exc:
        scrap(recycler, dismantler, rng, owner_name="张北县公交公司", owner_id=code[:-1] + "0")
    assert codes(exc.value) == {"invalid_owner_id"}
    assert "统一社会信用代码" in exc.value.error_dict["owner_id"][0].message


@pytest.mark.parametrize(
    ("owner_id", "says"),
    [
        ("130722199001011234", "居民身份证号码无效：校验码（第18位）与前17位不符"),
        ("130722900101123", "15位的旧号码"),
        ("990101198503120416", "前6位990101不是有效的地址码"),
    ],
)
def test_an_owner_id_that_looks_like_a_resident_id_is_told_what_is_wrong(recycler, dismantler, rng, owner_id, says):
    with pytest.raises(ValidationError) as exc:
        scrap(recycler, dismantler, rng, owner_id=owner_id)
    assert codes(exc.value) == {"invalid_owner_id"}
    assert says in exc.value.error_dict["owner_id"][0].message


def test_an_owner_born_before_the_county_had_its_code_is_accepted(recycler, dismantler, rng) -> None:
    certificate = scrap(recycler, dismantler, rng, owner_id="130724198503120413")  # 沽源县 130724 since 1993
    assert certificate.owner_id == "130724198503120413"


def test_only_a_dismantler_issues_scrap_certificates(recycler, site, rng) -> None:
    with pytest.raises(ValidationError) as exc:
        scrap(recycler, site, rng)
    assert codes(exc.value) == {"not_a_dismantler"}


def test_another_recycler_cannot_issue_at_my_site(dismantler, rng, zhangbei) -> None:
    from huanxin.core.roles import Role
    from tests.factories import UserFactory
    from tests.recycling.conftest import recycler_org

    stranger = UserFactory(role=Role.RECYCLER, organisation=recycler_org(zhangbei, "别家回收"))
    with pytest.raises(PermissionDenied):
        scrap(stranger, dismantler, rng)


def test_take_back_certificates_refuse_the_same_appliance_twice(recycler, site) -> None:
    fields = {"kind": "take_back", "site": site, "category": "refrigerator", "owner_name": "李明", "today": TODAY}
    first = services.issue_certificate(actor=recycler, serial="bcd-215 0001", **fields)
    assert first.number.startswith("SJ2025") and first.serial == "BCD-215 0001"
    with pytest.raises(ValidationError) as exc:
        services.issue_certificate(actor=recycler, serial="BCD-215 0001", **fields)
    assert codes(exc.value) == {"serial_already_certified"}
    services.issue_certificate(actor=recycler, **fields)  # no serial known: allowed, not de-duplicated
    with pytest.raises(ValidationError) as exc:
        services.issue_certificate(actor=recycler, **{**fields, "category": "scrap_steel"})
    assert codes(exc.value) == {"invalid_category"}


def test_data_wipe_certificates_need_a_serial_and_a_method(recycler, site) -> None:
    fields = {"kind": "data_wipe", "site": site, "category": "phone", "owner_name": "李明", "today": TODAY}
    with pytest.raises(ValidationError) as exc:
        services.issue_certificate(actor=recycler, **fields)
    assert set(exc.value.error_dict) == {"serial", "wipe_method"}
    certificate = services.issue_certificate(
        actor=recycler, serial="86123405678901", wipe_method="恢复出厂设置并三次覆写", **fields
    )
    assert certificate.number.startswith("QC2025")


def test_a_form_token_issues_once(recycler, dismantler, rng) -> None:
    first = scrap(recycler, dismantler, rng, token="t-1")
    again = scrap(recycler, dismantler, rng, token="t-1")  # a double click: other VIN drawn, same certificate back
    assert again.pk == first.pk and Certificate.objects.count() == 1


def test_owner_data_is_encrypted_at_rest_and_kept_out_of_the_audit_log(recycler, dismantler, rng) -> None:
    owner_id = identities.resident_id(rng)
    certificate = scrap(recycler, dismantler, rng, owner_id=owner_id, owner_name="欧阳建华", plate="冀GA1234")
    with connection.cursor() as cursor:
        cursor.execute("SELECT owner_name, owner_id, plate FROM recycling_certificate WHERE id = %s", [certificate.pk])
        stored = " ".join(cursor.fetchone())
    assert "欧阳建华" not in stored and owner_id not in stored and "冀GA1234" not in stored
    assert certificate.masked_owner == "欧***"
    assert certificate.masked_owner_id == owner_id[:6] + "********" + owner_id[-4:]
    assert certificate.masked_plate == "冀G****4"
    logged = json.dumps([e.changes for e in AuditEvent.objects.all()], ensure_ascii=False)
    assert "欧阳建华" not in logged and owner_id not in logged and "冀GA1234" not in logged
    assert certificate.vin in logged  # the VIN identifies the car, not a person, and is the audit's key


def test_a_site_that_does_not_operate_issues_nothing(recycler, dismantler, rng) -> None:
    services.save_site(
        actor=recycler, organisation=recycler.organisation, site=dismantler, status=Site.Status.SUSPENDED
    )
    with pytest.raises(ValidationError) as exc:
        scrap(recycler, dismantler, rng)
    assert codes(exc.value) == {"site_not_operating"}
