"""Shared pieces of the `klink` command: runner settings, error reporting, plain-text tables.

Runner settings (where to load, not what to read) resolve in this order:

1. the command-line flag (`--destination postgres`);
2. dlt config: the `[klink]` section of `.dlt/config.toml` or the env var `KLINK__<NAME>`
   (`KLINK__DESTINATION=postgres`, `KLINK__DATASET_NAME=...`, `KLINK__DUCKDB_PATH=...`);
3. the defaults below.

Source settings (token, base URL, resources, dates, ...) are `klink_source` arguments: dlt injects
them from `[sources.klink]` / `SOURCES__KLINK__<NAME>`; a flag given on the command line wins.
Destination credentials are dlt's own (`[destination.postgres] credentials` /
`DESTINATION__POSTGRES__CREDENTIALS`, `DESTINATION__FILESYSTEM__BUCKET_URL`, ...).
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CONFIG = 2
EXIT_INTERRUPTED = 130

RUNNER_DEFAULTS: Dict[str, Any] = {
    "destination": "duckdb",
    "dataset_name": "klink_data",
    "duckdb_path": "klink.duckdb",
    "duckdb_memory_limit": "256MB",  # DuckDB's own default is 80% of RAM; "none" lifts the cap
    "duckdb_direct_merge": True,  # false: dlt's staging merge (pipelines/direct_merge.py)
    "pipelines_dir": None,  # dlt's default: ~/.dlt/pipelines (/var/dlt/pipelines for root)
    "pipeline_name": "klink",
    "progress": None,  # "log" (dlt's log collector on stderr), "none"; default: log when stderr is a TTY
    "log_level": "WARNING",
}

_URL_PASSWORD = re.compile(r"(://[^:/@\s]+:)[^@\s]+@")


class CliError(Exception):
    """A problem the user fixes by changing a setting; `exit_code` 2 unless told otherwise."""

    def __init__(self, message: str, exit_code: int = EXIT_CONFIG) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def add_runner_arguments(parser: argparse.ArgumentParser) -> None:
    """Where to load: shared by `sync` and `status`."""
    a = parser.add_argument
    a("--destination", help="duckdb (default), postgres, filesystem or any dlt destination name"
                            " [config klink.destination, env KLINK__DESTINATION]")
    a("--dataset", dest="dataset_name", metavar="NAME", help="dataset (schema) name, default klink_data [klink.dataset_name]")
    a("--duckdb-path", help="DuckDB file for --destination duckdb, default ./klink.duckdb [klink.duckdb_path]")
    a("--duckdb-memory-limit", metavar="SIZE", help="cap on DuckDB's memory while loading, default 256MB;"
                                                    " none = DuckDB's default (80%% of RAM) [klink.duckdb_memory_limit]")
    a("--pipelines-dir", help="dlt working folder (state, load packages, lock), default dlt's"
                              " ~/.dlt/pipelines [klink.pipelines_dir]")
    a("--pipeline-name", help="dlt pipeline name, default klink [klink.pipeline_name]")


def config_value(name: str) -> Any:
    """`klink.<name>` from dlt config providers (env KLINK__<NAME>, .dlt/config.toml [klink]), else None."""
    import dlt

    try:
        value = dlt.config.get(f"klink.{name}")
    except Exception:
        return None
    return None if value == "" else value


def runner_settings(args: argparse.Namespace) -> Dict[str, Any]:
    """Runner settings: flag, then dlt config `klink.*`, then the default."""
    out: Dict[str, Any] = {}
    for name, default in RUNNER_DEFAULTS.items():
        flag = getattr(args, name, None)
        out[name] = flag if flag not in (None, "") else config_value(name)
        if out[name] in (None, ""):
            out[name] = default
    out["destination"] = str(out["destination"]).strip()
    if out["pipelines_dir"]:
        out["pipelines_dir"] = os.path.abspath(os.path.expanduser(str(out["pipelines_dir"])))
    if out["destination"] == "duckdb":
        out["duckdb_path"] = os.path.abspath(os.path.expanduser(str(out["duckdb_path"])))
        stem = os.path.splitext(os.path.basename(out["duckdb_path"]))[0]
        if stem == out["dataset_name"]:
            raise CliError(
                f"the DuckDB file name {os.path.basename(out['duckdb_path'])} equals the dataset name"
                f" {out['dataset_name']}: DuckDB then cannot tell the database from the schema"
                " (hint: choose another --duckdb-path or --dataset)"
            )
        check_duckdb_memory_limit(str(out["duckdb_memory_limit"]))
    out["duckdb_direct_merge"] = as_bool(out["duckdb_direct_merge"], "duckdb_direct_merge")
    return out


def as_bool(value: Any, name: str) -> bool:
    """A boolean setting given as a bool or as text (env vars are text)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    raise CliError(f"{name} {value!r} is not true or false (hint: KLINK__{name.upper()}=false) [klink.{name}]")


