"""Shared helpers for end-to-end source tests: sync into a DuckDB file, read the API independently."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Dict, List, Optional

import duckdb
import requests

from pipelines.klink_pipeline import DATASET_NAME, SyncResult, make_pipeline, run_sync

PATHS = {
    "contacts": "/api/v1/contacts",
    "tickets": "/api/v1/tickets",
    "tags": "/api/v1/tags",
    "channels": "/api/v1/channels",
    "contact_fields": "/api/v1/contacts/fields",
    "ticket_fields": "/api/v1/tickets/fields",
    "contact_groups": "/api/v1/contact-groups",
    "agent_activities": "/api/v1/user-presence-status-log",
}


def sync(sb: Any, tmp_path: Path, name: str = "k", pipeline_options: Optional[Dict[str, Any]] = None,
         **options: Any) -> SyncResult:
    """Run the real source against sandbox `sb` into `tmp_path/<name>.duckdb`."""
    pipeline = make_pipeline(
        duckdb_path=str(tmp_path / f"{name}.duckdb"),
        pipelines_dir=str(tmp_path / f"{name}_pipelines"),
        pipeline_name=f"klink_{name}",
        **(pipeline_options or {}),
    )
    now = sb.now()
    options.setdefault("start_date", (now - dt.timedelta(days=31)).isoformat())
    options.setdefault("end_date", now.isoformat())
    options.setdefault("retry_backoff_factor", 0)
    return run_sync(pipeline, api_token=sb.token, base_url=sb.base_url, **options)


def query(tmp_path: Path, sql: str, name: str = "k") -> List[tuple]:
    """Run `sql` (tables unqualified, in the klink dataset) against the synced DuckDB file."""
    con = duckdb.connect(str(tmp_path / f"{name}.duckdb"), read_only=True)
    try:
        con.execute(f"SET schema '{DATASET_NAME}'")
        return con.execute(sql).fetchall()
    finally:
        con.close()


def scalar(tmp_path: Path, sql: str, name: str = "k") -> Any:
    return query(tmp_path, sql, name)[0][0]


def api_list(sb: Any, resource: str, params: Optional[Dict[str, Any]] = None,
             headers: Optional[Dict[str, str]] = None) -> List[Dict[str, Any]]:
    """Every record of a paged list, read directly over HTTP (independent of the source)."""
    out: List[Dict[str, Any]] = []
    page = 1
    auth = {"Authorization": f"Bearer {sb.token}", **(headers or {})}
    while True:
        body = requests.get(sb.base_url + PATHS.get(resource, resource), headers=auth,
                            params={**(params or {}), "page": page, "pageSize": 100}, timeout=30).json()
        container = body.get("cxLogs", body)
        out.extend(container["data"])
        if page >= container.get("lastPage", 1) or not container["data"]:
            return out
        page += 1
