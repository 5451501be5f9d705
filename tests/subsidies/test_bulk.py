"""The batch path (`bulk.submit_rows`): the same rows give the same answers as one by one through
`submit_application` — duplicates inside the file, per-person limits across rows, the money running out in the
middle, a daily quota, the same 订单号 twice — across chunk boundaries; the ledger and the audit log verify after.
On PostgreSQL, overlapping batches and tills racing for the same invoices use each invoice once."""

from __future__ import annotations

import datetime as dt
import random
import threading
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections
from django.utils import timezone

from huanxin.core import audit
from huanxin.core.models import AuditEvent, Organisation, Region
from huanxin.core.roles import Role
from huanxin.demo import identities
from huanxin.subsidies import bulk, rules, selectors
from huanxin.subsidies.applications import ItemIn, submit_application
from huanxin.subsidies.models import Application, Claim, Entry, Programme
from tests.conftest import postgres_only
from tests.factories import UserFactory
from tests.subsidies.conftest import YUAN, make_programme


@pytest.fixture
def merchant(plan: Any) -> Any:
    store = Organisation.objects.create(name="焕新家电商行", kind="merchant", region=Region.objects.get(code="130702"))
    return UserFactory(role=Role.MERCHANT, organisation=store)


def people(n: int, seed: int = 3) -> list[str]:
    rng = random.Random(seed)
    return [identities.resident_id(rng) for _ in range(n)]


def row(line: int, programme: Programme, person: str, invoice: str, *, order: str = "", kind: str = "tv") -> bulk.RowIn:
    return bulk.RowIn(
        line=line,
        order=order or f"DD{line:05d}",
        programme=programme,
        applicant_name="申请人",
        applicant_id=person,
        phone="13800001111",
        items=[
            ItemIn(
                kind=kind,
                invoice_no=invoice,
                invoice_date=timezone.localdate(),
                price_fen=3_000 * YUAN,
                brand_model="海信65E5N",
                serial=f"S-{invoice}",
                grade="1",
            )
        ],
    )


def tricky_rows(programme: Programme) -> list[bulk.RowIn]:
    """20 rows: fresh sales, a repeated invoice, a second TV for one person, a bad ID, a repeated 订单号 with the same
    sale (answered as before) and with another sale (refused: a key names one request)."""
    ids = people(16)
    rows = [row(i, programme, ids[i], f"INV{i:04d}") for i in range(12)]
    rows.append(row(12, programme, ids[12], "INV0003"))  # invoice of row 3 again
    rows.append(row(13, programme, ids[0], "INV0013"))  # person of row 0: a second TV (limit 1)
    rows.append(row(14, programme, "130702199001011234", "INV0014"))  # check digit wrong
    rows.append(row(15, programme, ids[5], "INV0005", order="DD00005"))  # row 5 again, 订单号 and sale
    rows += [row(i, programme, ids[i - 4] if i < 20 else ids[1], f"INV{i:04d}") for i in range(16, 19)]
    rows.append(row(19, programme, ids[15], "INV0019", order="DD00006"))  # 订单号 of row 6, another sale
    return rows


def one_by_one(actor: Any, rows: list[bulk.RowIn]) -> list[tuple[bool, str, int]]:
    answers = []
    for r in rows:
        try:
            a = submit_application(
                actor=actor,
                programme=r.programme,
                applicant_name=r.applicant_name,
                applicant_id=r.applicant_id,
                phone=r.phone,
                items=r.items,
                idempotency_key=r.key,
            )
        except Exception as exc:
            answers.append((False, str(getattr(exc, "error_list", [exc])[0].code), 0))
        else:
            answers.append((True, str(a.status), a.amount_fen))
    return answers


def codes(outcomes: list[bulk.Outcome]) -> list[tuple[bool, str, int]]:
    """(ok, status or refusal code, amount) — the refusal code is the message's check name's code, read back."""
    return [(o.ok, o.status if o.ok else o.message, o.amount_fen) for o in outcomes]


