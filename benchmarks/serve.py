"""`python -m benchmarks.serve ...`: a sandbox in its own process, printing `READY <base_url>` once listening.

Runs apart from the measured client so the server's CPU is not charged to the variant; the harness
reads this process's CPU from /proc and stops it with SIGTERM.
"""

from __future__ import annotations

import argparse
import sys

from sandbox import Sandbox, SandboxConfig
from sandbox.cli import serve_until_signal


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.serve")
    ap.add_argument("--contacts", type=int, default=100_000)
    ap.add_argument("--tickets", type=int, default=100_000)
    ap.add_argument("--cx-logs", dest="cx_logs", type=int, default=100_000)
    ap.add_argument("--latency-ms", type=int, default=0)
    ap.add_argument("--rate-limit-per-minute", type=int, default=None)
    args = ap.parse_args(argv)
    config = SandboxConfig(contacts=args.contacts, tickets=args.tickets, cx_logs=args.cx_logs,
                           latency_ms=args.latency_ms, rate_limit_per_minute=args.rate_limit_per_minute)
    sb = Sandbox(config, host="127.0.0.1", port=0)
    return serve_until_signal(sb, f"READY {sb.base_url} {sb.token}")


if __name__ == "__main__":
    sys.exit(main())
