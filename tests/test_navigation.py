"""The frame: every link of the navigation and every button of the subsidy overview opens for the role it is shown
to (huanxin/navigation.py asks the views' own checks); error pages are the site's own, in Chinese, in its frame,
with the reason and a way back — a 404 too under DEBUG (`make run`), where only a real exception keeps Django's
technical page; the footer carries the 主办单位, 备案号 and hotline from settings."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from huanxin import homes
from huanxin.core.roles import Role
from tests.factories import UserFactory, officer, task_force, user_with_role
from tests.projects.conftest import xuanhua  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db
NAV = re.compile(r'<nav class="nav" aria-label="主导航">(.*?)</nav>', re.S)
LINK = re.compile(r'<a href="([^"]+)"[^>]*>([^<]+)</a>')
BUTTON = re.compile(r'<a class="btn[^"]*" href="([^"]+)">([^<]+)</a>')


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def nav_links(html: str) -> dict[str, str]:
    match = NAV.search(html)
    assert match, "no navigation bar"
    return {label: url for url, label in LINK.findall(match.group(1))}


def opens(client: Client, url: str) -> bool:
    response = client.get(url, follow=True)
    return response.status_code == 200


@pytest.fixture
def everyone(plan: Any, xuanhua: Any) -> dict[str, Any]:  # noqa: F811
    from huanxin.core.models import Organisation

    county = Organisation.objects.create(
        name="宣化区人民政府", kind=Organisation.Kind.COUNTY_GOVERNMENT, region=xuanhua
    )
    return {
        "task_force": task_force(),
        "department_officer": officer("市住房和城乡建设局"),
        "county_officer": UserFactory(role=Role.COUNTY_OFFICER, organisation=county),
        **{
            role.value: user_with_role(role)
            for role in (Role.REVIEWER, Role.FINANCE_OFFICER, Role.AUDITOR, Role.MERCHANT, Role.RECYCLER)
        },
        "enterprise": user_with_role(Role.ENTERPRISE),
        "citizen": UserFactory(role=Role.CITIZEN),
        "admin": UserFactory(role=Role.TASK_FORCE, is_superuser=True, is_staff=True),
    }


def test_every_navigation_link_opens_for_the_role_it_is_shown_to(everyone: dict[str, Any]) -> None:
    for role, user in everyone.items():
        client = client_for(user)
        links = nav_links(client.get("/").content.decode())
        assert "工作台" in links, role
        for label, url in links.items():
            if url.startswith("/admin/") and not user.is_staff:
                continue
            assert opens(client, url), f"{role}: {label} {url}"


def test_each_role_gets_the_sections_of_its_work(everyone: dict[str, Any]) -> None:
    def labels(role: str) -> set[str]:
        return set(nav_links(client_for(everyone[role]).get("/").content.decode()))

    assert "补贴" in labels("county_officer")  # the county officer reviews its county's applications
    assert {"补贴", "上门回收"} <= labels("citizen")
    assert not {"监测总览", "调度督办", "项目库", "补贴结算", "API 令牌", "责任单位"} & labels("citizen")
    assert {"补贴", "补贴结算", "上门回收", "API 令牌"} <= labels("merchant")
    assert "补贴" not in labels("recycler") and "回收网络" in labels("recycler")
    assert "我的项目" in labels("enterprise") and "回收网络" not in labels("enterprise")
    assert "补贴结算" not in labels("reviewer")


def test_the_subsidy_overview_offers_only_the_buttons_the_role_can_open(everyone: dict[str, Any]) -> None:
    expected = {
        "reviewer": ({"审核队列"}, {"资金发放", "商户垫付与结算"}),
        "county_officer": ({"审核队列"}, {"资金发放", "商户垫付与结算"}),
        "finance_officer": ({"资金发放", "商户垫付与结算"}, {"审核队列"}),
        "auditor": ({"商户垫付与结算"}, {"审核队列", "资金发放"}),
        "task_force": ({"资金发放", "商户垫付与结算"}, {"审核队列"}),
    }
    for role, (shown, hidden) in expected.items():
        client = client_for(everyone[role])
        html = client.get("/subsidies/").content.decode()
        buttons = {label: url for url, label in BUTTON.findall(html)}
        assert shown <= set(buttons) and not hidden & set(buttons), (role, buttons)
        for label, url in buttons.items():
            assert opens(client, url), f"{role}: {label} {url}"


def test_a_403_shows_the_reason_in_the_frame_with_a_way_back(everyone: dict[str, Any]) -> None:
    response = client_for(everyone["finance_officer"]).get("/subsidies/review/")
    html = response.content.decode()
    assert response.status_code == 403
    assert "无权访问（403）" in html and "补贴审核由审核员和县区经办人办理" in html
    assert 'aria-label="主导航"' in html and 'href="/">返回工作台' in html and "主办单位" in html


@pytest.mark.parametrize("debug", [True, False])
def test_a_404_is_our_page_also_under_debug(everyone: dict[str, Any], settings: Any, debug: bool) -> None:
    settings.DEBUG = debug
    client = client_for(everyone["citizen"])
    for url in ("/no-such-page/", "/subsidies/applications/NOPE-1/"):  # no route; a view's Http404
        response = client.get(url)
        html = response.content.decode()
        assert response.status_code == 404, url
        assert "页面不存在（404）" in html and 'aria-label="主导航"' in html, url
        assert "URLconf" not in html and "Django" not in html, url
    anonymous = Client().get("/no-such-page/").content.decode()
    assert "页面不存在（404）" in anonymous and 'href="/accounts/login/"' in anonymous


def test_a_real_exception_keeps_the_technical_page_under_debug_and_ours_in_production(
    everyone: dict[str, Any], settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(user: Any) -> dict[str, Any]:
        raise RuntimeError("boom")

    monkeypatch.setitem(homes.HOMES, Role.CITIZEN, ("home/citizen.html", broken))
    settings.HUANXIN_SITE_OWNER = "某市测试工作专班"
    client = Client(raise_request_exception=False)
    client.force_login(everyone["citizen"])
    settings.DEBUG = True
    assert "RuntimeError" in client.get("/").content.decode()
    settings.DEBUG = False
    response = client.get("/")
    html = response.content.decode()
    assert response.status_code == 500 and "系统出错了（500）" in html and "某市测试工作专班" in html
    assert "RuntimeError" not in html


def test_a_400_is_our_page_in_the_frame(everyone: dict[str, Any]) -> None:
    response = client_for(everyone["citizen"]).get("/", {"q": "a\x00b"})
    html = response.content.decode()
    assert response.status_code == 400 and "请求有误（400）" in html and "控制字符" in html
    assert 'aria-label="主导航"' in html
    refused = Client().get("/", HTTP_HOST="evil.example")  # DisallowedHost: Django's handler400
    assert refused.status_code == 400 and "请求有误（400）" in refused.content.decode()


def test_the_footer_and_the_name_come_from_settings(everyone: dict[str, Any], settings: Any) -> None:
    settings.HUANXIN_SITE_NAME = "某市以旧换新平台"
    settings.HUANXIN_SITE_OWNER = "某市商务局"
    settings.HUANXIN_ICP = "冀ICP备12345678号"
    settings.HUANXIN_HOTLINE = "0313-1234567"
    for html in (
        client_for(everyone["citizen"]).get("/").content.decode(),
        Client().get("/recycling/sites/").content.decode(),
    ):
        assert "某市以旧换新平台" in html and "主办单位：某市商务局" in html
        assert "冀ICP备12345678号" in html and 'href="tel:0313-1234567"' in html
        assert 'class="emblem mark"' in html
    settings.HUANXIN_EMBLEM = "huanxin/emblem.png"
    assert 'src="/static/huanxin/emblem.png"' in Client().get("/recycling/sites/").content.decode()
