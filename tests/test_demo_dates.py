"""The demo on awkward dates: what it shows is derived from today, so every flow exists on any date."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from huanxin.demo import monitoring as demo_monitoring
from huanxin.demo import plan_import as demo_plan_import
from huanxin.demo import projects as demo_projects
from huanxin.demo import supervision as demo_supervision
from huanxin.subsidies import selectors
from huanxin.subsidies.models import Application, Programme
from tests import clock

pytestmark = pytest.mark.django_db


def test_the_subsidy_demo_shows_every_flow_just_after_new_year(plan, monkeypatch) -> None:
    """The programmes' window comes from today, so the two months of applications before it are in it even at five
    past midnight on 1 January in Beijing: reviews, the e-bikes' queue and cars. Only what the subsidies need is
    built (the recycling network gives the cars' scrapping certificates and the e-bikes' collection point)."""
    clock.travel(monkeypatch, clock.beijing(timezone.localdate().year + 1, 1, 1, 0, 5))
    for unneeded in (demo_projects, demo_monitoring, demo_supervision, demo_plan_import):
        monkeypatch.setattr(unneeded, "build", lambda stdout: None)
    call_command("demo", stdout=StringIO())

    today = timezone.localdate()
    assert (today.month, today.day) == (1, 1)
    assert set(Programme.objects.values_list("category", flat=True)) == set(Programme.Category.values)
    assert all(p.opens_on <= today <= p.closes_on for p in Programme.objects.all())
    assert {"reserved", "in_review", "queued"} <= set(Application.objects.values_list("status", flat=True))
    for category in Programme.Category.values:
        assert Application.objects.filter(programme__category=category).exists(), category
    assert Application.objects.filter(programme__category="ebike", status="queued").exists()
    assert all(selectors.check_ledger(p).problems == [] for p in Programme.objects.all())
