"""The receiver: an HTTP service that verifies, spools (fsync) and then acknowledges klink events.

Why the standard library's `ThreadingHTTPServer` is enough here: the receiver does one small thing
per request (read a body of at most `max_body` bytes, one HMAC, one group-committed fsync), klink
delivers one event per POST, and TLS can be served directly (`--tls-cert/--tls-key`) or by the
reverse proxy that usually fronts a public endpoint. The measured accept rate (docs/webhooks.md) is
far above the event rate of a contact center, so no extra dependency is installed.

Request path: size check (413/411) -> auth (401) -> JSON object (400) -> spool.append (fsync; 503
if the disk fails) -> 200. A background flusher loads spooled events with dlt in batches, by count
(`batch_size`) or age (`flush_interval`), and deletes spool segments only after the load succeeded.
When the destination is locked (DuckDB: one writer process, e.g. a running `klink sync`) the batch
stays spooled and is retried on a later tick; nothing is dropped.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import signal
import socket
import ssl
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, Optional, Tuple
from urllib.parse import urlsplit

import orjson

from .auth import Authenticator
from .loader import Loader, is_lock_error
from .rows import event_id_of, parse_envelope
from .spool import Spool, SpooledEvent, SpoolError

log = logging.getLogger("klink.webhook")

WEBHOOK_PATHS = frozenset({"/", "/webhooks/klink"})
COUNTERS = ("accepted", "rejected", "loaded", "flushes", "flush_errors", "lock_waits", "raw_only_batches")
DISCARD_LIMIT = 64 * 1024 * 1024  # an oversize body up to this size is read and dropped before the 413
RAW_ONLY_AFTER = 3
CRASH_AFTER_LOAD_ENV = "KLINK_WEBHOOK_TEST_CRASH_AFTER_LOAD"  # consecutive non-lock failures of one batch before it is loaded as raw events only


@dataclass
class ReceiverSettings:
    """How the receiver listens, spools and flushes (CLI flags / .dlt config)."""

    host: str = "127.0.0.1"
    port: int = 8788
    spool_dir: str = ".klink/webhook-spool"
    batch_size: int = 500
    flush_interval: float = 2.0
    max_batch_events: int = 5000
    max_body: int = 1024 * 1024
    tls_cert: Optional[str] = None
    tls_key: Optional[str] = None
    shutdown_grace: float = 10.0


class Counters:
    """Thread-safe counters for /health."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: Dict[str, int] = dict.fromkeys(COUNTERS, 0)
        self.rejected_by_reason: Dict[str, int] = {}

    def add(self, name: str, n: int = 1) -> None:
        with self._lock:
            self._values[name] = self._values.get(name, 0) + n

    def reject(self, reason: str) -> None:
        with self._lock:
            self._values["rejected"] += 1
            self.rejected_by_reason[reason] = self.rejected_by_reason.get(reason, 0) + 1

    def snapshot(self) -> Dict[str, Any]:
        with self._lock:
            return {**self._values, "rejected_by_reason": dict(self.rejected_by_reason)}


class _Reject(Exception):
    def __init__(self, status: int, reason: str, message: str, close: bool = False) -> None:
        super().__init__(message)
        self.status, self.reason, self.close = status, reason, close