def _programme(boss: Any, code: str, **kwargs: Any) -> Programme:
    params = {**rules.DEFAULTS["appliance"], "sample_pct": 0}
    return make_programme(boss, code=code, parameters=params, **kwargs)


@pytest.mark.django_db
@pytest.mark.parametrize("chunk", [3, 500])
def test_a_batch_answers_every_row_as_one_by_one_would(merchant, boss, monkeypatch, chunk) -> None:
    assert not bulk._pipelined()  # inside the test's transaction: one connection, chunk after chunk
    same_as_one_by_one(merchant, boss, monkeypatch, chunk)


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_pipelined_batch_answers_every_row_as_one_by_one_would(merchant, boss, monkeypatch) -> None:
    """Chunks of 3 rows: a writer thread settles the chunks queued to it while the next are checked, the
    duplicates, the limits and the money crossing chunk boundaries all the same."""
    assert bulk._pipelined()
    same_as_one_by_one(merchant, boss, monkeypatch, 3)


def same_as_one_by_one(merchant: Any, boss: Any, monkeypatch: Any, chunk: int) -> None:
    monkeypatch.setattr(bulk, "CHUNK", chunk)
    # 10,000 yuan: the money runs out part-way (each TV 600 yuan), so the later rows are refused
    single = _programme(boss, "single", budget_fen=6_000 * YUAN)
    batched = _programme(boss, "batched", budget_fen=6_000 * YUAN)
    expected = one_by_one(merchant, tricky_rows(single))
    # the batch's own merchant, so that 订单号 keys do not meet the first run's
    other = UserFactory(role=Role.MERCHANT, organisation=merchant.organisation)
    Claim.objects.update(active=False)  # the first run's invoices may be used again by the second programme
    outcomes = bulk.submit_rows(actor=other, rows=tricky_rows(batched))

    assert [o.line for o in outcomes] == list(range(20))
    got = [(o.ok, o.status, o.amount_fen) for o in outcomes]
    assert [g[0] for g in got] == [e[0] for e in expected]
    assert [g[2] for g in got] == [e[2] for e in expected]
    assert [g[1] for g in got if g[0]] == [e[1] for e in expected if e[0]]
    refused = {o.line: o.message for o in outcomes if not o.ok}
    assert "已用于其他补贴申请" in refused[12]
    assert "每人限补" in refused[13]
    assert "居民身份证号码无效" in refused[14]
    assert outcomes[15].existed and outcomes[15].number == outcomes[5].number
    assert not outcomes[19].ok and "内容不同" in outcomes[19].message
    assert any("额度已用完" in m for m in refused.values())  # 10 TVs of 600 yuan fit in 6,000 yuan
    accepted = [o for o in outcomes if o.ok and not o.existed]
    assert len(accepted) == 10
    assert Application.objects.filter(programme=batched).count() == 10

    report = selectors.check_ledger(batched)
    assert report.problems == []
    assert report.balances.available_fen == 0
    assert report.balances.reserved_fen == 6_000 * YUAN
    assert Entry.objects.filter(programme=batched, kind=Entry.Kind.RESERVE).count() == 10
    assert list(audit.verify_chain()) == []
    submitted = AuditEvent.objects.filter(action="subsidies.application_submitted", actor=other)
    assert sorted(submitted.values_list("object_repr", flat=True)) == sorted(o.number for o in accepted)


@pytest.mark.django_db
def test_a_batch_queues_what_the_money_does_not_cover_when_the_programme_says_so(merchant, boss) -> None:
    programme = _programme(boss, "queueing", budget_fen=1_200 * YUAN, on_exhaustion=Programme.OnExhaustion.QUEUE)
    ids = people(4)
    outcomes = bulk.submit_rows(actor=merchant, rows=[row(i, programme, ids[i], f"Q{i}") for i in range(4)])
    assert [o.status for o in outcomes] == ["reserved", "reserved", "queued", "queued"]
    assert not Entry.objects.filter(programme=programme, kind=Entry.Kind.RESERVE, reference=outcomes[2].number)
    assert selectors.check_ledger(programme).problems == []


