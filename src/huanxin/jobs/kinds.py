"""The kinds of background job. An app registers its kinds in its AppConfig.ready(); `jobs` never imports the apps.

    jobs.kinds.register(Kind("subsidy_batch", "补贴批量申请", run_batch))

A kind's `run(ctx)` reads its input with `ctx.input()`, reports `ctx.progress(done, total)` as it goes and returns
`Finished`. It must be safe to run again from the start after a worker died in it: either its writes are
idempotent (the batch's 订单号) or they commit in one transaction at the end. A ValidationError it raises fails
the job with the error's messages, which are shown to the owner."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from huanxin.jobs.services import Context


@dataclass(frozen=True)
class Output:
    content: bytes
    content_type: str
    filename: str


@dataclass
class Finished:
    message: str  # one line for the owner: "共 100000 行：99990 行已受理，10 行未通过"
    result: Output | None = None
    errors: list[str] = field(default_factory=list)  # lines a person can act on, the first MAX_ERRORS kept
    link: tuple[str, str] | None = None  # (url, label): where the owner goes next, e.g. the draft an import made


class JobFailed(Exception):
    """Raised by a kind whose work ended in a finding rather than a result (a broken audit chain): the job fails
    with this message and these errors, shown to whoever reads it."""

    def __init__(self, finished: Finished) -> None:
        super().__init__(finished.message)
        self.finished = finished


@dataclass(frozen=True)
class Kind:
    name: str
    label: str  # 补贴批量申请
    run: Callable[[Context], Finished]
    # the page the owner goes back to (a URL name with no arguments), for the job page's "返回" link
    back_url: str = ""
    unit: str = "行"  # what rows_done counts: 行, or 期 for deriving indicators


_kinds: dict[str, Kind] = {}


def register(kind: Kind) -> Kind:
    _kinds[kind.name] = kind
    return kind


def get(name: str) -> Kind:
    return _kinds[name]


def all_kinds() -> list[Kind]:
    return list(_kinds.values())
