"""`klink status`: the last load, rows per table (live / deleted), each resource's incremental position."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from typing import Any, Dict, List, Optional

from pipelines.cli_common import (
    EXIT_FAILED,
    EXIT_OK,
    CliError,
    add_runner_arguments,
    report_error,
    runner_settings,
    setup_logging,
    table,
)
from pipelines.cli_sync import destination_label


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_runner_arguments(parser)
    a = parser.add_argument
    a("--demo", action="store_true", help="the `klink demo` pipeline (./klink_demo.duckdb) instead")
    a("--json", action="store_true", help="print one JSON object instead of tables")
    a("--log-level", help="dlt log level (default WARNING)")


def _query(client: Any, sql: str) -> List[tuple]:
    with client.execute_query(sql) as cur:
        return [tuple(r) for r in cur.fetchall()]


def _when(value: Any) -> Optional[str]:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC") if value.tzinfo else str(value)
    return None if value is None else str(value)


def destination_state(pipeline: Any) -> Optional[Dict[str, Any]]:
    """The pipeline state stored with the data (what the next sync continues from); None if unreadable.

    Preferred over the local working folder, which may belong to another file or dataset.
    """
    from dlt.pipeline.state_sync import load_pipeline_state_from_destination

    try:
        with pipeline.destination_client() as client:
            return load_pipeline_state_from_destination(pipeline.pipeline_name, client)
    except Exception:
        return None


def collect(pipeline: Any) -> Dict[str, Any]:
    """Everything `klink status` shows, as plain data."""
    from sources.klink.changes import RUNS_TABLE

    schema = pipeline.default_schema
    out: Dict[str, Any] = {"last_load": None, "tables": [], "resources": []}
    with pipeline.sql_client() as client:
        q = client.make_qualified_table_name
        loads = _query(client, f"SELECT load_id, status, inserted_at FROM {q('_dlt_loads')}"
                               " ORDER BY load_id DESC LIMIT 1")
        if loads:
            load_id, status, inserted = loads[0]
            out["last_load"] = {"load_id": load_id, "status": "loaded" if status == 0 else f"status {status}",
                                "at": _when(inserted)}
        for name in sorted(t["name"] for t in schema.data_tables()):
            columns = schema.tables[name].get("columns", {})
            if "_klink_deleted_at" in columns:
                total, deleted = _query(client, f"SELECT COUNT(*), COUNT(_klink_deleted_at) FROM {q(name)}")[0]
            else:
                total, deleted = _query(client, f"SELECT COUNT(*) FROM {q(name)}")[0][0], None
            out["tables"].append({"table": name, "rows": int(total),
                                  "live": None if deleted is None else int(total) - int(deleted),
                                  "deleted": None if deleted is None else int(deleted)})
        if RUNS_TABLE in schema.tables:
            rows = _query(client, (
                "SELECT resource, finished_at, complete, new, changed, deleted, records_seen, problems FROM ("
                " SELECT r.*, ROW_NUMBER() OVER (PARTITION BY resource ORDER BY finished_at DESC) AS rn"
                f" FROM {q(RUNS_TABLE)} r) x WHERE rn = 1 ORDER BY resource"))
            for resource, finished, complete, new, changed, deleted, seen, problems in rows:
                out["resources"].append({"resource": resource, "last_run": _when(finished), "complete": bool(complete),
                                         "seen": seen, "new": new, "changed": changed, "deleted": deleted,
                                         "problems": problems})
    state = (destination_state(pipeline) or pipeline.state).get("sources", {}).get("klink", {}).get("resources", {})
    for item in out["resources"]:
        if item["resource"] == "cx_logs":
            item["position"] = f"last_window_end {state.get('cx_logs', {}).get('last_window_end') or '-'}"
        else:
            item["position"] = "full scan every run" + ("" if item["complete"] else "; last scan incomplete")
    return out


def _complete(run: Dict[str, Any]) -> str:
    if run["resource"] == "cx_logs":
        return "-"  # read in date windows: never a complete scan, no deletion detection
    return "yes" if run["complete"] else "no"


def print_status(info: Dict[str, Any], label: str) -> None:
    print(f"klink status: {label}")
    load = info["last_load"]
    print("last load: " + (f"{load['load_id']} at {load['at']} ({load['status']})" if load else "none"))
    print()
    rows = [[t["table"], t["rows"], "" if t["live"] is None else t["live"], "" if t["deleted"] is None else t["deleted"]]
            for t in info["tables"]]
    print(table(["table", "rows", "live", "deleted"], rows, right=(1, 2, 3)))
    if info["resources"]:
        print()
        rows = [[r["resource"], r["last_run"], _complete(r), r["seen"], r["new"], r["changed"],
                 r["deleted"], r["position"]] for r in info["resources"]]
        print(table(["resource", "last run", "complete", "seen", "new", "changed", "deleted", "incremental position"],
                    rows, right=(3, 4, 5, 6)))
        for r in info["resources"]:
            if r.get("problems"):
                print(f"{r['resource']}: problems in the last run: {r['problems']}")


def run(args: argparse.Namespace) -> int:
    import dlt

    try:
        if args.demo:
            from pipelines.cli_demo import DEMO_DATASET, DEMO_DIR, DEMO_FILE, demo_pipeline_name

            args.duckdb_path = args.duckdb_path or DEMO_FILE
            args.destination, args.dataset_name = "duckdb", DEMO_DATASET
            args.pipeline_name = args.pipeline_name or demo_pipeline_name(args.duckdb_path)
            args.pipelines_dir = args.pipelines_dir or os.path.join(
                os.path.dirname(os.path.abspath(args.duckdb_path)), DEMO_DIR, "pipelines")
        settings = runner_settings(args)
        setup_logging(args.log_level or settings["log_level"])
        label = destination_label(settings)
        if settings["destination"] == "duckdb" and not os.path.exists(settings["duckdb_path"]):
            hint = "klink demo" if args.demo else "klink sync"
            raise CliError(f"nothing loaded yet: {settings['duckdb_path']} does not exist (hint: run `{hint}`"
                           " here, or pass --duckdb-path)", exit_code=EXIT_FAILED)
        destination: Any = settings["destination"]
        if destination == "duckdb":
            destination = dlt.destinations.duckdb(settings["duckdb_path"])
        kwargs = {"pipelines_dir": settings["pipelines_dir"]} if settings["pipelines_dir"] else {}
        from dlt.pipeline.exceptions import CannotRestorePipelineException

        try:
            pipeline = dlt.attach(pipeline_name=settings["pipeline_name"], destination=destination,
                                  dataset_name=settings["dataset_name"], **kwargs)
        except CannotRestorePipelineException:
            raise CliError(f"nothing loaded yet into {label} by pipeline {settings['pipeline_name']} (hint: run"
                           " `klink sync` with the same --destination, --dataset and --pipeline-name)",
                           exit_code=EXIT_FAILED) from None
        if not pipeline.default_schema_name:
            raise CliError(f"nothing loaded yet into {label} (hint: run `klink sync`)", exit_code=EXIT_FAILED)
        info = collect(pipeline)
    except BrokenPipeError:
        raise
    except Exception as exc:
        return report_error(exc, "klink status")
    if args.json:
        json.dump({"destination": label, **info}, sys.stdout, indent=2, default=str)
        print()
    else:
        print_status(info, label)
    return EXIT_OK if info["last_load"] else EXIT_FAILED