@pytest.mark.django_db
def test_a_daily_quota_stops_a_batch_part_way(merchant, boss) -> None:
    programme = _programme(boss, "quota", budget_fen=100_000 * YUAN, daily_quota_fen=1_500 * YUAN)
    ids = people(4)
    outcomes = bulk.submit_rows(actor=merchant, rows=[row(i, programme, ids[i], f"D{i}") for i in range(4)])
    assert [o.ok for o in outcomes] == [True, True, False, False]
    assert "今日补贴额度已用完" in outcomes[2].message


@pytest.mark.django_db
def test_uploading_the_same_rows_again_submits_nothing_twice(merchant, boss) -> None:
    programme = _programme(boss, "again")
    ids = people(5)
    rows = [row(i, programme, ids[i], f"A{i}") for i in range(5)]
    first = bulk.submit_rows(actor=merchant, rows=rows)
    second = bulk.submit_rows(actor=merchant, rows=rows)
    assert all(o.existed for o in second)
    assert [o.number for o in second] == [o.number for o in first]
    assert Application.objects.filter(programme=programme).count() == 5


@pytest.mark.django_db
def test_a_closed_programme_refuses_every_row(merchant, boss) -> None:
    today = timezone.localdate()
    programme = _programme(boss, "over", opens_on=today - dt.timedelta(days=60), closes_on=today - dt.timedelta(days=1))
    outcomes = bulk.submit_rows(actor=merchant, rows=[row(0, programme, people(1)[0], "C0")])
    assert not outcomes[0].ok and "不在受理期" in outcomes[0].message


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_overlapping_batches_and_tills_use_each_invoice_once(plan, boss) -> None:
    programme = _programme(boss, "race", budget_fen=1_000_000 * YUAN, stripes=8)
    store = Organisation.objects.create(name="并发商行", kind="merchant", region=Region.objects.get(code="130702"))
    merchants = [UserFactory(role=Role.MERCHANT, organisation=store) for _ in range(4)]
    ids = people(300, seed=11)
    invoices = [f"R{i:04d}" for i in range(150)]

    def batch_of(m: int) -> Any:
        rng = random.Random(m)
        chosen = rng.sample(range(150), 100)
        rows = [row(n, programme, ids[(m * 75 + n) % 300], invoices[i]) for n, i in enumerate(chosen)]
        return lambda: bulk.submit_rows(actor=merchants[m], rows=rows)

    def till(m: int) -> Any:
        def work() -> int:
            accepted = 0
            for i in range(0, 150, 5):
                try:
                    submit_application(
                        actor=merchants[m],
                        programme=programme,
                        applicant_name="申请人",
                        applicant_id=ids[(i + 7 * m) % 300],
                        phone="13912345678",
                        items=[
                            ItemIn(
                                kind="tv",
                                invoice_no=invoices[i],
                                invoice_date=timezone.localdate(),
                                price_fen=3_000 * YUAN,
                                grade="1",
                            )
                        ],
                    )
                except ValidationError:  # refused: the invoice or the person is taken
                    continue
                accepted += 1
            return accepted

        return work

    barrier = threading.Barrier(4)
    errors: list[BaseException] = []
    answers: list[Any] = []

    def run(work: Any) -> None:
        try:
            barrier.wait()
            answers.append(work())
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(w,)) for w in (batch_of(0), batch_of(1), batch_of(2), till(3))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    used = list(Application.objects.filter(programme=programme).values_list("items__invoice_no", flat=True))
    assert len(used) == len(set(used))  # no invoice in two applications
    batches = [a for a in answers if isinstance(a, list)]
    assert len(batches) == 3 and all(len(b) == 100 for b in batches)  # every row has its answer
    numbers = {o.number for b in batches for o in b if o.ok}
    stored = set(Application.objects.filter(programme=programme).values_list("number", flat=True))
    assert numbers <= stored  # every accepted row is in the database
    refused = [o.message for b in batches for o in b if not o.ok]
    assert refused and all(("已用于其他补贴申请" in m) or ("每人限补" in m) for m in refused)
    report = selectors.check_ledger(programme)
    assert report.problems == []
    assert report.balances.reserved_fen == sum(
        Application.objects.filter(programme=programme).values_list("amount_fen", flat=True)
    )
    assert list(audit.verify_chain()) == []