class Handler(BaseHTTPRequestHandler):
    """POST / and /webhooks/klink: events; GET /health: counters."""

    protocol_version = "HTTP/1.1"
    server_version = "klink-webhook/1"
    timeout = 30  # seconds a connection may sit idle or trickle a body
    server: "_HTTPServer"

    def setup(self) -> None:
        super().setup()
        with contextlib.suppress(OSError):  # headers and body are two writes: no Nagle/delayed-ACK stall
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        log.debug("%s %s", self.address_string(), format % args)

    def _send(self, status: int, payload: Dict[str, Any], close: bool = False,
              extra: Tuple[Tuple[str, str], ...] = ()) -> None:
        body = orjson.dumps(payload)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in extra:
            self.send_header(name, value)
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        path = urlsplit(self.path).path.rstrip("/")
        if path in ("/health", "/healthz"):
            self._send(200, self.server.receiver.health())
        else:
            self._send(404, {"error": "not found"})

    def do_POST(self) -> None:  # noqa: N802 - stdlib naming
        receiver = self.server.receiver
        path = urlsplit(self.path).path.rstrip("/") or "/"
        if path not in WEBHOOK_PATHS:
            self._send(404, {"error": "not found"}, close=True)
            return
        receiver.inflight_add(1)
        try:
            status, payload = receiver.accept(self._read_body(receiver.settings.max_body), self.headers)
            self._send(status, payload)
        except _Reject as rej:
            receiver.counters.reject(rej.reason)
            log.info("rejected %s from %s: %s", rej.status, self.client_address[0], rej)
            extra = (("WWW-Authenticate", 'Basic realm="klink-webhook"'),) if rej.status == 401 else ()
            self._send(rej.status, {"error": str(rej)}, close=rej.close, extra=extra)
        except SpoolError as exc:
            log.error("event NOT accepted, spool unavailable: %s", exc)
            self._send(503, {"error": "spool unavailable, retry later"}, close=True)
        finally:
            receiver.inflight_add(-1)

    def _read_body(self, cap: int) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._read_chunked(cap)
        length_header = self.headers.get("Content-Length")
        if length_header is None:
            raise _Reject(411, "length_required", "Content-Length required", close=True)
        try:
            length = int(length_header)
        except ValueError:
            raise _Reject(400, "bad_request", "bad Content-Length", close=True) from None
        if length > cap:
            self._discard(length)  # so the client reads our 413 instead of a connection reset
            raise _Reject(413, "too_large", f"body over {cap} bytes", close=True)
        body = self.rfile.read(length)
        if len(body) != length:
            raise _Reject(400, "bad_request", "body shorter than Content-Length", close=True)
        return body

    def _discard(self, length: int) -> None:
        if length > DISCARD_LIMIT:
            return
        while length > 0:
            chunk = self.rfile.read(min(length, 65536))
            if not chunk:
                return
            length -= len(chunk)

    def handle_expect_100(self) -> bool:
        """`Expect: 100-continue` with a body over the cap: answer 413 before the client sends it."""
        length = self.headers.get("Content-Length") or ""
        if length.isdigit() and int(length) > self.server.receiver.settings.max_body:
            self.server.receiver.counters.reject("too_large")
            self._send(413, {"error": f"body over {self.server.receiver.settings.max_body} bytes"}, close=True)
            return False
        return super().handle_expect_100()

    def _read_chunked(self, cap: int) -> bytes:
        parts, total = [], 0
        while True:
            size_line = self.rfile.readline(1024)
            try:
                size = int(size_line.split(b";")[0].strip(), 16)
            except ValueError:
                raise _Reject(400, "bad_request", "bad chunk size", close=True) from None
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(parts)
            total += size
            if total > cap:
                raise _Reject(413, "too_large", f"body over {cap} bytes", close=True)
            parts.append(self.rfile.read(size))
            self.rfile.readline(8)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    receiver: "Receiver"

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A broken connection (reset, TLS spoken wrong, timeout) is one log line, not a traceback."""
        exc = sys.exc_info()[1]
        log.info("connection from %s dropped: %s: %s", client_address[0], type(exc).__name__, exc)


class Receiver:
    """HTTP server + spool + flusher; `start()`, then `stop()` (flushes what is spooled)."""

    def __init__(self, settings: ReceiverSettings, authenticator: Authenticator, loader: Loader) -> None:
        self.settings = settings
        self.auth = authenticator
        self.loader = loader
        self.counters = Counters()
        self.spool = Spool(settings.spool_dir, rotate_every=settings.batch_size)
        self.started_at = time.time()
        self._inflight = 0
        self._inflight_lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._failures = 0
        self._retry_at = 0.0
        self.last_error: Optional[str] = None
        self.flushing = 0  # events in the flush under way
        self.httpd = _HTTPServer((settings.host, settings.port), Handler)
        self.httpd.receiver = self
        if settings.tls_cert:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(settings.tls_cert, settings.tls_key)
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True,
                                                    do_handshake_on_connect=False)
        self.port = self.httpd.server_address[1]
        self._threads = [
            threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.2}, name="http", daemon=True),
            threading.Thread(target=self._flush_loop, name="flusher", daemon=True),
        ]

    # --- accept path -------------------------------------------------------------------------
    def accept(self, body: bytes, headers: Any) -> Tuple[int, Dict[str, Any]]:
        """Verify, spool (durable), count; returns (status, payload). Raises _Reject / SpoolError."""
        lowered = {k.lower(): v for k, v in headers.items()}
        ok, detail = self.auth.check(lowered, body)
        if not ok:
            raise _Reject(401, "unauthorized", detail)
        try:
            envelope = parse_envelope(body)
        except ValueError as exc:
            raise _Reject(400, "bad_json", str(exc)) from None
        event_id = event_id_of(body)
        received_at = dt.datetime.now(dt.timezone.utc).isoformat()
        self.spool.append(SpooledEvent(event_id, received_at, detail, body))
        self.counters.add("accepted")
        if self.spool.untaken() >= self.settings.batch_size:
            self._wake.set()
        event = envelope.get("event")
        return 200, {"status": "accepted", "event_id": event_id, "event": event if isinstance(event, str) else None}

    def inflight_add(self, n: int) -> None:
        with self._inflight_lock:
            self._inflight += n

    def health(self) -> Dict[str, Any]:
        """Counters plus spool state, for GET /health."""
        snap = self.counters.snapshot()
        snap.update({
            "status": "stopping" if self._stopping.is_set() else "ok",
            "spooled": self.spool.pending,
            "flushing": self.flushing,
            "uptime_s": round(time.time() - self.started_at, 1),
            "last_flush_error": self.last_error,
        })
        return snap

    # --- flush path --------------------------------------------------------------------------
    def _due(self) -> bool:
        if time.monotonic() < self._retry_at:
            return False
        untaken = self.spool.untaken()
        if untaken >= self.settings.batch_size:
            return True
        first = self.spool.first_pending_at
        return untaken > 0 and first is not None and time.monotonic() - first >= self.settings.flush_interval

    def flush_once(self) -> bool:
        """Load one batch; True if it loaded (or there was nothing), False if it stays spooled."""
        batch = self.spool.take(self.settings.max_batch_events)
        if not batch.segments:
            return True
        raw_only = self._failures >= RAW_ONLY_AFTER
        self.flushing = len(batch.events)
        try:
            self.loader.load(batch.events, raw_only=raw_only)
        except Exception as exc:  # noqa: BLE001 - any failure keeps the batch spooled
            self.spool.untake(batch)
            self.counters.add("flush_errors")
            locked = is_lock_error(exc)
            if locked:
                self.counters.add("lock_waits")
                self.last_error = "destination locked by another writer"
                log.warning("destination is locked (another writer, e.g. `klink sync`); %d events stay "
                            "spooled, retrying in %.1fs", len(batch.events), self.settings.flush_interval)
                self._retry_at = time.monotonic() + self.settings.flush_interval
            else:
                self._failures += 1
                self.last_error = f"{type(exc).__name__}: {str(exc)[:300]}"
                delay = min(60.0, self.settings.flush_interval * 2 ** min(self._failures, 6))
                log.error("flush of %d events failed (%s); they stay spooled, retrying in %.1fs",
                          len(batch.events), self.last_error, delay)
                self._retry_at = time.monotonic() + delay
            return False
        finally:
            self.flushing = 0
        if os.environ.get(CRASH_AFTER_LOAD_ENV):  # tests: die like kill -9 between the load and the delete
            os.kill(os.getpid(), signal.SIGKILL)
        if raw_only:
            self.counters.add("raw_only_batches")
            log.error("batch of %d events loaded to webhook_events only after %d failures; their contacts/"
                      "messages rows can be rebuilt from webhook_events.raw", len(batch.events), self._failures)
        self.spool.commit(batch)
        self._failures, self._retry_at, self.last_error = 0, 0.0, None
        self.counters.add("loaded", len(batch.events))
        self.counters.add("flushes")
        return True

    def _flush_loop(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(0.2)
            self._wake.clear()
            if self._stopping.is_set():
                break
            if self._due():
                try:
                    self.flush_once()
                except Exception:  # noqa: BLE001 - the loop must survive anything
                    log.exception("flusher error")

    # --- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        for thread in self._threads:
            thread.start()
        scheme = "https" if self.settings.tls_cert else "http"
        log.info("listening on %s://%s:%d (POST / or /webhooks/klink, GET /health); spool %s holds %d events",
                 scheme, self.settings.host, self.port, self.spool.directory, self.spool.pending)

    def stop(self, flush_timeout: float = 60.0) -> bool:
        """Stop accepting, flush everything spooled; True if the spool is empty afterwards."""
        self._stopping.set()
        self._wake.set()
        self.httpd.shutdown()
        deadline = time.monotonic() + self.settings.shutdown_grace
        while self._inflight and time.monotonic() < deadline:
            time.sleep(0.05)
        self._threads[1].join()  # never two flushes at once: wait for one under way
        self.spool.close()
        self.httpd.server_close()
        deadline = time.monotonic() + flush_timeout
        while self.spool.pending and time.monotonic() < deadline:
            if not self.flush_once():
                time.sleep(max(0.0, min(self._retry_at - time.monotonic(), deadline - time.monotonic(), 2.0)))
        left = self.spool.pending
        if left:
            log.warning("%d events remain spooled in %s; they load at the next start", left, self.spool.directory)
        else:
            log.info("all spooled events loaded; stopped")
        return left == 0
