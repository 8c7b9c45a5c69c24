"""Measure the receiver: sustained accepted events/s and end-to-end (accepted -> rows in DuckDB) events/s.

    python -m pipelines.webhook.bench --events 5000 --senders 8

Starts `python -m pipelines.webhook serve` as a subprocess in a temporary directory (its own spool and
DuckDB file), sends signed events from `--senders` keep-alive connections (a mix of message.inbound,
message.outbound, contact.create and contact.update in the documented shape), and reports:

* accept rate: events / seconds from the first send until the last 200 (every event fsync'd);
* end-to-end rate: events / seconds from the first send until /health shows every event loaded;
* the row count found in `webhook_events` (must equal the number sent).
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Dict, List

SECRET = "bench-secret"
TS = "2026-01-09T03:42:38.000000Z"


def _contact(i: int) -> Dict[str, Any]:
    cid = f"bench-contact-{i % 1000}"
    return {
        "id": cid, "name": f"Contact {i}", "address": "No.123, Sik Rd, Singapore", "channel": "whatsapp",
        "company": None, "companyId": None, "contactNumber": None, "contactProfile": None,
        "socialProfileUrl": None, "notes": None, "customFields": [], "platformContacts": [],
        "contactEmails": [{"id": f"{cid}-e", "email": f"c{i}@example.com", "isPrimary": True,
                           "createdAt": TS, "updatedAt": TS, "deletedAt": None}],
        "contactPhones": [{"id": f"{cid}-p", "phone": "06838387278", "isPrimary": True,
                           "createdAt": TS, "updatedAt": TS, "deletedAt": None}],
        "tags": [{"id": "t-vvip", "name": "VVIP", "position": 0, "createdAt": TS, "updatedAt": TS, "deletedAt": None}],
        "createdAt": TS, "updatedAt": TS, "deletedAt": None,
    }


def make_events(n: int) -> List[bytes]:
    """n distinct signed-ready bodies: 70% messages, 30% contact create/update."""
    out = []
    for i in range(n):
        kind = i % 10
        if kind < 7:
            name = "message.inbound" if kind % 2 else "message.outbound"
            data: Dict[str, Any] = {"id": f"bench-msg-{i}", "text": f"message {i}", "contactId": f"bench-contact-{i % 1000}",
                                    "createdAt": TS}
        else:
            name = "contact.create" if kind == 7 else "contact.update"
            data = _contact(i)
        ts = f"2026-01-09T03:{(i // 60) % 60:02d}:{i % 60:02d}.{i % 1000000:06d}Z"
        out.append(json.dumps({"event": name, "timestamp": ts, "data": data}).encode())
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _health(port: int) -> Dict[str, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/health")
        return json.loads(conn.getresponse().read())
    finally:
        conn.close()


def _send(port: int, bodies: List[bytes], statuses: List[int]) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for body in bodies:
        sig = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        conn.request("POST", "/webhooks/klink", body=body,
                     headers={"Content-Type": "application/json", "x-signature": sig})
        resp = conn.getresponse()
        resp.read()
        statuses.append(resp.status)
    conn.close()


def run(events: int, senders: int, batch_size: int, flush_interval: float, workdir: Path,
        accept_only: bool = False) -> Dict[str, Any]:
    """One measurement in `workdir`; returns the numbers. `accept_only`: no flush while sending; the
    whole spool is loaded by the SIGTERM flush at the end (reported as `stop_flush_seconds`)."""
    if accept_only:
        batch_size, flush_interval = events + 1, 3600.0
    port = _free_port()
    repo = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(repo), "SOURCES__KLINK__WEBHOOK_SECRET": SECRET}
    log = open(workdir / "receiver.log", "wb")  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen([sys.executable, "-m", "pipelines.webhook", "serve", "--port", str(port),
                             "--batch-size", str(batch_size), "--flush-interval", str(flush_interval),
                             "--pipelines-dir", str(workdir / "pipelines"), "--log-level", "WARNING"],
                            cwd=workdir, env=env, stdout=log, stderr=log)
    log.close()
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                _health(port)
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError((workdir / "receiver.log").read_text()) from None
                time.sleep(0.05)
        bodies = make_events(events)
        statuses: List[List[int]] = [[] for _ in range(senders)]
        threads = [threading.Thread(target=_send, args=(port, bodies[k::senders], statuses[k]))
                   for k in range(senders)]
        started = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        accepted_s = time.monotonic() - started
        ok = sum(s == 200 for chunk in statuses for s in chunk)
        while not accept_only:
            health = _health(port)
            if health["loaded"] >= events and health["spooled"] == 0:
                break
            if time.monotonic() - started > 600:
                raise TimeoutError(f"not loaded after 600s: {health}")
            time.sleep(0.05)
        health = _health(port)
        loaded_s = time.monotonic() - started
        stop_started = time.monotonic()
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(600)
    stop_s = time.monotonic() - stop_started
    import duckdb

    con = duckdb.connect(str(workdir / "klink.duckdb"), read_only=True)
    rows = con.execute("SELECT COUNT(*) FROM klink_data.webhook_events").fetchone()[0]
    con.close()
    result = {
        "events": events, "senders": senders, "batch_size": batch_size, "flush_interval_s": flush_interval,
        "accepted_200": ok, "accept_seconds": round(accepted_s, 2), "accept_events_per_s": round(events / accepted_s),
        "flushes": health["flushes"], "webhook_events_rows": rows, "exit_code": code, "cpus": os.cpu_count(),
    }
    if accept_only:
        result["stop_flush_seconds"] = round(stop_s, 2)  # SIGTERM -> every event loaded -> exit
    else:
        result["end_to_end_seconds"] = round(loaded_s, 2)
        result["end_to_end_events_per_s"] = round(events / loaded_s)
    return result


def main(argv: List[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipelines.webhook.bench", description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--senders", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--flush-interval", type=float, default=2.0)
    parser.add_argument("--accept-only", action="store_true",
                        help="no flush while sending: the accept path alone (the SIGTERM flush loads it all)")
    parser.add_argument("--workdir", help="keep the receiver's files here (default: a temporary directory)")
    args = parser.parse_args(argv)
    if args.workdir:
        Path(args.workdir).mkdir(parents=True, exist_ok=True)
        result = run(args.events, args.senders, args.batch_size, args.flush_interval, Path(args.workdir), args.accept_only)
    else:
        with tempfile.TemporaryDirectory(prefix="klink-webhook-bench-") as tmp:
            result = run(args.events, args.senders, args.batch_size, args.flush_interval, Path(tmp),
                         args.accept_only)
    print(json.dumps(result, indent=2))  # noqa: T201
    return 0 if result["webhook_events_rows"] == args.events == result["accepted_200"] else 1


if __name__ == "__main__":
    sys.exit(main())
