"""The hand-written floor: requests + orjson + flatten + one bulk insert per table into DuckDB, no dlt.

What the cheapest correct-enough loader costs: pages fetched with the same bounded pool as the klink
source (4 threads; `lastPage` known after page 1), nested objects flattened into `a__b` columns,
lists into child tables keyed by the root id, one Arrow table per table and one
`CREATE TABLE AS SELECT` each. No timestamp parsing, no typing, no merge, no state.
"""

from __future__ import annotations

import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import duckdb
import orjson
import pyarrow as pa
import requests

from .harness import LIST_PATHS, PAGE_SIZE

Columns = Dict[str, List[Any]]


class TableBuilder:
    """Column lists for one table; a key first seen late is back-filled with NULLs."""

    def __init__(self) -> None:
        self.columns: Columns = {}
        self.rows = 0

    def add(self, row: Dict[str, Any]) -> None:
        n = self.rows
        cols = self.columns
        for key, value in row.items():
            col = cols.get(key)
            if col is None:
                col = cols[key] = [None] * n
            col.append(value)
        self.rows = n = n + 1
        for col in cols.values():
            if len(col) < n:
                col.append(None)

    def arrow(self) -> pa.Table:
        arrays = {}
        for key, values in self.columns.items():
            try:
                arrays[key] = pa.array(values)
            except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed types: keep as JSON text
                arrays[key] = pa.array([None if v is None else orjson.dumps(v).decode() for v in values])
        return pa.table(arrays)


def flatten(record: Dict[str, Any], table: str, root_id: Any, tables: Dict[str, TableBuilder],
            depth: int = 0) -> Dict[str, Any]:
    """The parent row of `record`; nested lists go to `<table>__<key>` child tables (2 levels, then JSON)."""
    row: Dict[str, Any] = {}

    def walk(obj: Dict[str, Any], prefix: str) -> None:
        for key, value in obj.items():
            name = prefix + key
            if isinstance(value, dict):
                walk(value, name + "__")
            elif isinstance(value, list):
                if depth >= 1:
                    row[name] = orjson.dumps(value).decode()
                    continue
                child = tables.setdefault(f"{table}__{name}", TableBuilder())
                for idx, item in enumerate(value):
                    if isinstance(item, dict):
                        sub = flatten(item, f"{table}__{name}", root_id, tables, depth + 1)
                    else:
                        sub = {"value": item}
                    sub["_root_id"] = root_id
                    sub["_idx"] = idx
                    child.add(sub)
            else:
                row[name] = value

    walk(record, "")
    return row


class Pace:
    """At most `per_minute` request starts per minute, spread evenly (None: no limit)."""

    def __init__(self, per_minute: Optional[float]) -> None:
        self.interval = 60.0 / per_minute if per_minute else 0.0
        self.next = 0.0
        self.lock = threading.Lock()

    def wait(self) -> None:
        if not self.interval:
            return
        with self.lock:
            now = time.monotonic()
            slot = max(now, self.next)
            self.next = slot + self.interval
        time.sleep(max(0.0, slot - now))


def fetch_list(session: requests.Session, base_url: str, resource: str, params: Dict[str, Any],
               headers: Dict[str, str], workers: int, pace: Pace) -> Iterator[List[Dict[str, Any]]]:
    """Every page of one list: page 1, then 2..lastPage through a bounded pool, in order."""
    url = base_url + LIST_PATHS[resource]

    def get(page: int) -> Dict[str, Any]:
        pace.wait()
        r = session.get(url, params={**params, "page": page, "pageSize": PAGE_SIZE}, headers=headers, timeout=60)
        r.raise_for_status()
        body = orjson.loads(r.content)
        return body.get("cxLogs", body)

    first = get(1)
    yield first["data"]
    last = first.get("lastPage") or math.ceil(first["total"] / PAGE_SIZE)
    with ThreadPoolExecutor(workers) as pool:
        for body in pool.map(get, range(2, last + 1)):
            yield body["data"]


def run(base_url: str, token: str, workdir: Path, cx_window: str, workers: int = 4,
        requests_per_minute: Optional[float] = None, **_: Any) -> Dict[str, Any]:
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_connections=workers, pool_maxsize=workers)
    session.mount("http://", adapter)
    session.headers["Authorization"] = f"Bearer {token}"
    started = time.perf_counter()
    tables: Dict[str, TableBuilder] = {}
    pace = Pace(requests_per_minute)
    lists: Dict[str, Optional[Dict[str, Any]]] = {
        "contacts": {}, "tickets": {}, "cx_logs": {"selectedDate": cx_window},
    }
    for resource, params in lists.items():
        headers = {"x-client-timezone": "UTC"} if resource == "cx_logs" else {}
        parent = tables.setdefault(resource, TableBuilder())
        for records in fetch_list(session, base_url, resource, params or {}, headers, workers, pace):
            for record in records:
                parent.add(flatten(record, resource, record.get("id"), tables))
    extracted = time.perf_counter()
    con = duckdb.connect(str(workdir / "floor.duckdb"))
    rows = {}
    for name, builder in tables.items():
        if not builder.rows:
            continue
        arrow = builder.arrow()
        con.register("_arrow", arrow)
        con.execute(f'CREATE OR REPLACE TABLE "{name}" AS SELECT * FROM _arrow')
        con.unregister("_arrow")
        rows[name] = builder.rows
    parents = {t: con.execute(f'SELECT COUNT(DISTINCT id) FROM "{t}"').fetchone()[0] for t in lists}
    con.close()
    return {"rows_written": rows, "parents": parents,
            "phases": {"extract": extracted - started, "load": time.perf_counter() - extracted}}
