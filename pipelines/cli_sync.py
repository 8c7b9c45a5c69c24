"""`klink sync`: one incremental (or full-refresh) sync, safe to run from cron."""

from __future__ import annotations

import argparse
import sys
from typing import Any, Dict, List, Optional

from pipelines.cli_common import (
    EXIT_FAILED,
    EXIT_OK,
    CliError,
    add_runner_arguments,
    config_value,
    configured_token,
    failed_jobs,
    mask,
    progress_setting,
    quiet_append_fallback,
    report_error,
    runner_settings,
    setup_logging,
    table,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    a = parser.add_argument
    a("--resources", help="comma-separated resources to load (default: all) [sources.klink.resources]")
    a("--full-refresh", action="store_true", help="drop the tables and state of the selected resources (all of"
                                                   " them by default), then reload them")
    a("--start-date", help="first cx_logs window on the first run, ISO 8601 (default: 30 days ago); with"
                           " --end-date a run reads exactly that range (a backfill) [sources.klink.start_date]")
    a("--end-date", help="end of the cx_logs windows, ISO 8601 (default: now) [sources.klink.end_date]")
    a("--base-url", help="API base URL (default https://apigw.klinkcx.com) [sources.klink.base_url]")
    add_runner_arguments(parser)
    a("--transform", action="store_true", default=None,
      help="after a successful sync, rebuild the reporting models (klink transform) [klink.transform]")
    a("--progress", action="store_true", help="log progress to stderr (default only when stderr is a terminal)")
    a("--details", action="store_true", help="print the per-resource table (default only when stdout is a terminal)")
    a("--log-level", help="dlt log level: DEBUG, INFO, WARNING (default), ERROR [klink.log_level]")


def source_options(args: argparse.Namespace) -> Dict[str, Any]:
    """The klink_source arguments given on the command line, validated before any request."""
    from sources.klink import select_resources
    from sources.klink.client import validate_base_url
    from sources.klink.windows import parse_date

    options: Dict[str, Any] = {}
    if args.resources:
        options["resources"] = select_resources(args.resources)
    if args.base_url:
        options["base_url"] = validate_base_url(args.base_url)
    start = parse_date(args.start_date, "--start-date (sources.klink.start_date)") if args.start_date else None
    end = parse_date(args.end_date, "--end-date (sources.klink.end_date)") if args.end_date else None
    if start and end and end < start:
        raise CliError(f"--end-date {args.end_date} is before --start-date {args.start_date}")
    if args.start_date:
        options["start_date"] = args.start_date
    if args.end_date:
        options["end_date"] = args.end_date
    return options


def destination_label(settings: Dict[str, Any]) -> str:
    if settings["destination"] == "duckdb":
        return f"duckdb {settings['duckdb_path']} (dataset {settings['dataset_name']})"
    return f"{settings['destination']} (dataset {settings['dataset_name']})"


def open_pipeline(settings: Dict[str, Any], progress: Any = None) -> Any:
    from pipelines.klink_pipeline import make_pipeline

    return make_pipeline(
        destination=settings["destination"], dataset_name=settings["dataset_name"],
        duckdb_path=settings["duckdb_path"], pipelines_dir=settings["pipelines_dir"],
        pipeline_name=settings["pipeline_name"], progress=progress,
        duckdb_memory_limit=settings["duckdb_memory_limit"], direct_merge=settings["duckdb_direct_merge"],
    )


def file_format_for(destination: str) -> Optional[str]:
    """Parquet for the filesystem destination (and its aliases); dlt's default elsewhere."""
    return "parquet" if destination.split(".")[-1] in ("filesystem", "fs") else None


def resource_rows(result: Any) -> List[List[Any]]:
    """table / new / changed / deleted / rows written, one row per resource of this sync."""
    rows = []
    for r in result.resources:
        name = r.get("resource")
        written = sum(n for t, n in result.rows_written.items() if t == name or t.startswith(f"{name}__"))
        state = "" if r.get("complete") or name == "cx_logs" else "incomplete scan"
        rows.append([name, r.get("new") or 0, r.get("changed") or 0, r.get("deleted") or 0, written, state])
    return rows


def print_resource_table(result: Any, out: Any = None) -> None:
    rows = resource_rows(result)
    total = sum(result.rows_written.values())
    body = rows + [["total (incl. child and bookkeeping tables)", "", "", "", total, ""]]
    print(table(["table", "new", "changed", "deleted", "rows written", ""], body, right=(1, 2, 3, 4)), file=out)


def summary_line(result: Any, settings: Dict[str, Any]) -> str:
    new = sum(int(r.get("new") or 0) for r in result.resources)
    changed = sum(int(r.get("changed") or 0) for r in result.resources)
    deleted = sum(int(r.get("deleted") or 0) for r in result.resources)
    written = sum(result.rows_written.values())
    loads = ",".join(result.load_info.loads_ids) if result.load_info and result.load_info.loads_ids else "none"
    return (f"klink sync: ok in {result.seconds:.1f} s: {len(result.resources)} resources, {new} new,"
            f" {changed} changed, {deleted} deleted, {written} rows written to {destination_label(settings)};"
            f" load {loads}")


def run(args: argparse.Namespace) -> int:
    from pipelines.lock import EXIT_LOCKED, LockHeld, SyncLock

    token = None
    try:
        settings = runner_settings(args)
        setup_logging(args.log_level or settings["log_level"])
        options = source_options(args)
        token = configured_token()
        progress = progress_setting(settings["progress"], args.progress)
        file_format = file_format_for(settings["destination"])
        if file_format == "parquet":
            quiet_append_fallback()
        lock = SyncLock(pipeline_name=settings["pipeline_name"], pipelines_dir=settings["pipelines_dir"])
        try:
            lock.acquire()
        except LockHeld as exc:
            print(f"klink sync: {exc}", file=sys.stderr)
            return EXIT_LOCKED
        try:
            from pipelines.klink_pipeline import run_sync

            run_transforms = transforms_runner() if wants_transform(args) else None
            pipeline = open_pipeline(settings, progress)
            result = run_sync(pipeline, full_refresh=args.full_refresh,
                              loader_file_format=file_format, **options)
            if run_transforms is not None and not failed_jobs(result.load_info):
                try:
                    built = run_transforms(pipeline)
                except Exception as exc:
                    print(summary_line(result, settings))
                    return report_error(exc, "klink sync: data loaded, but --transform", [token])
        finally:
            lock.release()
    except KeyboardInterrupt:
        print("klink sync: interrupted; the next sync resumes from the last completed load", file=sys.stderr)
        return 130
    except BrokenPipeError:
        raise
    except Exception as exc:
        return report_error(exc, "klink sync", [token])
    jobs = failed_jobs(result.load_info)
    if jobs:
        print(f"klink sync failed: {len(jobs)} load job(s) failed", file=sys.stderr)
        for job, cause in jobs:
            print(mask(f"  failed job {job}: {cause}", [token]), file=sys.stderr)
        return EXIT_FAILED
    if args.details or sys.stdout.isatty():
        print_resource_table(result)
    incomplete = [r["resource"] for r in result.resources if not r.get("complete") and r["resource"] != "cx_logs"]
    if incomplete:
        print(f"klink sync: warning: incomplete scan of {', '.join(incomplete)} (the list changed while it was"
              " read); deletions there are checked again on the next sync", file=sys.stderr)
    print(summary_line(result, settings))
    if run_transforms is not None:
        models = ", ".join(f"{name} ({rows})" for name, rows in built.built.items()) or "none"
        print(f"klink sync: models rebuilt in {built.seconds:.1f} s in {built.models_dataset}: {models}")
        for name, reason in built.skipped.items():
            print(f"klink sync: model {name} skipped: {reason}", file=sys.stderr)
    return EXIT_OK


def wants_transform(args: argparse.Namespace) -> bool:
    """`--transform`, else `klink.transform` in dlt config (KLINK__TRANSFORM=true)."""
    if args.transform:
        return True
    return str(config_value("transform") or "").strip().lower() in ("1", "true", "yes", "on")


def transforms_runner() -> Any:
    """transforms.run_transforms, or a CliError (exit 2, before the sync) when it is not installed."""
    try:
        from transforms import run_transforms
    except ImportError as exc:
        raise CliError(f"--transform needs the transforms package, which is not available ({exc})") from None
    return run_transforms
