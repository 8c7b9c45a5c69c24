"""`klink sandbox ...` / `python -m sandbox ...`: serve a sandbox until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import signal
import threading
from typing import Any

from .config import DEFAULT_TOKEN, ORDERS, SHAPES, SandboxConfig
from .faults import parse_faults
from .instance import Sandbox


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the sandbox options to a parser."""
    a = parser.add_argument
    a("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    a("--port", type=int, default=8787, help="port (0 = a free port; default 8787)")
    a("--token", default=DEFAULT_TOKEN, help=f"bearer token clients must send (default {DEFAULT_TOKEN})")
    a("--seed", type=int, default=42, help="data seed (default 42)")
    a("--contacts", type=int, default=1000, help="number of seeded contacts (default 1000)")
    a("--tickets", type=int, default=1000, help="number of seeded tickets (default 1000)")
    a("--cx-logs", dest="cx_logs", type=int, default=1000, help="number of seeded cx-logs (default 1000)")
    a("--agent-activities", dest="agent_activities", type=int, default=200, help="agent activity rows")
    a("--shape", choices=SHAPES, default="seed",
      help="contact shape: seed (email/phone) or webhook (contactEmails/contactPhones)")
    a("--no-timestamps", dest="timestamps", action="store_false", help="contacts carry no createdAt/updatedAt/deletedAt")
    a("--order", choices=ORDERS, default="oldest_first", help="list order (newest_first: inserts shift pages)")
    a("--clock-start", default="2026-03-30T00:00:00Z", help="the virtual 'now' at start")
    a("--latency-ms", type=int, default=0, help="latency added to every request")
    a("--rate-limit", "--rate-limit-per-minute", dest="rate_limit_per_minute", type=int, default=None, help="requests per minute before 429s")
    a("--faults", default="", help='e.g. "contacts.list:5xx:rate=0.2;*:429:every=7:retry_after=1"')
    a("--webhook-secret", default="whsec_sandbox", help="secret for signing webhook events")


def config_from_args(args: argparse.Namespace) -> SandboxConfig:
    return SandboxConfig(
        seed=args.seed, contacts=args.contacts, tickets=args.tickets, cx_logs=args.cx_logs,
        agent_activities=args.agent_activities, shape=args.shape, timestamps=args.timestamps, order=args.order,
        token=args.token, clock_start=args.clock_start, latency_ms=args.latency_ms,
        rate_limit_per_minute=args.rate_limit_per_minute, faults=parse_faults(args.faults),
        webhook_secret=args.webhook_secret)


def serve_until_signal(sb: Sandbox, announce: str) -> int:
    """Print `announce`, serve until SIGINT/SIGTERM, close every connection; returns 0."""
    stopping = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        if not stopping.is_set():
            stopping.set()
            threading.Thread(target=sb._server.shutdown, daemon=True).start()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    print(announce, flush=True)  # noqa: T201
    try:
        sb.serve_forever()
    finally:
        sb._server.close_connections()
        sb._server.server_close()
    return 0


def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT/SIGTERM; prints one line with the base URL and the token."""
    sb = Sandbox(config_from_args(args), host=args.host, port=args.port)
    return serve_until_signal(sb, f"klink sandbox listening on {sb.base_url} token={sb.token}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="klink sandbox", description="Serve a local klink.cloud API sandbox.")
    add_arguments(parser)
    return run(parser.parse_args(argv))
