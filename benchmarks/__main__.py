"""`python -m benchmarks`: full syncs of the sandbox by each variant, one table of medians and ratios.

    python -m benchmarks                          # 100k contacts + 100k tickets + 100k cx-logs, 3 runs
    python -m benchmarks --quick                  # tiny sizes, 1 run (the smoke test)
    python -m benchmarks --variants klink,stock_dlt --runs 5
    python -m benchmarks --profile realistic      # 150 ms latency, 700 requests/minute (429s beyond)
    python -m benchmarks --memory                 # peak RSS of klink at the sizes given and at 10x

Rounds run every selected variant once each (in order, interleaved across rounds) so contention from
other work on the machine lands on all of them; ratios are computed within each round.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List

from .harness import REPO, Measurement, SandboxProcess, cx_window, minimum_requests, run_child
from .report import phases_line, ratios, summarize, table
from .variants import VARIANTS, Variant, select

REALISTIC = {"latency_ms": 150, "rate_limit": 700}


def parse_args(argv: List[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--contacts", type=int, default=100_000)
    ap.add_argument("--tickets", type=int, default=100_000)
    ap.add_argument("--cx-logs", dest="cx_logs", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--variants", default=None, help=f"comma-separated, from: {', '.join(VARIANTS)}")
    ap.add_argument("--profile", choices=("fast", "realistic"), default="fast")
    ap.add_argument("--quick", action="store_true", help="tiny sizes and 1 run (for the smoke test)")
    ap.add_argument("--memory", action="store_true", help="klink peak RSS at the given sizes and at --memory-scale x")
    ap.add_argument("--memory-scale", type=int, default=10)
    ap.add_argument("--timeout", type=float, default=3600, help="kill a variant run after this many seconds")
    ap.add_argument("--max-rss-gb", type=float, default=10, help="kill a variant run above this resident memory")
    ap.add_argument("--keep", action="store_true", help="keep the work directories (DuckDB files, logs)")
    ap.add_argument("--json", dest="json_out", default=None, help="also write every measurement here")
    args = ap.parse_args(argv)
    if args.quick:
        args.contacts, args.tickets, args.cx_logs, args.runs = 300, 250, 200, 1
    return args


def env_line() -> str:
    load = os.getloadavg()
    return f"{os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"


def child_options(variant: Variant, sb: SandboxProcess, now: dt.datetime, realistic: bool) -> Dict:
    options = {"kind": variant.kind, "now": now.isoformat(), "cx_window": cx_window(now), **variant.options}
    if realistic and variant.kind == "klink":
        options["source_options"] = {**options.get("source_options", {}),
                                     "requests_per_minute": REALISTIC["rate_limit"]}
    if realistic and variant.kind == "floor":
        options["requests_per_minute"] = REALISTIC["rate_limit"]
    return options


def limits(args: argparse.Namespace) -> Dict:
    return {"timeout": args.timeout, "max_rss_mb": args.max_rss_gb * 1024}


def code_version() -> str:
    """The commit measured, and whether the source or pipeline files differ from it."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                              text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "sources", "pipelines"], cwd=REPO,
                               capture_output=True, text=True).stdout.strip()
    except OSError:
        return "unknown commit"
    return f"commit {head}" + (" + uncommitted changes in sources/ or pipelines/" if dirty else "")


def run_rounds(args: argparse.Namespace, variants: List[Variant], sb: SandboxProcess, work: Path,
               realistic: bool) -> List[Dict[str, Measurement]]:
    now = sb.now()
    rounds: List[Dict[str, Measurement]] = []
    for r in range(args.runs):
        measured: Dict[str, Measurement] = {}
        dirs: Dict[str, Path] = {}
        for variant in variants:
            if variant.rerun_of and variant.rerun_of not in dirs:  # its full sync, unmeasured
                base = VARIANTS[variant.rerun_of]
                dirs[base.name] = work / f"round{r}" / base.name
                run_child(base.name, sb, dirs[base.name], child_options(base, sb, now, realistic), base.env,
                          **limits(args))
                if realistic:
                    time.sleep(61)
            wd = dirs[variant.rerun_of] if variant.rerun_of else work / f"round{r}" / variant.name
            dirs[variant.name] = wd
            m = run_child(variant.name, sb, wd, child_options(variant, sb, now, realistic), variant.env,
                          **limits(args))
            measured[variant.name] = m
            status = "ok" if m.returncode == 0 else f"FAILED rc={m.returncode}"
            print(f"  round {r + 1}/{args.runs} {variant.name}: {m.wall:.2f} s wall, {m.cpu:.1f} s CPU, "
                  f"{m.max_rss_mb:.0f} MB ({m.tree_rss_mb:.0f} MB all processes), {m.requests} requests, "
                  f"sandbox {m.sandbox_cpu:.1f} s CPU [{status}]",
                  file=sys.stderr, flush=True)
            if m.returncode:
                print(m.stderr_tail, file=sys.stderr)
            if realistic:
                time.sleep(61)  # let the sandbox's sliding 60 s rate window empty
        rounds.append(measured)
        if not args.keep:
            shutil.rmtree(work / f"round{r}", ignore_errors=True)
    return rounds


