"""The review queue searched and filtered: by application number, by the last 4–6 characters of the applicant's ID
number (through a keyed hash of the last four, decrypting only the rows that share it), by merchant, programme,
status and risk; the filters kept in the page's URL and its pager; a county officer still sees its county only."""

from __future__ import annotations

import importlib
import random
from typing import Any

import pytest
from django.apps import apps as django_apps
from django.core.exceptions import ValidationError
from django.test import Client

from huanxin.core import pii
from huanxin.core.models import Organisation, Region, User
from huanxin.core.roles import Role
from huanxin.demo import identities
from huanxin.subsidies import selectors
from huanxin.subsidies.applications import id_tail_hash
from huanxin.subsidies.models import Application, Programme
from huanxin.subsidies.review import decide
from huanxin.subsidies.selectors import QueueFilter, review_queue
from tests.factories import UserFactory, user_with_role
from tests.subsidies.test_review import appliance_programme, apply, big_items, county_officer, item

pytestmark = pytest.mark.django_db


def shop(name: str, uscc: str = "") -> User:
    store = Organisation.objects.create(name=name, kind="merchant", region=Region.objects.get(code="130702"), uscc=uscc)
    return UserFactory(role=Role.MERCHANT, organisation=store)


def twins() -> tuple[str, str]:
    """Two valid ID numbers with the same last four characters and different fifth-last ones."""
    rng, seen = random.Random(18), {}
    while True:
        number = identities.resident_id(rng)
        other = seen.get(number[-4:])
        if other and other[-5] != number[-5]:
            return other, number
        seen[number[-4:]] = number


def found(user: User, **asked: Any) -> list[str]:
    return [a.number for a in review_queue(user, QueueFilter(**asked))]


@pytest.fixture
def world(boss: User) -> dict[str, Any]:
    """Two shops' sales in two programmes: the first and second applicants' IDs end alike."""
    city = appliance_programme(boss)
    county = appliance_programme(
        boss, code="zb-appliance", name="张北县家电补贴", region=Region.objects.get(code="130722")
    )
    first_id, second_id = twins()
    north, south = shop("北门家电城", uscc="91130700MA0000001X"), shop("南城数码")
    a = apply(north, city, applicant_id=first_id)
    b = apply(south, city, applicant_id=second_id)
    c = apply(north, county, [item(kind="tv")])
    return {"city": city, "county": county, "a": a, "b": b, "c": c, "ids": (first_id, second_id)}


def test_every_application_keeps_the_keyed_hash_of_its_id_tail(world) -> None:
    a = world["a"]
    a.refresh_from_db()
    assert a.applicant_id_tail == id_tail_hash(world["ids"][0]) and len(a.applicant_id_tail) == 16
    assert world["ids"][0][-4:] not in a.applicant_id_tail  # nothing of the number in clear
    assert a.applicant_id_tail == Application.objects.get(pk=world["b"].pk).applicant_id_tail  # same last four


def test_search_by_number_and_id_tail(world, plan) -> None:
    reviewer = user_with_role(Role.REVIEWER)
    a, b = world["a"], world["b"]
    first_id, second_id = world["ids"]
    assert found(reviewer, q=a.number) == [a.number]
    assert found(reviewer, q=QueueFilter.from_query({"q": f" {a.number.lower()} "}).q) == [a.number]
    assert sorted(found(reviewer, q=first_id[-4:])) == sorted([a.number, b.number])  # four: both
    assert found(reviewer, q=first_id[-5:]) == [a.number]  # five: the decrypted candidates tell them apart
    assert found(reviewer, q=second_id[-6:]) == [b.number]
    assert found(reviewer, q="BT0000") == []


def test_a_longer_tail_decrypts_only_the_rows_sharing_the_four_characters(world, plan, monkeypatch) -> None:
    reviewer = user_with_role(Role.REVIEWER)
    for n in range(6):  # others, with other tails, that the search must not open
        apply(shop(f"其他商户{n}"), world["city"], applicant_id=identities.resident_id(random.Random(900 + n)))
    opened = []
    real = pii.decrypt

    def counting(token: str) -> str:
        opened.append(token)
        return real(token)

    monkeypatch.setattr(pii, "decrypt", counting)
    qs = review_queue(reviewer, QueueFilter(q=world["ids"][0][-6:]))
    assert len(opened) == 2  # the two applications ending in the same four characters, their ID numbers only
    monkeypatch.setattr(pii, "decrypt", real)
    assert [x.number for x in qs] == [world["a"].number]


def test_too_many_candidates_ask_for_another_filter(world, plan, monkeypatch) -> None:
    monkeypatch.setattr(selectors, "MAX_TAIL_CANDIDATES", 1)
    reviewer = user_with_role(Role.REVIEWER)
    with pytest.raises(ValidationError) as exc:
        review_queue(reviewer, QueueFilter(q=world["ids"][0][-5:]))
    assert exc.value.error_list[0].code == "too_many_matches"
    page = logged_in(reviewer).get("/subsidies/review/", {"q": world["ids"][0][-5:]}).content.decode()
    assert "符合该身份证尾号的申请过多" in page


