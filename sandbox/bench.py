"""Measure list throughput: `python -m sandbox.bench [--contacts N] [--threads T] [--seconds S] [--inprocess]`.

Starts a sandbox in a separate process (as `klink sandbox` would run), warms every page once, then fetches
pageSize=100 contact pages over keep-alive requests.Sessions from a few threads and prints pages/s.
"""

from __future__ import annotations

import argparse
import http.client
import os
import subprocess
import sys
import threading
import time

import orjson
import requests

from .config import DEFAULT_TOKEN


def _start_process(contacts: int) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([sys.executable, "-m", "sandbox", "--port", "0", "--contacts", str(contacts)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    return proc, line.split(" on ")[1].split()[0]


def _cpu_seconds(pid: int) -> float:
    """user+system CPU seconds used so far by a process (Linux /proc), 0 elsewhere."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


def measure(base_url: str, contacts: int, threads: int, seconds: float, parse: bool, pid: int | None = None,
            client: str = "requests", warm_up: bool = True) -> tuple[float, float]:
    """(pages per second, server CPU µs per page) of /api/v1/contacts?pageSize=100 over keep-alive sessions."""
    pages = max(1, -(-contacts // 100))
    headers = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}
    if warm_up:
        warm = requests.Session()
        warm.trust_env = False
        for p in range(1, pages + 1):
            warm.get(f"{base_url}/api/v1/contacts", params={"page": p, "pageSize": 100},
                     headers=headers).raise_for_status()
    done = [0] * threads
    stop = time.perf_counter() + seconds

    def worker(k: int) -> None:
        if client == "http.client":
            host, port = base_url.split("//")[1].split(":")
            conn = http.client.HTTPConnection(host, int(port))
            p = k
            while time.perf_counter() < stop:
                conn.request("GET", f"/api/v1/contacts?page={p % pages + 1}&pageSize=100", headers=headers)
                resp = conn.getresponse()
                body = resp.read()
                assert resp.status == 200 and body
                if parse:
                    assert len(orjson.loads(body)["data"]) > 0
                done[k] += 1
                p += 1
            return
        s = requests.Session()
        s.trust_env = False  # skip per-request proxy/netrc environment lookups (client-side cost)
        s.headers.update(headers)
        p = k
        while time.perf_counter() < stop:
            r = s.get(f"{base_url}/api/v1/contacts?page={p % pages + 1}&pageSize=100")
            r.raise_for_status()
            if parse:
                assert len(r.json()["data"]) > 0
            else:
                assert r.content
            done[k] += 1
            p += 1

    t0 = time.perf_counter()
    cpu0 = _cpu_seconds(pid) if pid else 0.0
    ts = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    elapsed, n = time.perf_counter() - t0, max(1, sum(done))
    cpu = (_cpu_seconds(pid) - cpu0) if pid else 0.0
    return n / elapsed, cpu / n * 1e6


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sandbox.bench", description=__doc__)
    ap.add_argument("--contacts", type=int, default=10_000)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--client", choices=["requests", "http.client"], default="requests",
                    help="client library (requests is the connector's; http.client costs the client less CPU)")
    ap.add_argument("--cold", action="store_true", help="skip the warm-up pass (rows are generated while measured)")
    ap.add_argument("--parse", action="store_true", help="also JSON-decode every page in the client")
    ap.add_argument("--inprocess", action="store_true", help="serve from a thread of this process (shares the GIL)")
    args = ap.parse_args(argv)
    if args.inprocess:
        from .config import SandboxConfig
        from .instance import start_sandbox

        sb = start_sandbox(SandboxConfig(contacts=args.contacts))
        try:
            rate, cpu_us = measure(sb.base_url, args.contacts, args.threads, args.seconds, args.parse,
                                   client=args.client, warm_up=not args.cold)
        finally:
            sb.stop()
    else:
        proc, url = _start_process(args.contacts)
        try:
            rate, cpu_us = measure(url, args.contacts, args.threads, args.seconds, args.parse, proc.pid,
                                   args.client, not args.cold)
        finally:
            proc.terminate()
            proc.wait()
    where = "in-process" if args.inprocess else "separate process"
    print(f"{rate:,.0f} pages/s (pageSize=100, {args.contacts:,} contacts, {args.threads} {args.client} threads, {where}, keep-alive{', cold' if args.cold else ''})"  # noqa: T201
          + (f"; server CPU {cpu_us:.0f} µs/page" if cpu_us else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
