"""The task force builds the network but does not act as a recycler: it issues a certificate or a collection
record for one only as an explicit, audited 代录 with a reason, which the certificate page and the public
verification page show. Recyclers act for their own organisation only."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from huanxin.core.models import AuditEvent
from huanxin.core.roles import Role
from huanxin.recycling import services
from huanxin.recycling.models import Certificate, CollectionRecord, Site
from tests.factories import UserFactory
from tests.recycling.conftest import NOW, book, recycler_org
from tests.recycling.test_bookings import codes
from tests.recycling.test_certificates import TODAY, scrap

pytestmark = pytest.mark.django_db
REASON = "企业系统故障，经企业书面申请由专班代录"


def intake(actor, site, **kwargs):
    fields = {
        "received_on": TODAY,
        "source": CollectionRecord.Source.PERSON,
        "category": "refrigerator",
        "units": 1,
        "price_fen": 5000,
        "today": TODAY,
        **kwargs,
    }
    return services.record_collection(actor=actor, site=site, **fields)


def test_the_task_force_does_not_issue_as_a_recycler(boss, dismantler, site, rng) -> None:
    with pytest.raises(PermissionDenied, match="代录"):
        scrap(boss, dismantler, rng)
    with pytest.raises(PermissionDenied, match="代录"):
        intake(boss, site)
    with pytest.raises(PermissionDenied, match="代录"):
        scrap(boss, dismantler, rng, on_behalf_reason="   ")
    assert not Certificate.objects.exists() and not CollectionRecord.objects.exists()


def test_a_proxy_entry_names_who_and_why_and_is_audited(boss, recycler, dismantler, site, rng) -> None:
    certificate = scrap(boss, dismantler, rng, on_behalf_reason=f"  {REASON} ")
    assert (certificate.proxy_entered_by, certificate.proxy_reason) == (boss, REASON)
    assert certificate.organisation == dismantler.organisation
    record, created = intake(boss, site, on_behalf_reason=REASON)
    assert created and (record.proxy_entered_by, record.proxy_reason) == (boss, REASON)
    events = AuditEvent.objects.filter(action__in=["recycling.certificate_issued", "recycling.collection_recorded"])
    assert [e.changes["proxy_reason"] for e in events] == [REASON, REASON]
    own = scrap(recycler, dismantler, rng)  # the recycler's own entry is not a proxy one
    assert own.proxy_entered_by is None and own.proxy_reason == ""


def test_only_the_task_force_gives_a_proxy_reason(recycler, dismantler, rng) -> None:
    with pytest.raises(PermissionDenied, match="代录由工作专班办理"):
        scrap(recycler, dismantler, rng, on_behalf_reason=REASON)


def test_a_proxy_reason_over_the_column_is_refused(boss, dismantler, rng) -> None:
    with pytest.raises(ValidationError) as exc:
        scrap(boss, dismantler, rng, on_behalf_reason="长" * 201)
    assert codes(exc.value) == {"proxy_reason_too_long"}


def test_the_task_force_revokes_only_its_proxy_entries(boss, recycler, dismantler, rng) -> None:
    own = scrap(recycler, dismantler, rng)
    with pytest.raises(PermissionDenied):
        services.revoke_certificate(actor=boss, certificate=own, reason="x")
    proxied = scrap(boss, dismantler, rng, on_behalf_reason=REASON)
    assert services.revoke_certificate(actor=boss, certificate=proxied, reason="代录有误").status == "revoked"


def test_the_task_force_still_sets_up_sites(boss, recycler, zhangbei) -> None:
    site = services.save_site(
        actor=boss,
        organisation=recycler.organisation,
        name="张北县公会镇回收点",
        kind=Site.Kind.POINT,
        region=zhangbei,
        address="张北县公会镇政府路1号",
        categories=["tv"],
    )
    assert site.organisation == recycler.organisation


def test_the_task_force_runs_no_bookings_or_slots(boss, citizen, site, slot) -> None:
    booking = book(citizen, slot)
    for call in (
        lambda: services.accept_booking(actor=boss, booking=booking, now=NOW),
        lambda: services.cancel_booking(actor=boss, booking=booking, reason="x", now=NOW),
        lambda: services.open_slots(
            actor=boss,
            site=site,
            first_day=TODAY + dt.timedelta(days=2),
            last_day=TODAY + dt.timedelta(days=3),
            windows=[(dt.time(9), dt.time(12))],
            capacity=2,
            now=NOW,
        ),
    ):
        with pytest.raises(PermissionDenied):
            call()


def test_a_recycler_acts_only_for_its_own_organisation(recycler, dismantler, site, kangbao, rng) -> None:
    rival = UserFactory(role=Role.RECYCLER, organisation=recycler_org(kangbao, "康保县草原再生资源有限公司"))
    unlinked = UserFactory(role=Role.RECYCLER, organisation=None)
    for outsider in (rival, unlinked):
        with pytest.raises(PermissionDenied):
            scrap(outsider, dismantler, rng)
        with pytest.raises(PermissionDenied):
            intake(outsider, site)


def test_a_merchant_without_a_store_cancels_no_citizens_booking(citizen, slot) -> None:
    booking = book(citizen, slot)
    storeless = UserFactory(role=Role.MERCHANT, organisation=None)
    with pytest.raises(PermissionDenied):
        services.cancel_booking(actor=storeless, booking=booking, now=NOW)


def test_the_pages_show_the_proxy_entry(boss, recycler, dismantler, rng) -> None:
    client = Client()
    client.force_login(boss)
    url = reverse("recycling:certificate_new", args=["take_back"])
    form = {"site": str(dismantler.pk), "owner_name": "赵建国", "category": "refrigerator", "token": "t1"}
    dismantler.categories = [*dismantler.categories, "refrigerator"]
    dismantler.save()
    refused = client.post(url, form)
    assert refused.status_code == 200 and "代录" in refused.content.decode()
    assert not Certificate.objects.exists()
    done = client.post(url, {**form, "on_behalf_reason": REASON})
    certificate = Certificate.objects.get()
    assert done.status_code == 302 and certificate.proxy_reason == REASON
    page = client.get(reverse("recycling:certificate", args=[certificate.number])).content.decode()
    assert f"由工作专班代录：{REASON}" in page
    verify = Client().get(reverse("recycling:verify"), {"number": certificate.number, "code": certificate.verify_code})
    assert f"由工作专班代录：{REASON}" in verify.content.decode()
    record = client.post(
        reverse("recycling:record_new"),
        {
            "site": str(dismantler.pk),
            "received_on": timezone.localdate().isoformat(),  # the page checks against the real today
            "source": "person",
            "category": "refrigerator",
            "units": "1",
            "token": "r1",
            "on_behalf_reason": REASON,
        },
    )
    assert record.status_code == 302, record.content.decode()[-3000:]
    assert CollectionRecord.objects.get().proxy_reason == REASON
