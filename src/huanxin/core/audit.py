"""The audit log: append-only and hash-chained.

`record()` is called explicitly by every service function, inside its transaction, with the acting user and
the old/new values, never from signals. Each event's hash covers the previous event's hash, so removing or
editing any row breaks the chain, which `huanxin audit verify` detects. On PostgreSQL a trigger also refuses
UPDATE and DELETE on the table (migration core 0002).

The log is `AUDIT_CHAINS` chains side by side (64 by default), not one: appending takes the chain's lock until
the transaction commits, and with one chain every writer in the system would wait for every other (it was the
serial point of subsidy intake under load). A transaction appends to one chain only — the one of its database
session (the backend's pid modulo the number of chains) — so two transactions never wait for each other's chains
in a circle. Each chain numbers its events 1, 2, 3 … without gaps; on SQLite, where every write transaction is
serialised anyway, there is one chain (0).

The hashes alone cannot show that the newest events of a chain were deleted: what is left is still a valid chain.
So each chain has a checkpoint (`AuditCheckpoint`): its head — last seq and hash — signed with HMAC-SHA256 under
`AUDIT_ANCHOR_KEY`, moved by every appending transaction with one conditional UPDATE (`… WHERE seq = the tail it
read`). `verify` requires each chain to end exactly where its checkpoint says, under a valid signature; without the
key a database writer can neither move the checkpoint back nor sign a new one. A checkpoint that no longer matches
the tail is left where it is, so the mismatch stays visible after later appends. Heads exported with `huanxin audit
checkpoint --export` and checked with `verify --anchor-file` also catch an old checkpoint put back whole.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

from django.conf import settings
from django.db import connection, models, transaction
from django.utils import timezone

from huanxin.core import bulkinsert
from huanxin.core.models import AuditCheckpoint, AuditEvent, User

GENESIS_HASH = "0" * 64
# Any constant works; with the chain number it names the advisory lock that serialises one chain's appends.
_CHAIN_LOCK_ID = 0x68786175  # "hxau"


def _chain() -> int:
    """The chain this database session appends to, locked for the rest of the transaction."""
    if connection.vendor != "postgresql":
        return 0  # SQLite: every write transaction is IMMEDIATE (settings), so writers are already serialised
    connection.ensure_connection()
    chain = connection.connection.info.backend_pid % max(1, getattr(settings, "AUDIT_CHAINS", 64))
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_CHAIN_LOCK_ID, chain])
    return chain


def canonical(value: Any) -> str:
    """The JSON text an event's hash covers: keys sorted, no spaces, non-ASCII as it is."""
    return _canonical(value)


# json.dumps with any option but the defaults builds a new encoder at every call; one made once encodes the same
_canonical = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode


def _utc(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).isoformat(timespec="microseconds")


def _opening(*, at: str, actor_id: int | None, actor_label: str, action: str) -> str:
    """`canonical` of the hashed fields, written out, up to the changes: the keys in sorted order (action, actor,
    actor_label, at, changes, object, prev, seq). A batch appends thousands of events a second, all with the same
    opening; the whole text is the same as canonical() of the whole dict (a test holds them equal). `at` as `_utc`
    writes it."""
    return f'{{"action":{_text(action)},"actor":{_text(actor_id)},"actor_label":{_text(actor_label)},"at":{_text(at)},'


def _head(opening: str, *, changes: str, obj: str) -> str:
    """The text up to "prev": the opening, then `changes` given as its canonical text, then the object."""
    return f'{opening}"changes":{changes},"object":{_text(obj)},'


_text = json.JSONEncoder(ensure_ascii=False).encode  # one str, int or None as JSON


def _sealed(head: str, prev_hash: str, seq: int) -> str:
    return hashlib.sha256(f'{head}"prev":{_text(prev_hash)},"seq":{seq}}}'.encode()).hexdigest()


def compute_hash(
    *,
    prev_hash: str,
    seq: int,
    at: dt.datetime,
    actor_id: int | None,
    actor_label: str,
    action: str,
    object_type: str,
    object_id: str,
    changes: Any,
) -> str:
    """SHA-256 of the event's canonical JSON: {"prev", "seq", "at" (UTC, microseconds), "actor", "actor_label",
    "action", "object" ("type:id"), "changes"}."""
    opening = _opening(at=_utc(at), actor_id=actor_id, actor_label=actor_label, action=action)
    head = _head(opening, changes=canonical(changes), obj=f"{object_type}:{object_id}")
    return _sealed(head, prev_hash, seq)