def test_filters_by_merchant_programme_status_and_risk(world, plan) -> None:
    reviewer = user_with_role(Role.REVIEWER)
    a, b, c = world["a"], world["b"], world["c"]
    assert sorted(found(reviewer, merchant="北门")) == sorted([a.number, c.number])
    assert sorted(found(reviewer, merchant="91130700ma0000001x")) == sorted([a.number, c.number])  # USCC
    assert found(reviewer, merchant="南城", programme=world["city"].code) == [b.number]
    assert found(reviewer, merchant="北门", programme=world["county"].code) == [c.number]
    assert found(reviewer, merchant="不存在的商户") == []

    Application.objects.filter(pk=a.pk).update(risk_score=90, status="in_review")
    Application.objects.filter(pk=b.pk).update(risk_score=40, status="in_review")
    assert found(reviewer, risk="high") == [a.number]
    assert found(reviewer, risk="medium") == [b.number]
    assert found(reviewer, risk="low") == [c.number]
    assert found(reviewer, status="in_review") == [a.number, b.number]  # highest risk first
    assert found(reviewer, status="reserved") == [c.number]

    decide(actor=reviewer, application=b, decision="more", reason="请补充发票照片")
    assert b.number not in found(reviewer)  # out of the queue while the applicant answers …
    assert found(reviewer, status="material") == [b.number]  # … and found when asked for


def test_waiting_for_a_second_reviewer(world, plan) -> None:
    first = user_with_role(Role.REVIEWER)
    big = apply(shop("大件电器"), world["city"], big_items())
    decide(actor=first, application=big, decision="approve")
    rows = list(review_queue(first, QueueFilter(status="second")))
    assert [r.number for r in rows] == [big.number] and rows[0].awaiting_second
    decide(actor=first, application=big, decision="more", reason="请补充")
    assert found(first, status="second") == []  # a request for material starts the count again


def test_a_county_officer_searches_its_own_county_only(world, plan) -> None:
    officer = county_officer("130722")
    assert found(officer) == [world["c"].number]
    assert found(officer, q=world["ids"][0][-4:]) == []  # a city programme's application: not its own
    assert found(officer, merchant="北门") == [world["c"].number]
    assert [p.code for p in selectors.queue_programmes(officer)] == [world["county"].code]
    auditor = user_with_role(Role.AUDITOR)
    assert found(auditor, status="material") == []  # reads the queue, but nothing is waiting for material


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_page_keeps_the_filters_in_its_url_and_pager(world, plan) -> None:
    reviewer = user_with_role(Role.REVIEWER)
    north = Organisation.objects.get(name="北门家电城").pk
    store = User.objects.filter(organisation_id=north).first()
    for n in range(31):
        apply(store, world["city"], applicant_id=identities.resident_id(random.Random(2000 + n)))
    client = logged_in(reviewer)
    page = client.get("/subsidies/review/", {"merchant": "北门", "programme": world["city"].code}).content.decode()
    assert "符合条件的申请 32 份" in page
    assert 'value="北门"' in page and f'value="{world["city"].code}" selected' in page
    assert "merchant=%E5%8C%97%E9%97%A8" in page and "page=2" in page  # the next page keeps the filters
    second = client.get("/subsidies/review/", {"merchant": "北门", "programme": world["city"].code, "page": 2})
    assert "第 2 / 2 页" in second.content.decode()
    assert world["b"].number not in second.content.decode()
    tail = client.get("/subsidies/review/", {"q": world["ids"][1][-6:]}).content.decode()
    assert world["b"].number in tail and "按申请人身份证号码后6位查找" in tail
    assert world["ids"][1] not in tail  # the number itself never on the page
    assert "清除条件" in tail
    odd = client.get("/subsidies/review/", {"status": "nonsense", "risk": "<x>"})
    assert odd.status_code == 200 and "待审核申请 34 份" in odd.content.decode()  # unknown values are ignored
    assert logged_in(user_with_role(Role.FINANCE_OFFICER)).get("/subsidies/review/").status_code == 403


def test_the_migration_fills_the_tails_of_existing_applications(world) -> None:
    Application.objects.update(applicant_id_tail="")
    migration = importlib.import_module("huanxin.subsidies.migrations.0016_application_id_tail")
    migration.fill_tails(django_apps, None)
    a = Application.objects.get(pk=world["a"].pk)
    assert a.applicant_id_tail == id_tail_hash(world["ids"][0])
    assert not Application.objects.filter(applicant_id_tail="").exists()


def test_programme_filter_offers_only_visible_programmes(world, plan) -> None:
    reviewer = user_with_role(Role.REVIEWER)
    codes = {p.code for p in selectors.queue_programmes(reviewer)}
    assert codes == set(Programme.objects.values_list("code", flat=True))
