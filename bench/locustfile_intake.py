"""Locust users for bench/intake.py: merchants' tills submitting subsidy applications over the API.

Not run on its own: bench/intake.py starts it headless with INTAKE_STATE (programme code, tokens, today, run id)
and INTAKE_RESULTS (one JSON line per answer) in the environment, against gunicorn on 127.0.0.1.

Each request is one application with its own applicant, invoice and serial, except deliberate duplicates (~10%):
- dup_invoice / dup_serial: another applicant with the invoice (or the kind + serial) of an accepted application,
  under a new Idempotency-Key — must be refused (422 *_already_used);
- retry: the exact body and Idempotency-Key of an accepted application, from the same till — must answer 201 with
  the same number;
- retry_lost: the same for a request whose answer was lost (connection error while the app was killed);
- twin: the same new request sent twice at the same moment with one key (a double click at the till).
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import random
import time
from pathlib import Path
from typing import Any

import gevent
from locust import FastHttpUser, constant, events, task
from stdnum.cn import ric

STATE = json.loads(Path(os.environ["INTAKE_STATE"]).read_text())
PATH = "/api/v1/subsidies/applications"
KINDS = ("refrigerator", "washing_machine", "tv", "air_conditioner", "water_heater", "range_hood")
EXPECTED_CODES = {
    "new": {"budget_exhausted"},
    "twin": {"budget_exhausted"},
    "retry_lost": {"budget_exhausted"},
    "dup_invoice": {"invoice_already_used", "identifier_already_used"},
    "dup_serial": {"serial_already_used", "identifier_already_used"},
}

_results = open(os.environ["INTAKE_RESULTS"], "a", buffering=1, encoding="utf-8")  # noqa: SIM115 - lives as long as the run
_serial = itertools.count()
_tills = itertools.count()
accepted: list[dict[str, Any]] = []  # requests answered 201 (originals only): the pool for duplicates and retries
lost: list[dict[str, Any]] = []  # requests whose answer never came


def resident_id(i: int) -> str:
    """A distinct, valid resident ID per request: a county of the city, born from 1993 on, sequence i % 1000."""
    born = dt.date(1993, 1, 1) + dt.timedelta(days=i // 1000)
    body = f"{STATE['counties'][i % len(STATE['counties'])]}{born:%Y%m%d}{i % 1000:03d}"
    return body + ric.calc_check_digit(body + "0")


def new_request(rng: random.Random, till: int) -> dict[str, Any]:
    i = next(_serial)
    kind = rng.choice(KINDS)
    body = {
        "programme": STATE["programme"],
        "applicant_name": "压测申请人",
        "applicant_id": resident_id(i),
        "phone": f"139{i:08d}",
        "items": [
            {
                "kind": kind,
                "invoice_no": f"LT{STATE['run']}-{i:07d}",
                "invoice_date": STATE["today"],
                "price_fen": rng.randrange(1_000_00, 8_000_00, 100),
                "grade": rng.choice("12"),
                "serial": f"SN{STATE['run']}-{i:07d}",
            }
        ],
    }
    return {"till": till, "key": f"{STATE['run']}-{till}-{i}", "body": body}


@events.quitting.add_listener
def _close(**_: Any) -> None:
    _results.flush()


class Till(FastHttpUser):
    wait_time = constant(0)
    connection_timeout = 3.0
    network_timeout = 30.0

    def on_start(self) -> None:
        self.till = next(_tills) % len(STATE["tokens"])
        self.rng = random.Random(self.till)  # noqa: S311 - load, not secrets
        self.down = False

    def send(self, kind: str, req: dict[str, Any], of: str = "") -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {STATE['tokens'][req['till']]}", "Idempotency-Key": req["key"]}
        item = req["body"]["items"][0]
        rec: dict[str, Any] = {
            "kind": kind,
            "till": req["till"],
            "key": req["key"],
            "of": of,
            "invoice": item["invoice_no"],
            "serial": f"{item['kind']}:{item['serial']}",
            "t": time.time(),
        }
        start = time.perf_counter()
        with self.client.post(PATH, json=req["body"], headers=headers, name=kind, catch_response=True) as resp:
            rec["ms"] = round((time.perf_counter() - start) * 1000, 2)
            rec["status"] = resp.status_code or 0
            try:
                data = resp.json() if rec["status"] else {}
            except (ValueError, TypeError):
                data = None
            if rec["status"] >= 500:  # Django's error page is HTML
                data = data or {}
            elif data is None or (rec["status"] == 201 and not data.get("number")):
                # the status line came but the body did not (the app was killed while answering): no answer at all
                rec["error"], rec["status"], data = f"truncated {rec['status']}", 0, {}
            rec["code"] = data.get("code", "")
            rec["number"] = data.get("number", "")
            rec["amount_fen"] = data.get("amount_fen")
            rec["app_status"] = data.get("status", "")
            if rec["status"] == 0:
                rec.setdefault("error", type(resp.error).__name__ if resp.error else "connection")
                resp.failure(rec["error"])
            elif rec["status"] == 201 or (rec["status"] == 422 and rec["code"] in EXPECTED_CODES.get(kind, ())):
                resp.success()
            else:
                resp.failure(f"{rec['status']} {rec['code']}")
        _results.write(json.dumps(rec, ensure_ascii=False) + "\n")
        self.down = rec["status"] == 0
        return rec

    @task
    def submit(self) -> None:
        roll = self.rng.random()
        if lost and roll < 0.05:
            req = lost.pop(0)
            self.send("retry_lost", req, of=req["key"])
        elif accepted and roll < 0.03:
            base = self.rng.choice(accepted)
            req = new_request(self.rng, self.till)
            req["body"]["items"][0]["invoice_no"] = base["body"]["items"][0]["invoice_no"]
            self.send("dup_invoice", req, of=base["key"])
        elif accepted and roll < 0.06:
            base = self.rng.choice(accepted)
            req = new_request(self.rng, self.till)
            item, old = req["body"]["items"][0], base["body"]["items"][0]
            item["kind"], item["serial"] = old["kind"], old["serial"]
            self.send("dup_serial", req, of=base["key"])
        elif accepted and roll < 0.09:
            base = self.rng.choice(accepted)
            self.send("retry", base, of=base["key"])
        elif roll < 0.10:
            req = new_request(self.rng, self.till)
            twins = [gevent.spawn(self.send, "twin", req, req["key"]) for _ in range(2)]
            gevent.joinall(twins)
        else:
            req = new_request(self.rng, self.till)
            rec = self.send("new", req)
            if rec["status"] == 201:
                accepted.append(req)
            elif rec["status"] == 0:
                lost.append(req)
        if self.down:
            gevent.sleep(0.2)  # the app is down: do not spin on a closed port