def record(
    *,
    actor: User | None,
    action: str,
    target: models.Model | None = None,
    object_type: str = "",
    object_id: str = "",
    changes: dict[str, Any] | None = None,
    actor_label: str = "",
) -> Appended:
    """Append one event. Must run inside the caller's transaction so the event and the change land together."""
    if not connection.in_atomic_block:
        raise RuntimeError("audit.record() must be called inside the service's transaction")
    if target is not None:
        object_type = object_type or target._meta.label_lower
        object_id = object_id or str(target.pk)
    return record_many(
        [
            Pending(
                action=action,
                object_type=object_type,
                object_id=object_id,
                object_repr=str(target)[:200] if target is not None else "",
                changes=changes or {},
            )
        ],
        actor=actor,
        actor_label=actor_label,
    )[0]


class Pending(NamedTuple):
    """One event for `record_many`."""

    action: str
    object_type: str
    object_id: str
    object_repr: str = ""
    changes: dict[str, Any] | None = None


class Appended(NamedTuple):
    """Where an event went: its chain, its number in the chain and its hash."""

    chain: int
    seq: int
    hash: str


_TAIL = "SELECT seq, hash FROM core_auditevent WHERE chain = %s ORDER BY seq DESC LIMIT 1"
_MOVE_CHECKPOINT = """UPDATE core_auditcheckpoint SET seq = %s, hash = %s, signature = %s, updated_at = %s
    WHERE chain = %s AND seq = %s AND hash = %s"""


def sign_head(chain: int, seq: int, head_hash: str) -> str:
    """The checkpoint's signature: HMAC-SHA256 of the chain, its last seq and hash under `AUDIT_ANCHOR_KEY`."""
    message = f"huanxin.audit.checkpoint\0{chain}\0{seq}\0{head_hash}".encode()
    return hmac.new(str(settings.AUDIT_ANCHOR_KEY).encode(), message, hashlib.sha256).hexdigest()


def _move_checkpoint(chain: int, last: tuple[Any, ...] | None, seq: int, head_hash: str, at: dt.datetime) -> None:
    """Move the chain's checkpoint from the tail read (`last`, None for an empty chain) to the new head, in the
    appending transaction. Only a checkpoint still at that tail moves; a chain's first event creates it."""
    old_seq, old_hash = (int(last[0]), str(last[1])) if last else (0, GENESIS_HASH)
    signature = sign_head(chain, seq, head_hash)
    with connection.cursor() as cursor:
        cursor.execute(_MOVE_CHECKPOINT, [seq, head_hash, signature, at, chain, old_seq, old_hash])
        moved = cursor.rowcount
    if not moved and last is None:  # a new chain; a checkpoint already there (its events deleted) stays as it is
        AuditCheckpoint.objects.bulk_create(
            [AuditCheckpoint(chain=chain, seq=seq, hash=head_hash, signature=signature, updated_at=at)],
            ignore_conflicts=True,
        )


_COLUMNS = [
    "chain",
    "seq",
    "at",
    "actor_id",
    "actor_label",
    "action",
    "object_type",
    "object_id",
    "object_repr",
    "changes",
    "prev_hash",
    "hash",
]