@pytest.mark.django_db
def test_a_batch_large_enough_for_copy_stores_what_one_by_one_stores(merchant, boss) -> None:
    """120 rows: on PostgreSQL every table of the chunk goes in by COPY (bulkinsert.COPY_FROM rows and more), so the
    stored rows — encrypted personal data, JSON, dates — must read back exactly as the ORM would have written them."""
    from huanxin.core import bulkinsert

    assert bulkinsert.COPY_FROM < 120
    programme = _programme(boss, "copy", budget_fen=1_000_000 * YUAN)
    ids = people(120, seed=8)
    outcomes = bulk.submit_rows(actor=merchant, rows=[row(i, programme, ids[i], f"CP{i:04d}") for i in range(120)])
    assert all(o.ok for o in outcomes)
    application = Application.objects.get(number=outcomes[37].number)
    assert application.applicant_id == ids[37] and application.phone == "13800001111"
    assert application.risk_reasons == [] and application.items.get().invoice_no == "CP0037"
    assert application.events.get().note == "额度已预留，等待审核"
    assert [(c["name"], c["outcome"]) for c in application.checks] == [
        ("身份核验", "passed"),
        ("受理期与开票日期", "passed"),
        ("每人限额", "passed"),
        ("凭证唯一", "passed"),
        ("价格合理性", "passed"),
    ]
    assert application.items.get().details == {}
    assert Claim.objects.filter(application=application, active=True).count() == 2
    event = AuditEvent.objects.get(action="subsidies.application_submitted", object_id=str(application.pk))
    assert event.changes["number"] == application.number and event.changes["amount_fen"] == 600 * YUAN
    assert list(audit.verify_chain()) == []
    assert selectors.check_ledger(programme).problems == []
    with connection.cursor() as cursor:  # personal data encrypted at rest, whichever way it went in
        cursor.execute("SELECT applicant_id FROM subsidies_application WHERE id = %s", [application.pk])
        assert ids[37] not in cursor.fetchone()[0]


