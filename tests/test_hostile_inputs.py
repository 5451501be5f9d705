"""No input ends in a 500: every page, as every role, with hostile query parameters, and every form it shows
posted with hostile values, answers below 500, and every HTML answer is in Chinese.

The pages are found by crawling the demo data as each role (links followed from the home page, one URL per
named route and role), so each route is reached with real objects its role may see; a route never reached fails
`test_every_page_route_is_reached`, so a new page cannot escape the walk. The hostile set is thrown at each
route, spread over the roles that can open it (every value reaches every route), into every parameter the
pages' filter forms name plus the common ones. Each POST form found is sent twice, every field hostile.

Everything runs inside one transaction on the demo data, rolled back at the end of the module.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from html.parser import HTMLParser
from io import StringIO
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import transaction
from django.test import Client
from django.urls import Resolver404, URLPattern, URLResolver, get_resolver, resolve, reverse

from huanxin.core import inputs
from huanxin.core.models import Organisation, Region, User
from huanxin.monitoring.models import ValueAttachment
from huanxin.projects.models import Project
from huanxin.subsidies.models import Evidence

pytestmark = pytest.mark.django_db  # the test database is set up for marked tests only

HOSTILE = [
    "\x00",
    "\x01",
    "²",
    "１２",
    "99999999999999999999",
    "-1",
    "1e30",
    "Infinity",
    "NaN",
    "9999-12-31",
    "0001-01-01",
    "长" * 5000,
    "<script>alert(1)</script>",
]
DOOR = HOSTILE[:2]
VALUES = HOSTILE[2:]
ROUNDS = 4  # requests per route besides the door's: every parameter meets four values, the route all of them
# Parameters the views read by hand, beside the fields of each page's own filter forms.
COMMON_PARAMS = ["q", "page", "period", "status", "region", "category", "month", "kind", "since", "until", "next"]

ROLES = {
    "task_force": "zhuanban",
    "department": "zhujian",
    "county": "zhangbei",
    "reviewer": "shenhe",
    "finance": "caiwu",
    "merchant": "shanghu",
    "recycler": "huishou",
    "enterprise": "qiye",
    "citizen": "jumin",
    "auditor": "shenji",
    "anonymous": "",
}
# Routes only ever posted to (an action, a file upload, the log-out); their forms are posted from the pages.
POST_ONLY = {
    "logout",
    "plans:import_save",
    "plans:import_publish",
    "plans:import_header",
    "plans:action_create",
    "plans:action_submit",
    "monitoring:review_bulk",
    "monitoring:review_action",
    "monitoring:report_upload",
    "monitoring:ledger_record",
    "monitoring:ledger_void",
    "supervision:report",
    "supervision:milestone_add",
    "supervision:milestone_done",
    "supervision:milestone_cancel",
    "recycling:booking_action",
    "recycling:certificate_revoke",
    "projects:action",
    "subsidies:application_action",
    "subsidies:programme_action",
    "subsidies:evidence_upload",
}
# Forms shown only beside some rows (an entry the viewer recorded himself): posted when the walk meets one.
# The evidence upload is shown on an application still being handled, to its applicant or filing merchant only.
SOMETIMES_SHOWN = {"monitoring:ledger_void", "subsidies:evidence_upload"}
NOT_POSTED = {"logout"}  # it would end the session the rest of the walk uses
CJK = re.compile(r"[\u4e00-\u9fff]")
MAX_PAGES_PER_ROLE = 400


@dataclass
class Form:
    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)  # name → the page's own value
    hostile: list[str] = field(default_factory=list)  # the names a person types or picks
    submit: tuple[str, str] | None = None


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.forms: list[Form] = []
        self._form: Form | None = None
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        elif tag == "form":
            self._form = Form(action=a.get("action", ""), method=a.get("method", "get").lower())
            self.forms.append(self._form)
        elif self._form is not None and a.get("name"):
            name, kind = a["name"], a.get("type", "text").lower()
            if (tag == "input" and kind in ("submit", "image")) or tag == "button":
                self._form.submit = self._form.submit or (name, a.get("value", ""))
            elif tag == "input" and kind == "file":
                pass  # uploads are tests/…/test_uploads' business
            elif tag == "input" and kind in ("hidden", "checkbox", "radio"):
                if kind == "hidden" or "checked" in a:
                    self._form.fields.setdefault(name, a.get("value", "on"))
                if kind == "hidden" and name not in ("csrfmiddlewaretoken", "token"):
                    self._form.hostile.append(name)
            elif tag in ("input", "textarea", "select"):
                self._form.fields.setdefault(name, a.get("value", ""))
                self._form.hostile.append(name)
                self._select = name if tag == "select" else None
        if tag == "option" and self._form is not None and self._select and "selected" in a:
            self._form.fields[self._select] = a.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None


def named_routes() -> set[str]:
    def walk(patterns: list[Any], ns: str = "") -> Iterator[str]:
        for p in patterns:
            if isinstance(p, URLResolver):
                if str(p.pattern).startswith(("admin/", "api/")):
                    continue
                yield from walk(p.url_patterns, ns + (f"{p.namespace}:" if p.namespace else ""))
            elif isinstance(p, URLPattern) and p.name:
                yield ns + p.name

    return set(walk(get_resolver().url_patterns))


def route_of(url: str) -> str | None:
    path = urlsplit(url).path
    if not path.startswith("/") or path.startswith(("/admin/", "/api/", "/static/")):
        return None
    try:
        return resolve(path).view_name
    except Resolver404:
        return None


@dataclass
class Walk:
    clients: dict[str, Client]
    pages: dict[str, dict[str, str]]  # role → route → one URL of it
    forms: dict[str, dict[tuple[str, str], Form]]  # role → (route, field names) → form
    params: dict[str, set[str]]  # route → the names its GET forms carry
    failures: list[str]


def _client(username: str) -> Client:
    client = Client(raise_request_exception=False)
    if username:
        client.force_login(User.objects.get(username=username))
    return client


def _check(walk: Walk, role: str, method: str, url: str, response: Any, what: str = "") -> None:
    where = f"{role} {method} {url[:160]}{' ' + what if what else ''}"
    if response.status_code >= 500:
        exc = getattr(response, "exc_info", None)
        walk.failures.append(f"{where}: {response.status_code} {exc[1]!r}" if exc else f"{where}: 500")
    elif (
        response.get("Content-Type", "").startswith("text/html")
        and response.content
        and not CJK.search(response.content.decode("utf-8", "replace"))
    ):
        walk.failures.append(f"{where}: {response.status_code} answer without Chinese")


def _unlinked(role: str) -> list[str]:
    """Pages reached otherwise than by a plain link: the public look-ups, the booking form's slot list (htmx), a
    project open for editing, an evidence file, the financing list."""
    urls = ["/subsidies/status/", "/recycling/verify/", "/projects/financing/", "/recycling/book/slots/"]
    if role == "enterprise":
        mine = Project.objects.filter(status__in=Project.EDITABLE, enterprise__organisation__users__username="qiye")
        urls += [reverse("projects:edit", args=[p.code]) for p in mine.order_by("pk")[:1]]
    if attachment := ValueAttachment.objects.order_by("pk").first():
        urls.append(reverse("monitoring:evidence", args=[attachment.pk]))
    if evidence := Evidence.objects.order_by("pk").first():
        urls.append(reverse("subsidies:evidence", args=[evidence.pk]))
    if role != "anonymous":  # 消息: linked from the navigation's badge once the frame shows it
        urls.append(reverse("notices:messages"))
    return urls


def _absent_from_demo() -> set[str]:
    """Routes of objects the demo data does not have, so no walk can reach them."""
    absent = set()
    if not ValueAttachment.objects.exists():
        absent.add("monitoring:evidence")
    if not Evidence.objects.exists():
        absent.add("subsidies:evidence")
    if not Project.objects.filter(status__in=Project.EDITABLE, enterprise__organisation__users__username="qiye"):
        absent.add("projects:edit")
    return absent


def _crawl(walk: Walk, role: str) -> None:
    client = walk.clients[role]
    todo = ["/" if role != "anonymous" else "/recycling/sites/", *_unlinked(role)]
    seen: dict[str, str] = {}
    forms: dict[tuple[str, str], Form] = {}
    while todo and len(seen) < MAX_PAGES_PER_ROLE:
        url = todo.pop(0)
        route = route_of(url)
        if route is None or route in POST_ONLY or route in seen or "format=" in url:
            continue  # exports are tests/test_exports' business
        seen[route] = url
        response = client.get(url)
        _check(walk, role, "GET", url, response)
        if response.status_code != 200 or not response.get("Content-Type", "").startswith("text/html"):
            continue
        page = _Page()
        page.feed(response.content.decode())
        todo.extend(urljoin(url, href) for href in page.links)
        for form in page.forms:
            target = urljoin(url, form.action or url)
            target_route = route_of(target)
            if target_route is None:
                continue
            if form.method == "get":
                walk.params.setdefault(target_route, set()).update(form.fields)
                todo.append(f"{urlsplit(target).path}?{urlencode(form.fields)}")
            elif target_route not in NOT_POSTED:
                form.action = target
                forms.setdefault((target_route, ",".join(sorted(form.fields))), form)
    walk.pages[role] = seen
    walk.forms[role] = forms


@pytest.fixture(scope="module")
def walk(django_db_setup: Any, django_db_blocker: Any) -> Iterator[Walk]:
    with django_db_blocker.unblock(), transaction.atomic():
        call_command("demo", stdout=StringIO())
        result = Walk({role: _client(name) for role, name in ROLES.items()}, {}, {}, {}, [])
        for role in ROLES:
            _crawl(result, role)
        with django_db_blocker.unblock():
            yield result
        transaction.set_rollback(True)


def test_the_clean_walk_has_no_server_error(walk: Walk) -> None:
    assert walk.failures == [], "\n".join(walk.failures)


def test_every_page_route_is_reached(walk: Walk) -> None:
    reached = {route for pages in walk.pages.values() for route in pages}
    posted = {route for forms in walk.forms.values() for route, _ in forms}
    probes = {"healthz", "readyz", "metrics"}  # for machines, not pages: tests/core/test_health.py, test_prom.py
    missing = named_routes() - reached - POST_ONLY - _absent_from_demo() - probes
    assert not missing, f"routes no role reached by links: {sorted(missing)}"
    never = POST_ONLY - NOT_POSTED - SOMETIMES_SHOWN - posted
    assert not never, f"forms never found: {sorted(never)}"


def test_hostile_query_parameters(walk: Walk) -> None:
    failures: list[str] = []
    result = Walk(walk.clients, {}, {}, {}, failures)
    by_route: dict[str, list[tuple[str, str]]] = {}
    for role, pages in walk.pages.items():
        for route, url in pages.items():
            by_route.setdefault(route, []).append((role, url))
    for route, visits in sorted(by_route.items()):
        names = sorted(set(COMMON_PARAMS) | walk.params.get(route, set()))
        for i in range(max(len(DOOR) + ROUNDS, len(visits))):
            role, url = visits[i % len(visits)]
            if i < len(DOOR):  # refused at the door whatever else the request carries: sent alone
                query = dict.fromkeys(names, DOOR[i])
            else:  # each parameter a different value, turning round from one request to the next
                k = (i - len(DOOR)) * 3
                query = {name: VALUES[(j + k) % len(VALUES)] for j, name in enumerate(names)}
            target = f"{urlsplit(url).path}?{urlencode(query)}"
            _check(result, role, "GET", target, walk.clients[role].get(target))
    assert failures == [], f"{len(failures)} failures:\n" + "\n".join(failures)


def test_hostile_form_posts(walk: Walk) -> None:
    failures: list[str] = []
    result = Walk(walk.clients, {}, {}, {}, failures)
    for role, forms in walk.forms.items():
        for n, ((route, _), form) in enumerate(sorted(forms.items())):
            for variant in range(2):
                data = dict(form.fields)
                for j, name in enumerate(form.hostile):
                    data[name] = HOSTILE[(n + j + variant * 7) % len(HOSTILE)]
                if form.submit:
                    data[form.submit[0]] = form.submit[1]
                response = walk.clients[role].post(form.action, data)
                _check(result, role, "POST", form.action, response, f"({route} variant {variant})")
    assert failures == [], f"{len(failures)} failures:\n" + "\n".join(failures)


def test_control_characters_are_refused_at_the_door(walk: Walk) -> None:
    client = walk.clients["anonymous"]
    page = client.get("/recycling/sites/?q=%00")
    assert page.status_code == 400 and "控制字符" in page.content.decode()
    api = client.post("/api/v1/subsidies/status", '{"number": "\\u0000"}', content_type="application/json")
    assert api.status_code == 400 and api.json()["code"] == "invalid_characters"
    lone = client.post("/api/v1/subsidies/status", '{"number": "\\ud800"}', content_type="application/json")
    assert lone.status_code == 400
    assert client.get("/recycling/sites/?q=%E4%B8%80%0A").status_code == 200  # a line break in a value is text
    broken = client.post("/api/v1/subsidies/status", "{not json", content_type="application/json")
    assert broken.status_code != 400 or broken.json().get("code") != "invalid_characters"


# --- the parsing functions and the model guard on their own (no demo data needed) ------------------------------


@pytest.mark.parametrize("text", ["²", "٣", "1e3", "1.5", "", "99999999999999999999", "-1"])
def test_whole_numbers_refuse_what_is_not_a_plain_count(text: str) -> None:
    with pytest.raises(ValidationError):
        inputs.whole_number(text, label="数量", maximum=inputs.POSITIVE_INT_MAX)


def test_whole_numbers_read_full_width_digits() -> None:
    assert inputs.whole_number("１２", label="数量") == 12
    assert inputs.lookup_id("²") is None and inputs.lookup_id("99999999999999999999") is None
    assert inputs.page_number("99999999999") == inputs.PAGE_CAP and inputs.page_number("NaN") == 1


@pytest.mark.parametrize("text", ["1e30", "Infinity", "NaN", "12345678901234567", "0.001", "-1"])
def test_decimals_refuse_what_the_column_cannot_hold(text: str) -> None:
    with pytest.raises(ValidationError):
        inputs.decimal(text, label="重量", max_digits=12, decimal_places=2)


def test_decimals_are_exact() -> None:
    assert inputs.decimal("１２．５", label="重量", max_digits=12, decimal_places=2) == Decimal("12.50")
    assert inputs.yuan_to_fen("1,200.05") == 120005
    with pytest.raises(ValidationError):
        inputs.yuan_to_fen("100000000000000")  # past MAX_FEN


@pytest.mark.parametrize("text", ["0001-01-01", "9999-12-31", "2025-02-30", "2025/06/30", "２０２５-０６-３０x"])
def test_dates_refuse_what_no_business_has(text: str) -> None:
    with pytest.raises(ValidationError):
        inputs.business_date(text, label="日期")
    assert inputs.filter_date(text) is None


def test_text_refuses_blank_long_and_control() -> None:
    with pytest.raises(ValidationError, match="不可见"):
        inputs.clean_text("\u200b\u200b", label="名称", max_length=10, required=True)
    with pytest.raises(ValidationError, match="过长"):
        inputs.clean_text("长" * 11, label="名称", max_length=10)
    with pytest.raises(ValidationError):
        inputs.clean_text("a\x00b", label="名称", max_length=10)
    assert inputs.clean_text("  站点\n ", label="名称", max_length=10) == "站点"


def test_the_guard_refuses_long_text_and_control_characters_before_the_database() -> None:
    region = Region.objects.get(code="130722")
    with pytest.raises(ValidationError, match="过长"):
        Organisation.objects.create(name="长" * 5000, kind=Organisation.Kind.RECYCLER, region=region)
    with pytest.raises(ValidationError, match="控制字符"):
        Organisation.objects.create(name="回收\x00公司", kind=Organisation.Kind.RECYCLER, region=region)


@pytest.mark.django_db
def test_a_multipart_body_without_its_boundary_is_a_clear_400(client) -> None:
    api = client.post("/api/v1/subsidies/status", b"--x\r\n", content_type="multipart/form-data")
    assert api.status_code == 400 and api.json()["code"] == "malformed_body"
    page = client.post("/recycling/verify/", b"--x\r\n", content_type="multipart/form-data")
    assert page.status_code == 400 and "请求内容格式不正确" in page.content.decode()