def record_many(
    events: list[Pending], *, actor: User | None, actor_label: str = "", native: bool = False
) -> list[Appended]:
    """Append several events of one actor in one insert (a batch import's rows), chained one after another.
    `native`: the changes hold only JSON's own types (str, int, bool, None, lists, dicts with str keys), so they
    are hashed as they are, without the round trip through JSON that makes other values what the database returns."""
    if not connection.in_atomic_block:
        raise RuntimeError("audit.record() must be called inside the service's transaction")
    chain = _chain()
    with connection.cursor() as cursor:  # the chain's last event (this runs for every write of the system)
        cursor.execute(_TAIL, [chain])
        last = cursor.fetchone()
    seq, prev_hash = (int(last[0]), str(last[1])) if last else (0, GENESIS_HASH)
    label = actor_label or (actor.get_username() if actor is not None else "system")
    actor_id = actor.pk if actor is not None else None
    at = timezone.now()
    at_text = _utc(at)
    rows, appended = [], []
    openings: dict[str, str] = {}  # by action
    for pending in events:
        seq += 1
        if native:  # JSON's own types: hashed and stored as they are
            stored = canonical(pending.changes or {})
            hashed = stored
        else:  # hashed as the database will hand the changes back
            stored = json.dumps(pending.changes or {}, default=str, ensure_ascii=False)
            hashed = canonical(json.loads(stored))
        obj = f"{pending.object_type}:{pending.object_id}"
        if (opening := openings.get(pending.action)) is None:
            opening = openings[pending.action] = _opening(
                at=at_text, actor_id=actor_id, actor_label=label, action=pending.action
            )
        head = _head(opening, changes=hashed, obj=obj)
        digest = _sealed(head, prev_hash, seq)
        row = (chain, seq, at, actor_id, label, pending.action, pending.object_type, pending.object_id)
        rows.append((*row, pending.object_repr[:200], stored, prev_hash, digest))
        appended.append(Appended(chain, seq, digest))
        prev_hash = digest
    bulkinsert.insert_rows(AuditEvent, _COLUMNS, rows, json_fields={"changes"})
    if appended:
        _move_checkpoint(chain, last, seq, prev_hash, at)
    return appended