def check_duckdb_memory_limit(value: str) -> None:
    """Refuse a memory limit DuckDB would not take, before any request is made."""
    import duckdb

    from pipelines.klink_pipeline import duckdb_settings

    settings = duckdb_settings(value)
    if settings is None:
        return
    try:
        duckdb.connect(config=settings).close()
    except duckdb.Error as exc:
        raise CliError(f"duckdb_memory_limit {value!r} is not a size DuckDB takes ({_last_line(exc)})"
                       " (hint: --duckdb-memory-limit 512MB, 2GB, 50% or none) [klink.duckdb_memory_limit]") from exc


class _OneLineRecords(logging.Filter):
    """dlt log records without tracebacks: one line each (the cause is in the last traceback line)."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if "\n" in text:
            lines = [line.strip() for line in text.splitlines() if line.strip()]
            head = lines[0].split("Traceback (most recent call last):")[0].rstrip()
            text = head if len(lines) == 1 else f"{head} {lines[-1]}"
            record.msg, record.args = text, None
        record.exc_info, record.exc_text = None, None
        return True


def setup_logging(level: Optional[str]) -> None:
    """Set dlt's log level (env RUNTIME__LOG_LEVEL) before any pipeline is created.

    Below DEBUG, dlt's records are cut to one line each: tracebacks only with --log-level DEBUG.
    """
    level = str(level or "WARNING").upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise CliError(f"unknown log level {level!r} (hint: use DEBUG, INFO, WARNING or ERROR)")
    os.environ["RUNTIME__LOG_LEVEL"] = level
    if level != "DEBUG":
        logging.getLogger("dlt").addFilter(_OneLineRecords())


class _DropAppendFallback(logging.Filter):
    """dlt warns once per table and file that merge falls back to append on plain filesystem tables."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Falling back to `append`")


def quiet_append_fallback() -> None:
    """Silence that expected, repeated warning (documented in the README) so cron stays quiet."""
    logging.getLogger("dlt").addFilter(_DropAppendFallback())


def configured_token() -> Optional[str]:
    """The API token from dlt config, to mask it in messages (None if unset)."""
    import dlt

    for key in ("sources.klink.api_token", "sources.api_token", "api_token"):
        try:
            value = dlt.secrets.get(key)
        except Exception:
            value = None
        if value:
            return str(value)
    return None


def mask(text: str, secrets: Iterable[Optional[str]] = ()) -> str:
    """`text` without any of `secrets` and without passwords in URLs (DSNs)."""
    from sources.klink import sanitize

    for secret in secrets:
        if secret and len(str(secret)) >= 4:
            text = sanitize(text, str(secret))
    return _URL_PASSWORD.sub(r"\1***@", text)


def _chain(exc: BaseException) -> List[BaseException]:
    """`exc` and its causes/contexts, outermost first, without loops."""
    seen: List[BaseException] = []
    while exc is not None and all(exc is not s for s in seen):
        seen.append(exc)
        inner = getattr(exc, "exception", None)  # dlt's PipelineStepFailed keeps it here too
        exc = exc.__cause__ or exc.__context__ or (inner if isinstance(inner, BaseException) else None)
    return seen


def _best_path(traces: Sequence[Any]) -> Optional[List[str]]:
    """The section path people write in config: the longest one, skipping `sources.klink.klink`."""
    paths = [list(t.sections) for t in traces if hasattr(t, "sections")]
    paths = [p for p in paths if not (len(p) >= 2 and p[-1] == p[-2])]
    return max(paths, key=len) if paths else None


def _missing_config(exc: Any) -> str:
    """`ConfigFieldMissingException` as `sources.klink.api_token (env SOURCES__KLINK__API_TOKEN)`."""
    parts = []
    for field, traces in exc.traces.items():
        nested = next((t for t in traces if hasattr(t, "traces")), None)
        if nested is not None and nested.traces:  # a whole credentials object is missing
            path = _best_path(next(iter(nested.traces.values())))
        else:
            path = _best_path(traces)
            path = None if path is None else [*path, field]
        path = path or [field]
        parts.append(f"{'.'.join(path)} (env {'__'.join(p.upper() for p in path)})")
    return ", ".join(parts) or exc.spec_name


