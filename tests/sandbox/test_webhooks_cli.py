"""The webhook emitter (signed events to a real receiver) and the command line."""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from sandbox import WebhookEmitter
from sandbox.cli import add_arguments, config_from_args

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def receiver():
    """A tiny HTTP receiver that records (headers, raw body) and answers 200."""
    got: list[tuple[dict[str, str], bytes]] = []

    class H(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            got.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *a):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/hook", got
    srv.shutdown()
    srv.server_close()


def valid(secret: str, headers: dict[str, str], body: bytes) -> bool:
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, headers.get("x-signature", ""))


def test_emit_all_events_signed_and_applied(sandbox, api, receiver):
    url, got = receiver
    results = sandbox.emit_webhooks(url, count=2)
    assert [r["status"] for r in results] == [200] * 10 and len(got) == 10
    events = [json.loads(b)["event"] for _, b in got]
    assert events == ["contact.create", "contact.update", "contact.delete", "message.inbound", "message.outbound"] * 2
    for headers, body in got:
        assert headers["content-type"] == "application/json" and valid("whsec_sandbox", headers, body)
        env = json.loads(body)
        assert list(env) == ["event", "timestamp", "data"] and env["timestamp"] == "2026-03-30T00:00:00.000000Z"
    created = json.loads(got[0][1])["data"]
    assert list(created)[:8] == ["id", "name", "address", "channel", "company", "companyId", "contactEmails",
                                 "contactPhones"]
    assert api.json(f"/api/v1/contacts/{created['id']}")["data"]["name"] == created["name"]
    deleted = json.loads(got[2][1])["data"]
    assert deleted["deletedAt"] and api.get(f"/api/v1/contacts/{deleted['id']}").status_code == 404
    assert api.json("/api/v1/contacts")["total"] == 100  # +2 created, -2 deleted
    msg = json.loads(got[3][1])["data"]
    assert msg["direction"] == "inbound" and api.get(f"/api/v1/contacts/{msg['contactId']}").status_code == 200


def test_emit_without_mutation_and_custom_secret(sandbox, api, receiver):
    url, got = receiver
    sandbox.emit_webhooks(url, events=["contact.update"], count=3, secret="s3cret", mutate=False)
    assert len(got) == 3 and all(valid("s3cret", h, b) for h, b in got)
    assert api.json("/api/v1/contacts")["total"] == 100


def test_send_raw_forges_and_replays(sandbox, receiver):
    url, got = receiver
    em = WebhookEmitter(url, "whsec_sandbox", sandbox=sandbox)
    body = em.build("contact.create", {"id": "x"}, timestamp="2026-01-09T03:42:38.000000Z")
    assert body == b'{"event":"contact.create","timestamp":"2026-01-09T03:42:38.000000Z","data":{"id":"x"}}'
    em.send_raw(body)
    em.send_raw(body)  # replay: identical bytes, identical signature
    em.send_raw(body, signature="0" * 64)  # forged
    em.send_raw(body, signature="")  # unsigned
    em.close()
    assert [valid("whsec_sandbox", h, b) for h, b in got] == [True, True, False, False]
    assert got[0][0]["x-signature"] == got[1][0]["x-signature"] and "x-signature" not in got[3][0]


def test_emit_over_http_control(sandbox, api, receiver):
    url, got = receiver
    out = api.control("emit_webhooks", url=url, events=["message.outbound"])
    assert out[0]["status"] == 200 and json.loads(got[0][1])["data"]["sender"]["type"] == "agent"


def test_cli_arguments_make_a_config():
    p = argparse.ArgumentParser()
    add_arguments(p)
    cfg = config_from_args(p.parse_args(["--seed", "7", "--contacts", "10", "--shape", "webhook", "--no-timestamps",
                                         "--faults", "contacts.list:5xx:rate=0.2;*:429:every=7:retry_after=1"]))
    assert (cfg.seed, cfg.contacts, cfg.shape, cfg.timestamps, cfg.token) == (7, 10, "webhook", False,
                                                                            "kpt_sandbox_token")
    assert [f.kind for f in cfg.faults] == ["5xx", "429"]


def test_python_m_sandbox_serves_until_sigterm():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "sandbox", "--port", "0", "--contacts", "10", "--token", "kpt_x"],
                            stdout=subprocess.PIPE, text=True, cwd=ROOT, env=env)
    try:
        line = proc.stdout.readline()
        assert "token=kpt_x" in line
        base = line.split(" on ")[1].split()[0]
        r = requests.get(f"{base}/api/v1/contacts", headers={"Authorization": "Bearer kpt_x"}, timeout=10)
        assert r.json()["total"] == 10
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
