import datetime as dt
import hashlib
import itertools
import json
import threading
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, connections, transaction
from hypothesis import given
from hypothesis import strategies as st

from huanxin.core import audit
from huanxin.core.models import AuditEvent, Region
from tests.conftest import postgres_only


def _append(n: int, action: str = "test.event") -> None:
    for i in range(n):
        with transaction.atomic():
            audit.record(actor=None, action=action, object_type="test", object_id=str(i), changes={"i": i, "名": "值"})


@pytest.mark.django_db
def test_events_form_a_chain_that_verifies() -> None:
    start = AuditEvent.objects.count()
    _append(5)
    events = list(AuditEvent.objects.order_by("id"))[start:]
    assert len({e.chain for e in events}) == 1  # one session: one chain
    assert [e.seq for e in events] == list(range(events[0].seq, events[0].seq + 5))
    for previous, current in itertools.pairwise(events):
        assert current.prev_hash == previous.hash
    assert list(audit.verify_chain()) == []
    out = StringIO()
    call_command("audit", "verify", stdout=out)
    assert "哈希链校验通过" in out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_record_refuses_to_run_outside_a_transaction() -> None:
    with pytest.raises(RuntimeError, match="inside the service's transaction"):
        audit.record(actor=None, action="x", object_type="t", object_id="1")


@pytest.mark.django_db
def test_the_event_rolls_back_with_the_change_it_records() -> None:
    before = AuditEvent.objects.count()
    with pytest.raises(ZeroDivisionError), transaction.atomic():
        Region.objects.create(code="999999", name="临时", kind=Region.Kind.COUNTY)
        audit.record(actor=None, action="region.created", object_type="region", object_id="999999")
        _ = 1 / 0
    assert AuditEvent.objects.count() == before
    assert not Region.objects.filter(code="999999").exists()


@pytest.mark.django_db
def test_verify_detects_an_edited_event() -> None:
    if connection.vendor == "postgresql":
        pytest.skip("PostgreSQL refuses the edit itself; see test_postgres_refuses_update_and_delete")
    _append(3)
    victim = AuditEvent.objects.order_by("id")[1]
    with connection.cursor() as cursor:  # an attacker with database access, bypassing the ORM
        cursor.execute("UPDATE core_auditevent SET changes = %s WHERE id = %s", ['{"i": 99}', victim.pk])
    problems = list(audit.verify_chain())
    assert [p.seq for p in problems] == [victim.seq]
    with pytest.raises(CommandError, match="哈希链已损坏"):
        call_command("audit", "verify", stdout=StringIO(), stderr=StringIO())


@pytest.mark.django_db
def test_verify_detects_a_deleted_event() -> None:
    if connection.vendor == "postgresql":
        pytest.skip("PostgreSQL refuses the delete itself")
    _append(4)
    victim = AuditEvent.objects.order_by("id")[2]
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM core_auditevent WHERE id = %s", [victim.pk])
    reasons = [p.reason for p in audit.verify_chain()]
    assert any("缺少序号" in r for r in reasons)
    assert any("prev_hash" in r for r in reasons)


@postgres_only
@pytest.mark.django_db
def test_postgres_refuses_update_and_delete() -> None:
    _append(1)
    event = AuditEvent.objects.order_by("-id").first()
    for sql in (
        "UPDATE core_auditevent SET action = 'forged' WHERE id = %s",
        "DELETE FROM core_auditevent WHERE id = %s",
    ):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql, [event.pk])
    assert AuditEvent.objects.get(pk=event.pk).action == "test.event"


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_parallel_writers_keep_one_unbroken_chain() -> None:
    """Eight real connections append at once: each chain stays gap-free and intact, and the writers spread over
    several chains instead of queueing on one."""
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            _append(25, action="parallel")
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert AuditEvent.objects.filter(action="parallel").count() == 200
    assert list(audit.verify_chain()) == []
    chains = set(AuditEvent.objects.filter(action="parallel").values_list("chain", flat=True))
    assert len(chains) > 1
    for chain in chains:
        seqs = list(AuditEvent.objects.filter(chain=chain).order_by("seq").values_list("seq", flat=True))
        assert seqs == list(range(1, len(seqs) + 1))


@pytest.mark.django_db
def test_record_many_appends_a_linked_run() -> None:
    with transaction.atomic():
        events = audit.record_many(
            [
                audit.Pending(action="batch.row", object_type="test", object_id=str(i), changes={"i": i})
                for i in range(4)
            ],
            actor=None,
        )
    assert [e.seq for e in events] == list(range(events[0].seq, events[0].seq + 4))
    stored = list(AuditEvent.objects.filter(action="batch.row").order_by("seq"))
    assert [(e.chain, e.seq, e.hash) for e in stored] == [(a.chain, a.seq, a.hash) for a in events]
    for previous, current in itertools.pairwise(stored):
        assert current.prev_hash == previous.hash
    assert list(audit.verify_chain()) == []


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@given(
    prev=st.text(alphabet="0123456789abcdef", min_size=64, max_size=64),
    seq=st.integers(min_value=1, max_value=10**9),
    at=st.datetimes(timezones=st.just(dt.timezone(dt.timedelta(hours=8)))),
    actor_id=st.none() | st.integers(min_value=1),
    label=st.text(max_size=20),
    action=st.text(max_size=40),
    object_type=st.text(max_size=20),
    object_id=st.text(max_size=20),
    changes=st.dictionaries(st.text(max_size=10), _JSON, max_size=5),
)
def test_the_hash_is_sha256_of_the_whole_event_as_canonical_json(
    prev: str,
    seq: int,
    at: dt.datetime,
    actor_id: int | None,
    label: str,
    action: str,
    object_type: str,
    object_id: str,
    changes: dict[str, object],
) -> None:
    """The hash is written out field by field for speed; it must be exactly the SHA-256 of the event's dict as
    sorted, compact JSON — the definition `verify` and anyone outside Huanxin can recompute."""
    whole = json.dumps(
        {
            "prev": prev,
            "seq": seq,
            "at": at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
            "actor": actor_id,
            "actor_label": label,
            "action": action,
            "object": f"{object_type}:{object_id}",
            "changes": changes,
        },
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    got = audit.compute_hash(
        prev_hash=prev,
        seq=seq,
        at=at,
        actor_id=actor_id,
        actor_label=label,
        action=action,
        object_type=object_type,
        object_id=object_id,
        changes=changes,
    )
    assert got == hashlib.sha256(whole.encode()).hexdigest()
