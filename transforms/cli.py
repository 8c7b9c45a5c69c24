"""`klink transform` and `klink report` (wired in by pipelines/cli.py).

    klink transform [--select fct_tickets] [--timezone Asia/Bangkok] [--as-of 2026-03-30T00:00:00Z]
    klink report --output report.html [--days 30] [--end-date 2026-03-30]

Where the data is (destination, dataset, DuckDB file) resolves like `klink sync`: flag, then
`klink.*` config / `KLINK__*` env, then defaults. The reporting time zone: `--timezone`, else
`sources.klink.timezone` (the tenant zone the source already uses), else UTC.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from typing import Any, Dict, Optional

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2
PIPELINE_KEYS = ("destination", "dataset_name", "duckdb_path", "pipelines_dir", "pipeline_name")


def say(message: str, error: bool = False) -> None:
    """One line to stdout (results) or stderr (problems)."""
    (sys.stderr if error else sys.stdout).write(message + "\n")


def _common(parser: argparse.ArgumentParser) -> None:
    from pipelines.cli_common import add_runner_arguments

    add_runner_arguments(parser)
    parser.add_argument("--models-dataset", help="schema of the models, default <dataset>_models")
    parser.add_argument("--log-level", help="dlt log level: DEBUG, INFO, WARNING (default), ERROR")


def add_transform_arguments(parser: argparse.ArgumentParser) -> None:
    a = parser.add_argument
    a("--select", help="comma-separated models to rebuild (and everything downstream); default all")
    a("--timezone", help="IANA zone that defines a day, default sources.klink.timezone or UTC")
    a("--as-of", help="reference time for ticket ages and the backlog's last day, ISO 8601 (default now)")
    _common(parser)


def add_report_arguments(parser: argparse.ArgumentParser) -> None:
    a = parser.add_argument
    a("--output", "-o", default="klink_report.html", help="HTML file to write (default klink_report.html)")
    a("--days", type=int, default=30, help="days shown, ending at --end-date (default 30)")
    a("--end-date", help="last day shown, YYYY-MM-DD (default: the last day in the models)")
    _common(parser)


def _settings(args: argparse.Namespace) -> Dict[str, Any]:
    from pipelines.cli_common import runner_settings, setup_logging

    settings = runner_settings(args)
    setup_logging(getattr(args, "log_level", None) or settings["log_level"])
    return settings


def _pipeline(settings: Dict[str, Any]) -> Any:
    from pipelines.klink_pipeline import make_pipeline

    kwargs = {k: settings[k] for k in PIPELINE_KEYS if settings.get(k) is not None}
    if "dataset_name" not in kwargs and settings.get("dataset"):
        kwargs["dataset_name"] = settings["dataset"]
    return make_pipeline(**kwargs)


def reporting_timezone(flag: Optional[str]) -> str:
    """--timezone, else sources.klink.timezone, else UTC (see transforms.runner.reporting_timezone)."""
    from pipelines.cli_common import CliError

    from .runner import reporting_timezone as resolve

    try:
        return resolve(flag)
    except ValueError as exc:
        raise CliError(str(exc)) from None


def parse_as_of(value: Optional[str]) -> Optional[dt.datetime]:
    from pipelines.cli_common import CliError

    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise CliError(f"--as-of {value!r} is not an ISO 8601 time (hint: 2026-03-30T00:00:00Z)") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def run_transform(args: argparse.Namespace) -> int:
    from pipelines.cli_common import CliError, report_error
    from pipelines.lock import EXIT_LOCKED, LockHeld, SyncLock

    from .registry import MODELS
    from .render import TemplateError
    from .runner import run_transforms

    try:
        settings = _settings(args)
        select = [s.strip() for s in (args.select or "").split(",") if s.strip()] or None
        unknown = [s for s in select or [] if s not in MODELS]
        if unknown:
            raise CliError(f"unknown model(s) {', '.join(unknown)} (hint: choose from {', '.join(MODELS)})")
        timezone = reporting_timezone(args.timezone)
        as_of = parse_as_of(args.as_of)
        lock = SyncLock(pipeline_name=settings["pipeline_name"], pipelines_dir=settings["pipelines_dir"])
        try:
            lock.acquire()
        except LockHeld as exc:
            say(f"klink transform: {exc}", error=True)
            return EXIT_LOCKED
        try:
            result = run_transforms(_pipeline(settings), select=select, as_of=as_of, timezone=timezone,
                                    models_dataset=args.models_dataset)
        finally:
            lock.release()
    except TemplateError as exc:
        say(f"klink transform: model error: {exc}", error=True)
        return EXIT_FAILED
    except Exception as exc:
        return report_error(exc, "klink transform")
    for name, reason in result.skipped.items():
        say(f"klink transform: skipped {name}: {reason}", error=True)
    if not result.built:
        say("klink transform: nothing built (hint: run `klink sync` first)", error=True)
        return EXIT_FAILED
    built = ", ".join(f"{name} ({rows} rows)" for name, rows in result.built.items())
    say(f"klink transform: ok in {result.seconds:.1f} s: {built} in {result.models_dataset}"
        f" (days in {result.timezone}, as of {result.as_of:%Y-%m-%d %H:%M:%S %Z})")
    return EXIT_OK


def run_report(args: argparse.Namespace) -> int:
    from pipelines.cli_common import CliError, report_error

    from .report import ReportError, write_report

    try:
        settings = _settings(args)
        if args.days < 1:
            raise CliError("--days must be at least 1")
        try:
            end = dt.date.fromisoformat(args.end_date) if args.end_date else None
        except ValueError:
            raise CliError(f"--end-date {args.end_date!r} is not a date (hint: YYYY-MM-DD)") from None
        path = write_report(_pipeline(settings), args.output, days=args.days, end=end,
                            models_dataset=args.models_dataset)
    except ReportError as exc:
        say(f"klink report: {exc}", error=True)
        return EXIT_CONFIG
    except Exception as exc:
        return report_error(exc, "klink report")
    say(f"klink report: wrote {path.resolve()} (open it in a browser)")
    return EXIT_OK
