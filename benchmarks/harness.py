"""The measuring side: the sandbox process, one subprocess per variant run, and what each run cost.

Wall time is the child's whole life (interpreter start to exit); CPU (user+sys) and peak RSS come from
`os.wait4` on that child (its own rusage plus any worker processes it reaped; peak RSS is the largest
single process). The sandbox's CPU comes from /proc/<pid>/stat before and after the run, and requests
made from the sandbox's own counters (reset before each run).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import requests

from sources.klink.windows import plan_windows, selected_date

REPO = Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = 100
LIST_PATHS = {
    "contacts": "/api/v1/contacts",
    "tickets": "/api/v1/tickets",
    "cx_logs": "/api/v1/cx-logs",
    "contact_fields": "/api/v1/contacts/fields",
    "ticket_fields": "/api/v1/tickets/fields",
}
RESULT_MARK = "BENCH_RESULT "


def cpu_seconds(pid: int) -> float:
    """user+sys CPU seconds of a live process, from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


class SandboxProcess:
    """`python -m benchmarks.serve` as a child process, with its control API over HTTP."""

    def __init__(self, contacts: int, tickets: int, cx_logs: int, latency_ms: int = 0,
                 rate_limit: Optional[int] = None) -> None:
        cmd = [sys.executable, "-m", "benchmarks.serve", "--contacts", str(contacts), "--tickets", str(tickets),
               "--cx-logs", str(cx_logs), "--latency-ms", str(latency_ms)]
        if rate_limit:
            cmd += ["--rate-limit-per-minute", str(rate_limit)]
        self.sizes = {"contacts": contacts, "tickets": tickets, "cx_logs": cx_logs}
        self.proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().split()
        if not line or line[0] != "READY":
            self.stop()
            raise RuntimeError(f"sandbox did not start: {line}")
        self.base_url, self.token = line[1], line[2]
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {self.token}"

    def control(self, name: str, **kwargs: Any) -> Any:
        r = self.session.post(f"{self.base_url}/_sandbox/{name}", json=kwargs, timeout=60)
        r.raise_for_status()
        return r.json()["result"]

    def cpu(self) -> float:
        return cpu_seconds(self.proc.pid)

    def now(self) -> dt.datetime:
        return dt.datetime.fromisoformat(self.control("now").replace("Z", "+00:00"))

    def total(self, resource: str, params: Optional[Dict[str, str]] = None) -> int:
        """`total` of a list (one small request; call before reset_counters)."""
        headers = {"x-client-timezone": "UTC"} if resource == "cx_logs" else {}
        r = self.session.get(self.base_url + LIST_PATHS[resource], params={**(params or {}), "page": 1,
                             "pageSize": PAGE_SIZE}, headers=headers, timeout=60)
        r.raise_for_status()
        body = r.json()
        return int(body.get("cxLogs", body)["total"])

    def warm(self, workers: int = 4) -> None:
        """Read every page once so the sandbox's row cache is built before anything is measured."""
        window = cx_window(self.now())
        jobs: List[Tuple[str, int, Dict[str, str]]] = []
        for resource in ("contacts", "tickets", "cx_logs"):
            params = {"selectedDate": window} if resource == "cx_logs" else {}
            pages = math.ceil(self.total(resource, params) / PAGE_SIZE)
            jobs += [(resource, p, params) for p in range(2, pages + 1)]

        def get(job: Tuple[str, int, Dict[str, str]]) -> None:
            resource, page, params = job
            headers = {"x-client-timezone": "UTC"} if resource == "cx_logs" else {}
            self.session.get(self.base_url + LIST_PATHS[resource], params={**params, "page": page,
                             "pageSize": PAGE_SIZE}, headers=headers, timeout=60).raise_for_status()

        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(get, jobs))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def cx_range(now: dt.datetime) -> Tuple[dt.datetime, dt.datetime]:
    """The cx-log date range every variant reads: the 31 days up to the sandbox clock."""
    return now - dt.timedelta(days=31), now


def cx_window(now: dt.datetime) -> str:
    """That range as one `selectedDate` value (what stock dlt and the floor send)."""
    start, end = cx_range(now)
    return selected_date(start, end, dt.timezone.utc)


