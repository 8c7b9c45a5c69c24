"""Helpers for the receiver tests: a real receiver subprocess, signed HTTP posts, DuckDB reads."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import duckdb

from pipelines.webhook.auth import sign

REPO = Path(__file__).resolve().parents[2]
SECRET = "whsec_sandbox"
TS = "2026-01-09T03:42:38.000000Z"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def envelope(event: str, data: Any, timestamp: str = TS) -> bytes:
    return json.dumps({"event": event, "timestamp": timestamp, "data": data}).encode()


def contact(cid: str, name: str = "John", emails: Tuple[str, ...] = ("john@klink.cloud",)) -> Dict[str, Any]:
    """A contact in the documented webhook shape (klink-api.md §3.3)."""
    return {
        "id": cid, "name": name, "address": "No.123, Sik Rd, Singapore", "channel": "whatsapp",
        "company": None, "companyId": None,
        "contactEmails": [{"id": f"{cid}-e{i}", "email": e, "isPrimary": i == 0, "createdAt": TS,
                           "updatedAt": TS, "deletedAt": None} for i, e in enumerate(emails)],
        "contactPhones": [{"id": f"{cid}-p", "phone": "06838387278", "isPrimary": True, "createdAt": TS,
                           "updatedAt": TS, "deletedAt": None}],
        "contactNumber": None, "contactProfile": None, "socialProfileUrl": None, "notes": None,
        "customFields": [], "tags": [{"id": "4f9cdf9d", "name": "VVIP", "position": 0, "createdAt": TS,
                                      "updatedAt": TS, "deletedAt": None}],
        "platformContacts": [], "createdAt": TS, "updatedAt": TS, "deletedAt": None,
    }


class Client:
    """One keep-alive HTTP connection to the receiver."""

    def __init__(self, port: int, timeout: float = 30.0) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)

    def request(self, method: str, path: str, body: Optional[bytes] = None,
                headers: Optional[Dict[str, str]] = None) -> Tuple[int, Dict[str, Any]]:
        try:
            self.conn.request(method, path, body=body, headers=headers or {})
            resp = self.conn.getresponse()
            raw = resp.read()
            if resp.getheader("Connection", "").lower() == "close":
                self.conn.close()
        except (ConnectionError, http.client.HTTPException):
            self.conn.close()
            raise
        return resp.status, (json.loads(raw) if raw else {})

    def post(self, body: bytes, secret: Optional[str] = SECRET, path: str = "/webhooks/klink",
             headers: Optional[Dict[str, str]] = None) -> Tuple[int, Dict[str, Any]]:
        hdrs = {"Content-Type": "application/json", **(headers or {})}
        if secret is not None:
            hdrs["x-signature"] = sign(secret, body)
        return self.request("POST", path, body, hdrs)

    def close(self) -> None:
        self.conn.close()


class Receiver:
    """`python -m pipelines.webhook serve` in `workdir`, as a real subprocess."""

    def __init__(self, workdir: Path, port: Optional[int] = None, batch_size: int = 500,
                 flush_interval: float = 0.5, extra: Tuple[str, ...] = (),
                 env: Optional[Dict[str, str]] = None) -> None:
        self.workdir, self.port = workdir, port or free_port()
        self.args = ["--port", str(self.port), "--batch-size", str(batch_size),
                     "--flush-interval", str(flush_interval), "--pipelines-dir", str(workdir / "pipelines"),
                     *extra]
        self.env = {**os.environ, "PYTHONPATH": str(REPO), "SOURCES__KLINK__WEBHOOK_SECRET": SECRET,
                    **(env or {})}
        self.proc: Optional[subprocess.Popen] = None
        self.log_path = workdir / "receiver.log"

    def start(self, timeout: float = 60.0) -> "Receiver":
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
        self.proc = subprocess.Popen([sys.executable, "-m", "pipelines.webhook", "serve", *self.args],
                                     cwd=self.workdir, env=self.env, stdout=log, stderr=log)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"receiver exited {self.proc.returncode}: {self.log()}")
            try:
                self.health()
                return self
            except OSError:
                time.sleep(0.05)
        raise TimeoutError(f"receiver not ready after {timeout}s: {self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def health(self) -> Dict[str, Any]:
        client = Client(self.port, timeout=5)
        try:
            status, body = client.request("GET", "/health")
        finally:
            client.close()
        assert status == 200
        return body

    def wait_for(self, predicate: Any, timeout: float = 60.0) -> Dict[str, Any]:
        """Poll /health until predicate(health) is true (bounded)."""
        deadline = time.monotonic() + timeout
        health: Dict[str, Any] = {}
        while time.monotonic() < deadline:
            health = self.health()
            if predicate(health):
                return health
            time.sleep(0.1)
        raise TimeoutError(f"condition not met in {timeout}s; last health {health}; log:\n{self.log()}")

    def wait_loaded(self, n: int, timeout: float = 60.0) -> Dict[str, Any]:
        return self.wait_for(lambda h: h["loaded"] >= n and h["spooled"] == 0, timeout)

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def terminate(self, timeout: float = 60.0) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)


def query(workdir: Path, sql: str, db: str = "klink.duckdb") -> List[tuple]:
    """Rows of `sql` against the receiver's DuckDB file (dataset klink_data)."""
    con = duckdb.connect(str(workdir / db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def count(workdir: Path, table: str, where: str = "") -> int:
    return query(workdir, f"SELECT COUNT(*) FROM klink_data.{table}" + (f" WHERE {where}" if where else ""))[0][0]
