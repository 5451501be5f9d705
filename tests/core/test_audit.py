import datetime as dt
import hashlib
import itertools
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from hypothesis import given
from hypothesis import strategies as st

from huanxin.core import audit
from huanxin.core.models import AuditCheckpoint, AuditEvent, Region
from tests.conftest import postgres_only


def _append(n: int, action: str = "test.event") -> None:
    for i in range(n):
        with transaction.atomic():
            audit.record(actor=None, action=action, object_type="test", object_id=str(i), changes={"i": i, "名": "值"})


@contextmanager
def tampering() -> Iterator[None]:
    """An attacker with write access to the database, bypassing the ORM. On PostgreSQL the append-only trigger
    refuses UPDATE and DELETE on the log; a superuser switches triggers off for the session, as here."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = replica")
        try:
            yield
        finally:
            if connection.vendor == "postgresql":
                cursor.execute("SET session_replication_role = origin")


def _sql(statement: str, params: list[object]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def _last_chain() -> int:
    newest = AuditEvent.objects.order_by("-id").first()
    assert newest is not None
    return newest.chain


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
    _append(3)
    victim = AuditEvent.objects.order_by("id")[1]
    with tampering():
        _sql("UPDATE core_auditevent SET changes = %s WHERE id = %s", ['{"i": 99}', victim.pk])
    problems = list(audit.verify_chain())
    assert [(p.chain, p.seq) for p in problems] == [(victim.chain, victim.seq)]
    with pytest.raises(CommandError, match="哈希链已损坏"):
        call_command("audit", "verify", stdout=StringIO(), stderr=StringIO())


@pytest.mark.django_db
def test_verify_detects_a_deleted_event() -> None:
    _append(4)
    chain = _last_chain()
    victim = AuditEvent.objects.filter(chain=chain).order_by("-seq")[1]  # not the last one
    with tampering():
        _sql("DELETE FROM core_auditevent WHERE id = %s", [victim.pk])
    reasons = [p.reason for p in audit.verify_chain()]
    assert any("缺少序号" in r for r in reasons)
    assert any("prev_hash" in r for r in reasons)


@pytest.mark.django_db
def test_each_append_moves_the_signed_checkpoint_to_the_chain_head() -> None:
    _append(3)
    chain = _last_chain()
    head = AuditEvent.objects.filter(chain=chain).order_by("-seq").first()
    assert head is not None
    checkpoint = AuditCheckpoint.objects.get(chain=chain)
    assert (checkpoint.seq, checkpoint.hash) == (head.seq, head.hash)
    assert checkpoint.signature == audit.sign_head(chain, head.seq, head.hash)


@pytest.mark.django_db
def test_an_appending_transaction_costs_one_checkpoint_update() -> None:
    _append(1)  # the chain and its checkpoint exist
    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        audit.record_many(
            [audit.Pending(action="batch.row", object_type="test", object_id=str(i)) for i in range(5)], actor=None
        )
    touching = [q["sql"] for q in queries.captured_queries if "core_auditcheckpoint" in q["sql"]]
    assert len(touching) == 1 and touching[0].startswith("UPDATE")
    assert list(audit.verify_chain()) == []


@pytest.mark.django_db
def test_verify_detects_a_deleted_tail() -> None:
    """What is left after the newest events are deleted is still a valid chain; the checkpoint says where it
    ended."""
    _append(5)
    chain = _last_chain()
    last_seq = AuditEvent.objects.filter(chain=chain).order_by("-seq").values_list("seq", flat=True)[0]
    with tampering():
        _sql("DELETE FROM core_auditevent WHERE chain = %s AND seq > %s", [chain, last_seq - 2])
    problems = list(audit.verify_chain())
    assert [(p.chain, p.seq, p.kind) for p in problems] == [(chain, last_seq, "head")]
    assert "最新的记录被删除" in problems[0].reason
    err = StringIO()
    with pytest.raises(CommandError, match="哈希链已损坏"):
        call_command("audit", "verify", stdout=StringIO(), stderr=err)
    assert "最新的记录被删除" in err.getvalue()
    # appends after the deletion do not hide it: the checkpoint no longer matches the tail, so it stays put
    _append(3)
    assert any(p.chain == chain and p.kind == "head" for p in audit.verify_chain())


@pytest.mark.django_db
def test_verify_detects_a_forged_checkpoint() -> None:
    """Deleting the tail and moving the checkpoint to the new tail needs the key: signed with another one, the
    checkpoint is refused."""
    _append(4)
    chain = _last_chain()
    last_seq = AuditEvent.objects.filter(chain=chain).order_by("-seq").values_list("seq", flat=True)[0]
    with tampering():
        _sql("DELETE FROM core_auditevent WHERE chain = %s AND seq = %s", [chain, last_seq])
    new_head = AuditEvent.objects.get(chain=chain, seq=last_seq - 1)
    forged = hashlib.sha256(f"{chain}{new_head.seq}{new_head.hash}".encode()).hexdigest()  # no key to sign with
    with tampering():
        _sql(
            "UPDATE core_auditcheckpoint SET seq = %s, hash = %s, signature = %s WHERE chain = %s",
            [new_head.seq, new_head.hash, forged, chain],
        )
    problems = list(audit.verify_chain())
    assert [(p.chain, p.kind) for p in problems] == [(chain, "signature")]
    with pytest.raises(CommandError, match="哈希链已损坏"):
        call_command("audit", "verify", stdout=StringIO(), stderr=StringIO())


@pytest.mark.django_db
def test_a_deleted_checkpoint_or_a_deleted_chain_is_reported() -> None:
    _append(2)
    chain = _last_chain()
    with tampering():
        _sql("DELETE FROM core_auditcheckpoint WHERE chain = %s", [chain])
    assert [(p.chain, p.kind) for p in audit.verify_chain()] == [(chain, "missing")]
    audit.adopt()
    with tampering():
        _sql("DELETE FROM core_auditevent WHERE chain = %s", [chain])
    assert [(p.chain, p.seq, p.kind) for p in audit.verify_chain()] == [
        (chain, AuditCheckpoint.objects.get(chain=chain).seq, "head")
    ]


@pytest.mark.django_db
def test_adopt_signs_the_chains_of_a_log_begun_before_checkpoints() -> None:
    _append(3)
    with tampering():
        _sql("DELETE FROM core_auditcheckpoint", [])
    assert {p.kind for p in audit.verify_chain()} == {"missing"}
    out = StringIO()
    call_command("audit", "checkpoint", "--adopt", stdout=out)
    assert "已签署" in out.getvalue()
    assert list(audit.verify_chain()) == []
    again = audit.adopt()
    assert again.signed == [] and _last_chain() in again.kept  # signed once; a second run changes nothing


@pytest.mark.django_db
def test_adopt_refuses_to_sign_a_broken_chain() -> None:
    _append(3)
    victim = AuditEvent.objects.order_by("-id")[1]
    with tampering():
        _sql("UPDATE core_auditevent SET action = 'forged' WHERE id = %s", [victim.pk])
        _sql("DELETE FROM core_auditcheckpoint", [])
    with pytest.raises(CommandError, match="不能签署检查点"):
        call_command("audit", "checkpoint", "--adopt", stdout=StringIO())
    assert not AuditCheckpoint.objects.exists()


@pytest.mark.django_db
def test_exported_heads_catch_a_tail_cut_by_someone_holding_the_key(tmp_path: Path) -> None:
    """The key on the application server signs whatever head it is given. Heads exported earlier and kept
    elsewhere still show that the chain once went further."""
    _append(3)
    anchors = tmp_path / "heads.json"
    call_command("audit", "checkpoint", "--export", str(anchors), stdout=StringIO())
    exported = json.loads(anchors.read_text(encoding="utf-8"))
    chain = _last_chain()
    assert exported["chains"][str(chain)]["seq"] == AuditEvent.objects.filter(chain=chain).count()
    out = StringIO()
    call_command("audit", "verify", "--anchor-file", str(anchors), stdout=out)
    assert "导出链头一致" in out.getvalue()
    last_seq = exported["chains"][str(chain)]["seq"]
    new_head = AuditEvent.objects.get(chain=chain, seq=last_seq - 1)
    with tampering():
        _sql("DELETE FROM core_auditevent WHERE chain = %s AND seq = %s", [chain, last_seq])
        _sql(
            "UPDATE core_auditcheckpoint SET seq = %s, hash = %s, signature = %s WHERE chain = %s",
            [new_head.seq, new_head.hash, audit.sign_head(chain, new_head.seq, new_head.hash), chain],
        )
    assert list(audit.verify_chain()) == []  # consistent, and signed with the real key
    err = StringIO()
    with pytest.raises(CommandError, match="哈希链已损坏"):
        call_command("audit", "verify", "--anchor-file", str(anchors), stdout=StringIO(), stderr=err)
    assert "导出的链头已不在链中" in err.getvalue()


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