def diff(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """{field: [old, new]} for the fields that changed."""
    return {key: [old.get(key), new.get(key)] for key in sorted(set(old) | set(new)) if old.get(key) != new.get(key)}


@dataclass(frozen=True)
class ChainProblem:
    chain: int
    seq: int
    reason: str
    # "chain": an event edited or missing inside the chain; "head": the chain ends elsewhere than its checkpoint;
    # "signature": the checkpoint is not signed under the key; "missing": no checkpoint; "anchor": an exported
    # head is gone
    kind: str = "chain"


Anchors = dict[int, tuple[int, str]]  # chain → (seq, hash) of a head exported earlier


def verify_chain(batch_size: int = 2000, anchors: Anchors | None = None) -> Iterator[ChainProblem]:
    """Yield every place where a chain is broken, ends elsewhere than its signed checkpoint, or lost a head
    exported earlier (`anchors`); yields nothing for an intact log. Reads one snapshot, so appends going on
    meanwhile do not show as differences between a chain and its checkpoint."""
    nested = connection.in_atomic_block  # inside a caller's transaction (a test), its snapshot rules
    with transaction.atomic():
        if connection.vendor == "postgresql" and not nested:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        checkpoints = {c.chain: c for c in AuditCheckpoint.objects.all()}
        chains = AuditEvent.objects.order_by("chain").values_list("chain", flat=True).distinct()
        for chain in sorted(set(chains) | set(checkpoints) | set(anchors or {})):
            yield from _verify_one(chain, batch_size, checkpoints.get(chain), (anchors or {}).get(chain))


def _verify_one(
    chain: int, batch_size: int, checkpoint: AuditCheckpoint | None, anchor: tuple[int, str] | None
) -> Iterator[ChainProblem]:
    expected_prev = GENESIS_HASH
    expected_seq = 1
    anchor_found = anchor is None
    for event in AuditEvent.objects.filter(chain=chain).order_by("seq").iterator(chunk_size=batch_size):
        if event.seq != expected_seq:
            yield ChainProblem(chain, event.seq, f"缺少序号 {expected_seq}–{event.seq - 1} 的记录")
        if event.prev_hash != expected_prev:
            yield ChainProblem(chain, event.seq, "prev_hash 与上一条记录的哈希不一致")
        recomputed = compute_hash(
            prev_hash=event.prev_hash,
            seq=event.seq,
            at=event.at,
            actor_id=event.actor_id,
            actor_label=event.actor_label,
            action=event.action,
            object_type=event.object_type,
            object_id=event.object_id,
            changes=event.changes,
        )
        if recomputed != event.hash:
            yield ChainProblem(chain, event.seq, "记录内容被修改（哈希不符）")
        if anchor is not None and event.seq == anchor[0]:
            anchor_found = event.hash == anchor[1]
        expected_prev = event.hash
        expected_seq = event.seq + 1
    yield from _check_head(chain, expected_seq - 1, expected_prev, checkpoint)
    if not anchor_found and anchor is not None:
        yield ChainProblem(chain, anchor[0], "导出的链头已不在链中（之后的记录被删除或改写）", "anchor")


def _check_head(chain: int, seq: int, head_hash: str, checkpoint: AuditCheckpoint | None) -> Iterator[ChainProblem]:
    """The chain's last event (`seq`, `head_hash`; 0 and the genesis hash for an empty chain) against its
    checkpoint."""
    if checkpoint is None:
        yield ChainProblem(chain, seq, "没有检查点（升级后须执行一次 huanxin audit checkpoint --adopt）", "missing")
        return
    if not hmac.compare_digest(checkpoint.signature, sign_head(chain, checkpoint.seq, checkpoint.hash)):
        reason = "检查点签名无效（检查点被伪造，或 HUANXIN_AUDIT_ANCHOR_KEY 不符）"
        yield ChainProblem(chain, checkpoint.seq, reason, "signature")
    if checkpoint.seq > seq:
        reason = f"链止于 #{seq}，检查点在 #{checkpoint.seq}：最新的记录被删除"
        yield ChainProblem(chain, checkpoint.seq, reason, "head")
    elif checkpoint.seq < seq:
        yield ChainProblem(chain, seq, f"链止于 #{seq}，检查点停在 #{checkpoint.seq}：检查点未随追加移动", "head")
    elif checkpoint.hash != head_hash:
        yield ChainProblem(chain, seq, "链末尾记录的哈希与检查点不符（末尾被删除后重写）", "head")


class Head(NamedTuple):
    chain: int
    seq: int
    hash: str


def heads() -> list[Head]:
    """Each chain's last event (one indexed look-up per chain)."""
    found = []
    for chain in AuditEvent.objects.order_by("chain").values_list("chain", flat=True).distinct():
        last = AuditEvent.objects.filter(chain=chain).order_by("-seq").values_list("seq", "hash").first()
        if last is not None:
            found.append(Head(int(chain), int(last[0]), str(last[1])))
    return found


@dataclass(frozen=True)
class Adopted:
    signed: list[int]  # chains whose head was signed now
    kept: list[int]  # chains that already had a checkpoint


def adopt(*, resign: bool = False) -> Adopted:
    """Sign the current head of every chain that has no checkpoint yet (a deployment whose log began before
    checkpoints); with `resign`, of every chain (after `HUANXIN_AUDIT_ANCHOR_KEY` changed). Refused while a chain is
    broken, and with `resign` while a chain ends elsewhere than its checkpoint: signing would vouch for the damage.
    Holds every chain's lock, so no append slips in between."""
    refused = {"chain", "head", "anchor"} if resign else {"chain"}
    broken = sorted({p.chain for p in verify_chain() if p.kind in refused})
    if broken:
        raise ValueError("以下哈希链已损坏或与检查点不符，不能签署检查点：" + "、".join(str(c) for c in broken))
    signed, kept = [], []
    with transaction.atomic():
        if connection.vendor == "postgresql":
            chains = set(range(max(1, getattr(settings, "AUDIT_CHAINS", 64))))
            chains |= set(AuditEvent.objects.values_list("chain", flat=True).distinct())
            with connection.cursor() as cursor:
                for chain in sorted(chains):
                    cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_CHAIN_LOCK_ID, chain])
        existing = set(AuditCheckpoint.objects.values_list("chain", flat=True))
        now = timezone.now()
        for head in heads():
            if head.chain in existing and not resign:
                kept.append(head.chain)
                continue
            AuditCheckpoint.objects.update_or_create(
                chain=head.chain,
                defaults={
                    "seq": head.seq,
                    "hash": head.hash,
                    "signature": sign_head(head.chain, head.seq, head.hash),
                    "updated_at": now,
                },
            )
            signed.append(head.chain)
    return Adopted(signed, kept)


def export_heads() -> dict[str, Any]:
    """The chains' heads as a JSON document, to keep outside the database for `verify --anchor-file`."""
    with transaction.atomic():
        found = heads()
    return {
        "exported_at": _utc(timezone.now()),
        "chains": {str(h.chain): {"seq": h.seq, "hash": h.hash} for h in found},
    }


def read_anchors(document: dict[str, Any]) -> Anchors:
    """`export_heads`'s document back as {chain: (seq, hash)}."""
    return {int(chain): (int(head["seq"]), str(head["hash"])) for chain, head in document["chains"].items()}