def minimum_requests(sb: SandboxProcess, cx_window_days: Optional[float], extra_lists: List[str],
                     cx_days: Optional[float] = None) -> int:
    """One request per page per list: ceil(total/100) (at least 1), cx-logs per selectedDate window.

    `cx_days`: cx-logs read only for the last this many days (an incremental re-run's lookback).
    """
    pages = 0
    for resource in ["contacts", "tickets", *extra_lists]:
        pages += max(1, math.ceil(sb.total(resource) / PAGE_SIZE))
    now = sb.now()
    start, end = cx_range(now)
    if cx_days is not None:
        start = end - dt.timedelta(days=cx_days)
    if cx_window_days is None:
        windows = [cx_window(now)]
    else:
        windows = [selected_date(lo, hi, dt.timezone.utc)
                   for lo, hi in plan_windows(start, end, dt.timedelta(days=cx_window_days))]
    for w in windows:
        pages += max(1, math.ceil(sb.total("cx_logs", {"selectedDate": w}) / PAGE_SIZE))
    return pages


@dataclass
class Measurement:
    variant: str
    wall: float
    cpu: float
    max_rss_mb: float  # the largest single process (the OS's ru_maxrss)
    sandbox_cpu: float
    requests: int
    requests_by_endpoint: Dict[str, int]
    result: Dict[str, Any] = field(default_factory=dict)
    returncode: int = 0
    stderr_tail: str = ""
    tree_rss_mb: float = 0.0  # the variant's processes together (helpers, normalize workers), sampled 5x/s


def tree_rss_mb(pid: int) -> float:
    """Resident set of `pid` and all its descendants, in MB."""
    children: Dict[int, List[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        total += rss_mb(current)
        todo.extend(children.get(current, []))
    return total


def rss_mb(pid: int) -> float:
    """Current resident set of a live process in MB (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def run_child(variant: str, sb: SandboxProcess, workdir: Path, options: Dict[str, Any],
              env: Optional[Dict[str, Optional[str]]] = None, timeout: float = 3600,
              max_rss_mb: float = 10_240) -> Measurement:
    """Run one variant in a fresh interpreter and measure it.

    The child is killed past `timeout` seconds or `max_rss_mb` of resident memory (a variant that
    would take the shared machine's memory down); the measurement then says so.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    args = {"variant": variant, "base_url": sb.base_url, "token": sb.token, "workdir": str(workdir),
            "sizes": sb.sizes, **options}
    out_path, err_path = workdir / f"{variant}.out", workdir / f"{variant}.err"
    child_env = {**os.environ, "RUNTIME__DLTHUB_TELEMETRY": "false", "PYTHONPATH": str(REPO)}
    for key, value in (env or {}).items():
        if value is None:
            child_env.pop(key, None)
        else:
            child_env[key] = value
    sb.control("reset_counters")
    sandbox_cpu0 = sb.cpu()
    with open(out_path, "w") as out, open(err_path, "w") as err:
        started = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "benchmarks.child", json.dumps(args)], cwd=workdir,
                                stdout=out, stderr=err, env=child_env)
        # if the machine runs out of memory, the kernel should pick the benchmark, not a neighbour
        with contextlib.suppress(OSError):
            Path(f"/proc/{proc.pid}/oom_score_adj").write_text("1000")
        deadline = started + timeout
        killed = ""
        polls = 0
        tree_peak = 0.0
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            polls += 1
            if polls % 20 == 0:
                tree_peak = max(tree_peak, tree_rss_mb(proc.pid))
            if not killed and time.perf_counter() > deadline:
                killed = f"killed after {timeout:.0f} s"
            elif not killed and polls % 50 == 0 and rss_mb(proc.pid) > max_rss_mb:
                killed = f"killed at {max_rss_mb / 1024:.0f} GB RSS after {time.perf_counter() - started:.0f} s"
            if killed and proc.poll() is None:
                proc.kill()
            time.sleep(0.01)
        wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    sandbox_cpu = sb.cpu() - sandbox_cpu0
    counters = sb.control("counters")
    result: Dict[str, Any] = {}
    for line in out_path.read_text().splitlines():
        if line.startswith(RESULT_MARK):
            result = json.loads(line[len(RESULT_MARK):])
    stderr = err_path.read_text()
    if killed:
        stderr += f"\n{killed}"
    return Measurement(
        variant=variant, wall=wall, cpu=usage.ru_utime + usage.ru_stime, max_rss_mb=usage.ru_maxrss / 1024,
        sandbox_cpu=sandbox_cpu, requests=sum(counters.values()), requests_by_endpoint=counters, result=result,
        returncode=proc.returncode, stderr_tail=stderr[-2000:] if proc.returncode else "",
        tree_rss_mb=max(tree_peak, usage.ru_maxrss / 1024),
    )
