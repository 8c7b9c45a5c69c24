"""The HTTP/1.1 server (stdlib sockets, keep-alive, TCP_NODELAY) and the request pipeline.

Pipeline per request: route -> count -> auth (401) -> unknown path/method (404/405) -> rate limit (429)
-> faults (terminal ones answer here) -> handler -> response faults (missing_id, type_change, oversize,
truncated, malformed). Control endpoints live under /_sandbox/ and are not counted or faulted.
"""

from __future__ import annotations

import contextlib
import email.utils
import itertools
import math
import socket
import socketserver
import threading
import time
from collections import deque
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, unquote

import orjson

from .config import SandboxConfig
from .faults import TERMINAL, Fault, FaultEngine, coerce_faults
from .routes import Router
from .store import Store
from .wire import JSON, ApiError, ListMods, Request, Response, error

MALFORMED_BODY = b'{"total": 65, "page": 1, data: [{"id": "WAz8eIbvDR60rouK",}'  # not JSON
_REASONS = {s.value: s.phrase for s in HTTPStatus}


class App:
    """Serves requests against a Store; holds counters, the rate limiter and the fault engine."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.store = Store(config)
        self.router = Router()
        self.faults = FaultEngine(config.seed, coerce_faults(config.faults))
        self._counters: dict[str, int] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._recent: deque[float] = deque()
        self._auth = {f"Bearer {config.token}", f"bearer {config.token}"}
        self.control: Any = None  # set by Sandbox: object with the control methods

    def next_request_id(self) -> int:
        return next(self._ids)

    def counters(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counters)

    def reset_counters(self) -> None:
        with self._lock:
            self._counters.clear()

    def _count(self, endpoint: str) -> None:
        with self._lock:
            self._counters[endpoint] = self._counters.get(endpoint, 0) + 1

    def _rate_limited(self) -> float | None:
        """Seconds to wait if over the per-minute limit (sliding 60 s window), else None."""
        limit = self.config.rate_limit_per_minute
        if not limit:
            return None
        now = time.monotonic()
        with self._lock:
            q = self._recent
            while q and now - q[0] >= 60:
                q.popleft()
            if len(q) >= limit:
                return 60 - (now - q[0])
            q.append(now)
        return None

    def handle(self, req: Request) -> tuple[Response, float]:
        """The response and the delay (seconds) to wait before sending it."""
        if req.path.startswith("/_sandbox/"):
            return self._control(req), 0.0
        route, params, known = self.router.match(req.method, req.path)
        endpoint = route.endpoint if route else "unknown"
        req.endpoint, req.params = endpoint, params
        self._count(endpoint)
        delay = self.config.latency_ms / 1000
        if req.headers.get("authorization") not in self._auth:
            return error(401, "Unauthorized: missing or invalid bearer token"), delay
        if route is None:
            if known:
                return error(405, f"Method {req.method} not allowed on {req.path}"), delay
            return error(404, f"Cannot {req.method} {req.path}"), delay
        wait = self._rate_limited()
        if wait is not None:
            return _status_429(Fault(kind="429", retry_after=math.ceil(wait))), delay
        try:
            page = int(req.query.get("page") or 1)
        except ValueError:
            page = 1
        fired = self.faults.pick(endpoint, page, route.is_list)
        mods = ListMods()
        for f in fired:
            if f.kind == "slow":
                delay += f.ms / 1000
            elif f.kind in TERMINAL:
                return _terminal(f), delay
            elif f.kind == "repeat":
                mods.shift -= f.n
            elif f.kind == "skip":
                mods.shift += f.n
            elif f.kind == "total_change":
                mods.total_delta += f.delta
            elif f.kind == "empty_page":
                mods.empty = True
        try:
            with self.store.lock:  # one consistent snapshot per request; sending happens outside
                resp = route.handler(self, req, mods)
        except ApiError as e:
            return error(e.status, e.message), delay
        except Exception as e:  # a sandbox bug: answer it rather than drop the connection
            return error(500, f"sandbox error: {type(e).__name__}: {e}"), delay
        for f in fired:
            resp = _after(f, resp)
        return resp, delay

    def _control(self, req: Request) -> Response:
        if req.headers.get("authorization") not in self._auth:
            return error(401, "Unauthorized: missing or invalid bearer token")
        name = req.path[len("/_sandbox/"):].strip("/")
        fn = getattr(self.control, name, None) if name in CONTROL_METHODS else None
        if fn is None:
            return error(404, f"unknown control {name!r}; one of {sorted(CONTROL_METHODS)}")
        try:
            kwargs = req.json()
            result = fn(**kwargs)
        except ApiError as e:
            return error(e.status, e.message)
        except (TypeError, ValueError, KeyError) as e:
            return error(400, f"{type(e).__name__}: {e}")
        return Response(200, orjson.dumps({"result": result}, default=_default, option=orjson.OPT_UTC_Z))


CONTROL_METHODS = {"mutate", "advance_clock", "now", "set_faults", "clear_faults", "counters", "reset_counters",
                   "rename_custom_field", "emit_webhooks", "faults_fired", "info"}


def _default(obj: Any) -> Any:
    if hasattr(obj, "to_dict"):
        return obj.to_dict()
    if hasattr(obj, "isoformat"):
        return obj.isoformat().replace("+00:00", "Z")
    raise TypeError


def _status_429(f: Fault) -> Response:
    ra = f.retry_after
    if f.retry_after_http_date:
        value = email.utils.formatdate(time.time() + ra, usegmt=True)
    else:
        value = str(int(ra)) if float(ra).is_integer() else str(ra)
    resp = error(429, "Too Many Requests")
    resp.headers.append(("Retry-After", value))
    return resp


def _terminal(f: Fault) -> Response:
    if f.kind == "drop":
        return Response(action="drop")
    if f.kind == "429":
        return _status_429(f)
    if f.kind == "5xx":
        status = f.status or 500
        return error(status, _REASONS.get(status, "Server Error"))
    return error(int(f.kind), "Forbidden" if f.kind == "403" else "Not Found")


def _records(obj: Any) -> list[Any]:
    if isinstance(obj, dict):
        if isinstance(obj.get("data"), list):
            return obj["data"]
        if isinstance(obj.get("cxLogs"), dict):
            return _records(obj["cxLogs"])
    return []


def _after(f: Fault, resp: Response) -> Response:
    """Apply a response-level fault to a successful response."""
    if resp.status >= 300 or f.kind not in ("missing_id", "type_change", "oversize", "truncated", "malformed"):
        return resp
    if f.kind == "truncated":
        if f.short_read:
            resp.action = "short_read"
        else:
            resp.body = resp.body[: max(1, len(resp.body) // 2)]
        return resp
    if f.kind == "malformed":
        resp.body = MALFORMED_BODY
        return resp
    obj = orjson.loads(resp.body)
    recs = [r for r in _records(obj) if isinstance(r, dict)]
    if f.kind == "missing_id" and recs:
        recs[0].pop("id", None)
    elif f.kind == "type_change":
        changed = False
        for r in recs:
            key = f.field or next((k for k, v in r.items() if isinstance(v, int) and not isinstance(v, bool)), None)
            if key is not None and r.get(key) is not None:
                r[key] = str(r[key])
                changed = True
        if not changed:
            env = obj.get("cxLogs", obj)
            if "total" in env:
                env["total"] = str(env["total"])
    elif f.kind == "oversize":
        pad = "x" * f.size
        if recs:
            recs[0]["notes" if "notes" in recs[0] else "_padding"] = pad
        else:
            obj["_padding"] = pad
    resp.body = orjson.dumps(obj)
    return resp


class _Conn(socketserver.BaseRequestHandler):
    """One keep-alive connection: parse requests, answer them, until close."""

    server: _Server

    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        app = self.server.app
        self.server.track(sock, True)
        rfile = sock.makefile("rb", 65536)
        try:
            while True:
                line = rfile.readline(65537)
                if not line:
                    return
                if line in (b"\r\n", b"\n"):
                    continue
                parts = line.split()
                if len(parts) != 3:
                    sock.sendall(_raw(error(400, "Bad request line"), False))
                    return
                method, target, version = parts
                headers: dict[str, str] = {}
                while True:
                    h = rfile.readline(65537)
                    if not h or h in (b"\r\n", b"\n"):
                        break
                    k, _, v = h.partition(b":")
                    headers[k.strip().lower().decode("latin-1")] = v.strip().decode("latin-1")
                body = _read_body(rfile, headers)
                conn = headers.get("connection", "").lower()
                keep = ("close" not in conn) if version == b"HTTP/1.1" else ("keep-alive" in conn)
                path, _, qs = target.decode("latin-1").partition("?")
                query: dict[str, str] = {}
                for k, v in parse_qsl(qs, keep_blank_values=True):
                    query.setdefault(k, v)
                req = Request(method.decode("latin-1"), unquote(path), query, headers, body)
                resp, delay = app.handle(req)
                if delay > 0:
                    time.sleep(delay)
                if resp.action == "drop":
                    return
                if resp.action == "short_read":
                    data = _raw(resp, False)
                    sock.sendall(data[: len(data) - max(1, len(resp.body) // 2)])
                    return
                head = _head(resp, keep)
                sent = sock.sendmsg([head, resp.body])  # no copy of the body into one buffer
                if sent < len(head) + len(resp.body):
                    sock.sendall((head + resp.body)[sent:])
                if not keep:
                    return
        except (OSError, ValueError):
            return
        finally:
            self.server.track(sock, False)
            rfile.close()
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


def _read_body(rfile: Any, headers: dict[str, str]) -> bytes:
    if headers.get("transfer-encoding", "").lower() == "chunked":
        chunks = []
        while True:
            size = int(rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            chunks.append(rfile.read(size))
            rfile.readline()
    n = int(headers.get("content-length") or 0)
    return rfile.read(n) if n > 0 else b""


def _raw(resp: Response, keep: bool) -> bytes:
    return _head(resp, keep) + resp.body


def _head(resp: Response, keep: bool) -> bytes:
    head = [f"HTTP/1.1 {resp.status} {_REASONS.get(resp.status, 'Unknown')}",
            f"Content-Type: {resp.content_type or JSON}", f"Content-Length: {len(resp.body)}",
            "Connection: keep-alive" if keep else "Connection: close", "Server: klink-sandbox"]
    head += [f"{k}: {v}" for k, v in resp.headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1")


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, addr: tuple[str, int], app: App) -> None:
        self.app = app
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(addr, _Conn)

    def track(self, sock: socket.socket, add: bool) -> None:
        with self._open_lock:
            (self._open.add if add else self._open.discard)(sock)

    def close_connections(self) -> None:
        with self._open_lock:
            socks = list(self._open)
        for s in socks:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