@pytest.mark.django_db
def test_earlier_applications_count_against_a_batch_row(merchant, boss) -> None:
    """What the batch reads from the database for a chunk: an applicant's earlier items (per-person limit) and an
    invoice claimed before — read in one query each, not per row."""
    programme = _programme(boss, "earlier", budget_fen=100_000 * YUAN)
    ids = people(3, seed=21)
    one_by_one(merchant, [row(0, programme, ids[0], "E-OLD")])
    rows = [row(1, programme, ids[0], "E-NEW"), row(2, programme, ids[1], "E-OLD"), row(3, programme, ids[2], "E-3")]
    outcomes = bulk.submit_rows(actor=merchant, rows=rows)
    assert [o.ok for o in outcomes] == [False, False, True]
    assert "每人限补" in outcomes[0].message and "已用于其他补贴申请" in outcomes[1].message


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_chunk_the_database_refuses_is_done_one_by_one_and_the_chunks_checked_after_it_again(
    merchant, boss, monkeypatch
) -> None:
    """A till takes an invoice of chunk 2 after chunk 2 was checked and before it is written: the database refuses
    the chunk (the claim is taken), its rows are submitted one by one — the one with that invoice refused — and the
    chunks queued behind it, checked against what chunk 2 would have been, are skipped by the writer and checked
    again."""
    monkeypatch.setattr(bulk, "CHUNK", 4)
    programme = _programme(boss, "redo", budget_fen=100_000 * YUAN)
    ids = people(13, seed=21)
    rows = [row(i, programme, ids[i], f"RD{i:03d}") for i in range(12)]
    rows.append(row(12, programme, ids[5], "RD012"))  # chunk 4: the person of row 5 (chunk 2) again — limit 1 TV
    till = UserFactory(role=Role.MERCHANT, organisation=merchant.organisation)
    submit, checks = bulk._ThreadWriter.submit, []

    def submit_after_a_till(self: Any, chunk: Any, outcomes: Any) -> None:
        if chunk.accepted and chunk.accepted[0].row.line == 4:  # chunk 2, checked: a till sells its invoice RD006
            submit_application(
                actor=till,
                programme=programme,
                applicant_name="别人",
                applicant_id=people(1, seed=99)[0],
                phone="13912345678",
                items=[ItemIn("tv", "RD006", timezone.localdate(), 3_000 * YUAN, grade="1")],
            )
        submit(self, chunk, outcomes)

    check_rows = bulk._check_rows

    def counted(chunk: Any, chunk_rows: list[bulk.RowIn], outcomes: Any) -> None:
        checks.append(chunk_rows[0].line)
        check_rows(chunk, chunk_rows, outcomes)

    monkeypatch.setattr(bulk._ThreadWriter, "submit", submit_after_a_till)
    monkeypatch.setattr(bulk, "_check_rows", counted)
    outcomes = bulk.submit_rows(actor=merchant, rows=rows)

    # chunks 3 and 4 were checked and queued behind chunk 2 (bulk.IN_FLIGHT): checked again after its refusal
    assert checks == [0, 4, 8, 12, 8, 12]
    assert not outcomes[6].ok and "已用于其他补贴申请" in outcomes[6].message
    assert [o.line for o in outcomes if not o.ok] == [6, 12]
    assert "每人限补" in outcomes[12].message  # row 5, done one by one, counts against the person in chunk 4
    stored = set(Application.objects.filter(programme=programme).values_list("number", flat=True))
    sold_at_till = Application.objects.get(created_by=till).number
    assert {o.number for o in outcomes if o.ok} | {sold_at_till} == stored
    used = list(Claim.objects.filter(application__programme=programme, kind="invoice").values_list("value", flat=True))
    assert len(used) == len(set(used)) == 12
    assert selectors.check_ledger(programme).problems == []
    assert list(audit.verify_chain()) == []


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_when_the_writer_fails_nothing_queued_behind_the_failed_chunk_is_written(merchant, boss, monkeypatch) -> None:
    monkeypatch.setattr(bulk, "CHUNK", 4)
    programme = _programme(boss, "broken", budget_fen=100_000 * YUAN)
    ids = people(16, seed=31)
    write = bulk._write

    def failing_write(chunk: Any) -> None:
        if chunk.accepted[0].row.line == 4:
            raise RuntimeError("disk on fire")
        write(chunk)

    monkeypatch.setattr(bulk, "_write", failing_write)
    with pytest.raises(RuntimeError, match="disk on fire"):
        bulk.submit_rows(actor=merchant, rows=[row(i, programme, ids[i], f"BR{i:03d}") for i in range(16)])
    lines = sorted(
        int(key.removeprefix("batch:DD")) for key in Application.objects.values_list("idempotency_key", flat=True)
    )
    assert lines == [0, 1, 2, 3]  # chunk 1 only: chunk 2 rolled back, chunks 3 and 4 skipped
    assert selectors.check_ledger(programme).problems == []
    assert list(audit.verify_chain()) == []


def test_one_definition_of_the_application_row_for_both_paths() -> None:
    """The batch inserts the columns `application_values` makes, in its order: the web path's model and the batch's
    row come from the same function."""
    import inspect

    from huanxin.subsidies import applications

    source = inspect.getsource(applications.application_values)
    keys = [line.split('"')[1] for line in source.splitlines() if line.strip().startswith('"') and '":' in line]
    assert tuple(keys) == applications.APPLICATION_FIELDS
    assert ["id", "number", *applications.APPLICATION_FIELDS] == bulk.APPLICATION_COLUMNS
    assert {f.attname for f in Application._meta.concrete_fields} == set(bulk.APPLICATION_COLUMNS)