def start_sandbox(args: argparse.Namespace, scale: int = 1) -> SandboxProcess:
    realistic = args.profile == "realistic"
    sb = SandboxProcess(args.contacts * scale, args.tickets * scale, args.cx_logs * scale,
                        latency_ms=REALISTIC["latency_ms"] if realistic else 0,
                        rate_limit=REALISTIC["rate_limit"] if realistic else None)
    if not realistic:
        sb.warm()
    return sb


def benchmark(args: argparse.Namespace, work: Path) -> Dict:
    realistic = args.profile == "realistic"
    variants = select(args.variants, realistic)
    print(f"# {code_version()}; {env_line()} at start", file=sys.stderr)
    sb = start_sandbox(args)
    try:
        minimums = {v.name: minimum_requests(sb, v.cx_window_days, v.extra_lists, v.cx_days) for v in variants}
        if realistic:
            time.sleep(61)
        rounds = run_rounds(args, variants, sb, work, realistic)
    finally:
        sb.stop()
    records = args.contacts + args.tickets + args.cx_logs
    rows = [summarize(v.name, [r[v.name] for r in rounds], records, minimums[v.name], sb.sizes) for v in variants]
    ceilings = {v.name: minimums[v.name] / (REALISTIC["rate_limit"] / 60) for v in variants
                if realistic and v.kind == "klink" and not v.rerun_of}
    out = [
        f"profile {args.profile}: {args.contacts:,} contacts + {args.tickets:,} tickets + {args.cx_logs:,} cx-logs"
        f" = {records:,} records; median of {args.runs} run(s); {code_version()}; {env_line()} at end",
        "", table(rows), "", *ratios(rounds, ceilings), "", "phases (median, from the dlt trace / the floor's own clock):",
        *[line for v in variants if (line := phases_line(v.name, [r[v.name] for r in rounds]))],
    ]
    print("\n".join(out), flush=True)
    return {"args": vars(args), "minimums": minimums,
            "rounds": [{k: vars(m) for k, m in r.items()} for r in rounds]}


def memory(args: argparse.Namespace, work: Path) -> Dict:
    """klink's peak RSS at the given sizes and at `--memory-scale` times them."""
    results = {}
    for scale in (1, args.memory_scale):
        sb = start_sandbox(args, scale)
        try:
            variant = VARIANTS[args.variants or "klink"]
            m = run_child(variant.name, sb, work / f"mem{scale}", child_options(variant, sb, sb.now(), False),
                          variant.env, **limits(args))
        finally:
            sb.stop()
        records = sum(sb.sizes.values())
        results[scale] = m
        print(f"{variant.name} at {records:,} records: peak RSS {m.max_rss_mb:.0f} MB ({m.tree_rss_mb:.0f} MB all "
              f"processes), wall {m.wall:.1f} s, "
              f"CPU {m.cpu:.1f} s, {'ok' if m.returncode == 0 else 'FAILED'}", flush=True)
        if m.returncode:
            print(m.stderr_tail, file=sys.stderr)
    base, big = results[1], results[args.memory_scale]
    print(f"peak RSS ratio {args.memory_scale}x records: {big.max_rss_mb / base.max_rss_mb:.2f}x "
          f"(all processes {big.tree_rss_mb / base.tree_rss_mb:.2f}x) [target: <= 250 MB at 300k, <= 1.5x at 10x]",
          flush=True)
    return {"memory": {k: vars(m) for k, m in results.items()}}


def main(argv: List[str] | None = None) -> int:
    args = parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="klink-bench-"))
    try:
        data = memory(args, work) if args.memory else benchmark(args, work)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"work directories kept in {work}", file=sys.stderr)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(data, default=str, indent=1))
    return 0


if __name__ == "__main__":
    os.chdir(REPO)
    sys.exit(main())
