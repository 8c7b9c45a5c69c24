"""`klink demo`: a local sandbox API, a sync into ./klink_demo.duckdb, a table of what changed.

The sandbox is seeded, so every demo run starts from the same data. Run N (N >= 2) replays N-1
rounds of changes (clock +1 day; contacts and tickets: 50 updated, 20 created, 10 deleted;
cx-logs: 20 updated, 30 created), so each run shows exactly one round as an incremental sync
against what the DuckDB file already holds.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import shutil
import sys
import time

from pipelines.cli_common import EXIT_OK, CliError, report_error, setup_logging
from pipelines.cli_sync import print_resource_table

DEMO_FILE = "klink_demo.duckdb"
DEMO_PIPELINE = "klink_demo"
DEMO_DATASET = "klink_data"
DEMO_DIR = ".klink"
ROUND = {"contacts": (50, 20, 10), "tickets": (50, 20, 10), "cx_logs": (20, 30, 0)}  # update, create, delete


def add_arguments(parser: argparse.ArgumentParser) -> None:
    a = parser.add_argument
    a("--contacts", type=int, default=2000, help="sandbox contacts (default 2000)")
    a("--tickets", type=int, default=2000, help="sandbox tickets (default 2000)")
    a("--cx-logs", dest="cx_logs", type=int, default=2000, help="sandbox cx-logs (default 2000)")
    a("--duckdb-path", default=DEMO_FILE, help=f"DuckDB file to write (default ./{DEMO_FILE})")
    a("--reset", action="store_true", help="delete the demo DuckDB file and state first: start at run 1")
    a("--progress", action="store_true", help="log progress to stderr")
    a("--log-level", default=None, help="dlt log level (default WARNING)")


def demo_paths(args: argparse.Namespace) -> tuple[str, str]:
    path = os.path.abspath(args.duckdb_path)
    if os.path.splitext(os.path.basename(path))[0] == DEMO_DATASET:
        raise CliError(f"--duckdb-path must not be named {DEMO_DATASET}.duckdb (the dataset name)")
    return path, os.path.join(os.path.dirname(path), DEMO_DIR, "pipelines")


def demo_pipeline_name(path: str) -> str:
    """klink_demo for ./klink_demo.duckdb; one name per file otherwise, so two files never share state."""
    stem = re.sub(r"[^0-9a-zA-Z_]", "_", os.path.splitext(os.path.basename(path))[0])
    return DEMO_PIPELINE if stem == DEMO_PIPELINE else f"{DEMO_PIPELINE}_{stem}"


def previous_runs(path: str) -> int:
    """How many demo syncs the DuckDB file holds (0 if none)."""
    if not os.path.exists(path):
        return 0
    import duckdb

    try:
        with duckdb.connect(path, read_only=True) as con:
            row = con.execute(f"SELECT COUNT(DISTINCT _dlt_load_id) FROM {DEMO_DATASET}._klink_runs").fetchone()
    except Exception:
        return 0
    return int(row[0]) if row else 0


def run(args: argparse.Namespace) -> int:
    from pipelines.lock import EXIT_LOCKED, LockHeld, SyncLock

    try:
        setup_logging(args.log_level)
        path, pipelines_dir = demo_paths(args)
        if args.reset:
            for p in (path, path + ".wal"):
                if os.path.exists(p):
                    os.remove(p)
            shutil.rmtree(os.path.join(pipelines_dir, demo_pipeline_name(path)), ignore_errors=True)
        lock = SyncLock(pipeline_name=demo_pipeline_name(path), pipelines_dir=pipelines_dir)
        try:
            lock.acquire()
        except LockHeld as exc:
            print(f"klink demo: {exc}", file=sys.stderr)
            return EXIT_LOCKED
        try:
            return _demo(args, path, pipelines_dir)
        finally:
            lock.release()
    except KeyboardInterrupt:
        print("klink demo: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        raise
    except Exception as exc:
        return report_error(exc, "klink demo")


def _demo(args: argparse.Namespace, path: str, pipelines_dir: str) -> int:
    import dlt

    from pipelines.klink_pipeline import make_pipeline, run_sync
    from sandbox import SandboxConfig, start_sandbox
    from sources.klink import ALL_RESOURCES

    started = time.monotonic()
    run_number = previous_runs(path) + 1
    sandbox = start_sandbox(SandboxConfig(contacts=args.contacts, tickets=args.tickets, cx_logs=args.cx_logs))
    try:
        for _ in range(run_number - 1):  # replay the rounds of changes earlier runs saw, plus one
            sandbox.advance_clock(days=1)
            for resource, (update, create, delete) in ROUND.items():
                sandbox.mutate(resource, update=update, create=create, delete=delete)
        now = sandbox.now()
        kind = "first run: full load" if run_number == 1 else (
            "incremental: the sandbox moved 1 day on and changed, added and deleted some rows")
        print(f"klink demo: run {run_number} ({kind})")
        print(f"  sandbox API {sandbox.base_url}: {args.contacts} contacts, {args.tickets} tickets,"
              f" {args.cx_logs} cx-logs, clock at {now:%Y-%m-%d %H:%M} UTC")
        print(f"  loading into {path} (dataset {DEMO_DATASET}) ...", flush=True)
        progress = dlt.progress.log(log_period=5.0, logger=sys.stderr, dump_system_stats=False) if args.progress else None
        pipeline = make_pipeline(destination="duckdb", dataset_name=DEMO_DATASET, duckdb_path=path,
                                 pipelines_dir=pipelines_dir, pipeline_name=demo_pipeline_name(path), progress=progress)
        result = run_sync(
            pipeline, resources=list(ALL_RESOURCES), api_token=sandbox.token, base_url=sandbox.base_url,
            start_date=(now - dt.timedelta(days=30)).isoformat(), end_date=now.isoformat(),
            timezone="UTC", paths={}, requests_per_minute=None, delete_mode="soft",
        )
    finally:
        sandbox.stop()
    print()
    print_resource_table(result)
    print()
    took = time.monotonic() - started
    print(f"took {took:.1f} s (sync {result.seconds:.1f} s).")
    if run_number == 1:
        print("Run `klink demo` again for an incremental run; `klink demo --reset` starts over.")
    else:
        print("Each further `klink demo` adds one more round of changes; `klink demo --reset` starts over.")
    rel = _local(path)
    python, klink = _local(sys.executable), _local(os.path.join(os.path.dirname(sys.executable), "klink"))
    custom = "" if rel == DEMO_FILE else f" --duckdb-path {rel}"
    print(f"See the state: {klink} status --demo{custom}")
    print(f"Try SQL on {rel}:")
    print(f'  {python} -c "import duckdb; print(duckdb.connect(\'{rel}\').sql('
          f"'SELECT status, count(*) FROM {DEMO_DATASET}.tickets WHERE _klink_deleted_at IS NULL GROUP BY 1'))\"")
    return EXIT_OK


def _local(executable: str) -> str:
    """`executable` as typed from here: relative when inside the working directory (./.venv/bin/...)."""
    rel = os.path.relpath(executable)
    return rel if not rel.startswith("..") else executable