def _last_line(message: Any) -> str:
    """The line that names the cause in a failed job's message (often a whole traceback)."""
    lines = [line.strip() for line in str(message or "").splitlines() if line.strip()]
    return (lines[-1] if lines else "")[:300]


def failed_jobs(exc_or_info: Any) -> List[Tuple[str, str]]:
    """(job, cause) of every failed load job in a LoadInfo, a PipelineStepFailed or its chain."""
    jobs: List[Tuple[str, str]] = []
    items = _chain(exc_or_info) if isinstance(exc_or_info, BaseException) else [exc_or_info]
    for item in items:
        if getattr(item, "job_id", None) and hasattr(item, "failed_message"):  # LoadClientJob* exceptions
            jobs.append((str(item.job_id), _last_line(item.failed_message)))
        info = getattr(item, "step_info", item)
        for package in getattr(info, "load_packages", None) or []:
            for job in package.jobs.get("failed_jobs", []):
                jobs.append((job.job_file_info.job_id(), _last_line(job.failed_message)))
    return list(dict.fromkeys(jobs))


def describe_error(exc: BaseException, command: str, secrets: Sequence[Optional[str]] = ()) -> Tuple[str, int]:
    """One line naming the cause and what to fix, and the exit code."""
    from dlt.common.configuration.exceptions import ConfigFieldMissingException

    from sources.klink import KlinkConfigError, KlinkError

    chain = _chain(exc)
    step = next((getattr(e, "step", None) for e in chain if type(e).__name__ == "PipelineStepFailed"), None)
    where = f" at step {step}" if step else ""
    klink = next((e for e in chain if isinstance(e, KlinkError)), None)
    if isinstance(exc, CliError):
        line, code = f"{command}: {exc}", exc.exit_code
    elif klink is not None:
        code = EXIT_CONFIG if isinstance(klink, KlinkConfigError) else EXIT_FAILED
        line = f"{command} failed: {klink}"
    elif (missing := next((e for e in chain if isinstance(e, ConfigFieldMissingException)), None)) is not None:
        code = EXIT_CONFIG
        line = f"{command} failed: missing setting {_missing_config(missing)} (hint: put it in .dlt/secrets.toml or the env var)"
    else:
        root = chain[-1]
        text = " ".join(str(root).split()) or type(root).__name__
        if len(text) > 300:
            text = text[:300] + "..."
        code = EXIT_FAILED
        line = f"{command} failed{where}: {type(root).__name__}: {text}{_hint_for(root, step)}"
    return mask(line, secrets), code


def _hint_for(root: BaseException, step: Optional[str]) -> str:
    name = type(root).__name__
    text = str(root)
    if name in ("OperationalError", "DestinationConnectionError") or "connection" in text.lower():
        return " (hint: check the destination credentials, e.g. destination.postgres.credentials" \
               " / env DESTINATION__POSTGRES__CREDENTIALS, and that the server is reachable)"
    if "lock" in text.lower() and ".duckdb" in text:
        return " (hint: another process has the DuckDB file open; close it or wait)"
    if step == "load":
        return (" (hint: a load job failed, see below; the package stays pending and is retried by the next"
                " sync: fix the destination first)")
    return ""


def report_error(exc: BaseException, command: str, secrets: Sequence[Optional[str]] = ()) -> int:
    """Print the one-line error (and failed jobs, one per line) to stderr; return the exit code."""
    line, code = describe_error(exc, command, secrets)
    print(line, file=sys.stderr)
    for job, cause in failed_jobs(exc):
        print(mask(f"  failed job {job}: {cause}", secrets), file=sys.stderr)
    return code


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], right: Sequence[int] = ()) -> str:
    """A plain fixed-width text table; columns in `right` are right-aligned."""
    cells = [[str(h) for h in headers]] + [["" if v is None else str(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def fmt(row: Sequence[str]) -> str:
        return "  ".join(v.rjust(w) if i in right else v.ljust(w) for i, (v, w) in enumerate(zip(row, widths, strict=True))).rstrip()

    lines = [fmt(cells[0]), fmt(["-" * w for w in widths])] + [fmt(r) for r in cells[1:]]
    return "\n".join(lines)


def progress_setting(value: Optional[str], flag: bool) -> Any:
    """dlt progress collector: the log collector on stderr when asked or when stderr is a terminal."""
    import dlt

    if flag or (value or "").lower() == "log" or (value is None and sys.stderr.isatty()):
        return dlt.progress.log(log_period=10.0, logger=sys.stderr, dump_system_stats=False)
    if value and value.lower() not in ("none", "log", "off", "false"):
        return value  # tqdm, enlighten, alive_progress: dlt's own names
    return None
