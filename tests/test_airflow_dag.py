"""dags/klink_dag.py run by Airflow's own test runner (`dag.test()`) against the sandbox into DuckDB.

Airflow lives in its own venv (scripts/install-airflow.sh -> .venv-airflow) so that the core install
never pulls it in. This file runs in the main test suite: the sandbox is served from this process,
and each DAG run is one subprocess of the Airflow interpreter (which also keeps Airflow's and
PipelineTasksGroup's process-global settings out of the other tests). Its Airflow home and
metadata DB (SQLite) are in a temp dir; no scheduler, no webserver.

Which interpreter: $KLINK_AIRFLOW_PYTHON, else <repo>/.venv-airflow/bin/python, else this one if it
can import Airflow. None: skipped, except in CI (CI=true) or with KLINK_REQUIRE_AIRFLOW=1, where a
missing Airflow install is a failure rather than a silently skipped proof.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import duckdb
import pytest
import requests

ROOT = Path(__file__).resolve().parents[1]
DAGS = ROOT / "dags"
DAG_ID = "klink_sync"
DATASET = "klink_data"
RESULT_MARK = "KLINK_DAG_RESULT "
RUN_TIMEOUT = 600  # seconds for one DAG run; a healthy one takes ~30 s here

pytestmark = [pytest.mark.airflow, pytest.mark.heavy]

SIZES = {
    "contacts": 30,
    "tickets": 20,
    "cx_logs": 40,
    "agent_activities": 10,
    "tags": 7,
    "channels": 4,
    "contact_groups": 3,
}
# lists whose size the sandbox fixes; compared with what its API returns
PATHS = {
    "categories": "/api/v1/categories",
    "contact_fields": "/api/v1/contacts/fields",
    "ticket_fields": "/api/v1/tickets/fields",
}
LOAD_TASKS = {
    f"klink.klink_{name}"
    for name in (
        "contacts",
        "tickets",
        "tags",
        "channels",
        "categories",
        "cx_logs",
        "contact_fields",
        "ticket_fields",
        "contact_groups",
        "agent_activities",
    )
}

# Executed by the Airflow interpreter: load the dags folder the way Airflow does, run one DagRun with
# dag.test(), print the outcome as one JSON line.
RUNNER = """
import json, sys
from airflow.dag_processing.dagbag import DagBag
from airflow.sdk import timezone

args = json.loads(sys.argv[1])
bag = DagBag(dag_folder=args["dags"])
if bag.import_errors:
    print("KLINK_DAG_RESULT " + json.dumps({"import_errors": {k: str(v) for k, v in bag.import_errors.items()}}))
    sys.exit(3)
dag = bag.get_dag(args["dag_id"])
kwargs = {"run_conf": args["run_conf"]}
if args["logical_date"]:
    kwargs["logical_date"] = timezone.parse(args["logical_date"])
dr = dag.test(**kwargs)
print("KLINK_DAG_RESULT " + json.dumps({
    "state": str(dr.state),
    "data_interval": [str(dr.data_interval_start), str(dr.data_interval_end)],
    "tasks": {ti.task_id: str(ti.state) for ti in dr.get_task_instances()},
}))
"""


def _can_import_airflow(python: str) -> bool:
    with tempfile.TemporaryDirectory() as home:  # importing Airflow creates its home: keep it out of ~
        probe = subprocess.run(
            [python, "-c", "import airflow.sdk, dlt.helpers.airflow_helper"],
            capture_output=True,
            env={**os.environ, "AIRFLOW_HOME": home},
        )
    return probe.returncode == 0


def _airflow_python() -> str:
    explicit = os.environ.get("KLINK_AIRFLOW_PYTHON")
    candidates = [explicit] if explicit else [str(ROOT / ".venv-airflow" / "bin" / "python"), sys.executable]
    for python in candidates:
        if python and Path(python).exists() and _can_import_airflow(python):
            return python
    reason = (
        "Airflow is not installed: run scripts/install-airflow.sh (creates .venv-airflow) "
        "or set KLINK_AIRFLOW_PYTHON"
    )
    if os.environ.get("KLINK_REQUIRE_AIRFLOW") == "1" or os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def airflow(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The Airflow interpreter and an Airflow home with a migrated SQLite metadata DB."""
    python = _airflow_python()
    home = tmp_path_factory.mktemp("airflow_home")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AIRFLOW", "SOURCES__KLINK", "DESTINATION__", "KLINK_"))
    }
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
            "RUNTIME__DLTHUB_TELEMETRY": "false",
            "KLINK_DAG_RETRIES": "0",  # a failure fails the test now, not after minutes of backoff
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        }
    )
    migrate = subprocess.run(
        [python, "-m", "airflow", "db", "migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )
    assert migrate.returncode == 0, migrate.stdout[-3000:] + migrate.stderr[-3000:]
    return {"python": python, "env": env}


def run_dag(
    airflow: dict[str, Any],
    sb: Any,
    duckdb_path: Path,
    log_path: Path,
    logical_date: str | None = None,
    run_conf: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One DagRun of klink_sync against sandbox `sb` into `duckdb_path`; its output goes to `log_path`."""
    env = dict(airflow["env"])
    env.update(
        {
            "KLINK_DUCKDB_PATH": str(duckdb_path),
            # the credentials come in as an Airflow Connection (password = token, host = base URL)
            "AIRFLOW_CONN_KLINK_DEFAULT": json.dumps(
                {"conn_type": "http", "host": sb.base_url, "password": sb.token}
            ),
            # any other source setting as for `klink sync`: dlt reads it from the environment
            "SOURCES__KLINK__RETRY_BACKOFF_FACTOR": "0",
        }
    )
    args = {"dags": str(DAGS), "dag_id": DAG_ID, "logical_date": logical_date, "run_conf": run_conf or {}}
    with open(log_path, "w") as log:
        proc = subprocess.run(
            [airflow["python"], "-c", RUNNER, json.dumps(args)],
            env=env,
            cwd=str(log_path.parent),
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            timeout=RUN_TIMEOUT,
        )
        log.write(proc.stdout)
    lines = [line for line in proc.stdout.splitlines() if line.startswith(RESULT_MARK)]
    tail = log_path.read_text()[-6000:]
    assert proc.returncode == 0 and lines, f"DAG run failed (rc={proc.returncode}); log {log_path}:\n{tail}"
    result = json.loads(lines[-1][len(RESULT_MARK) :])
    assert result["state"] == "success", f"{result}\nlog {log_path}:\n{tail}"
    return result


def query(duckdb_path: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(duckdb_path), read_only=True)
    try:
        con.execute(f"SET schema '{DATASET}'")
        return con.execute(sql).fetchall()
    finally:
        con.close()


def count(duckdb_path: Path, table: str) -> int:
    return query(duckdb_path, f"SELECT COUNT(*) FROM {table}")[0][0]


def last_window_end(duckdb_path: Path) -> dt.datetime:
    """Where the saved cx_logs state says the next incremental read continues."""
    from dlt.common.versioned_state import decompress_state

    state = query(duckdb_path, "SELECT state FROM _dlt_pipeline_state ORDER BY version DESC LIMIT 1")[0][0]
    cx_logs = decompress_state(state)["sources"]["klink"]["resources"]["cx_logs"]
    return dt.datetime.fromisoformat(cx_logs["last_window_end"])


def api_get(sb: Any, path: str, **params: Any) -> dict[str, Any]:
    response = requests.get(
        sb.base_url + path,
        params=params,
        timeout=30,
        headers={"Authorization": f"Bearer {sb.token}", "x-client-timezone": "UTC"},
    )
    response.raise_for_status()
    return response.json()


def api_cx_logs_between(sb: Any, start: dt.datetime, end: dt.datetime) -> set[str]:
    """cx_log ids the API returns for one `selectedDate` range (read independently of the source)."""
    fmt = "%Y/%m/%d %H:%M:%S"
    selected = f"{start.strftime(fmt)}-{end.strftime(fmt)}"
    ids: set[str] = set()
    page = 1
    while True:
        body = api_get(sb, "/api/v1/cx-logs", selectedDate=selected, page=page, pageSize=100)["cxLogs"]
        ids.update(str(r["id"]) for r in body["data"])
        if page >= body.get("lastPage", 1) or not body["data"]:
            return ids
        page += 1


def tree_size(nodes: list[dict[str, Any]]) -> int:
    """Nodes in the category tree (children under `childCategoryList`), one row each once flattened."""
    return sum(1 + tree_size(n.get("childCategoryList") or []) for n in nodes)


def test_dag_loads_everything(airflow, sandbox_factory, tmp_path):
    """A manual run with dates (a backfill): every resource lands with the sandbox's exact counts."""
    sb = sandbox_factory(**SIZES)
    db = tmp_path / "klink.duckdb"
    now = sb.now()
    result = run_dag(
        airflow,
        sb,
        db,
        tmp_path / "run.log",
        run_conf={"start_date": (now - dt.timedelta(days=31)).isoformat(), "end_date": now.isoformat()},
    )

    tasks = result["tasks"]
    assert {t for t, state in tasks.items() if state == "success"} >= LOAD_TASKS | {
        "klink.apply_pending_soft_deletes",
        "klink.apply_soft_deletes",
    }
    # transforms run if the module exists, else the task is skipped (never failed)
    assert tasks["transforms"] in ("success", "skipped")

    for table, size in SIZES.items():
        assert count(db, table) == size, table
    for table, path in PATHS.items():
        body = api_get(sb, path, page=1, pageSize=100)
        expected = tree_size(body["data"]) if table == "categories" else body["total"]
        assert expected > 0
        assert count(db, table) == expected, table
    # one run-log row per resource, every full scan complete
    runs = dict(query(db, "SELECT resource, complete FROM _klink_runs"))
    assert set(runs) == {t.removeprefix("klink.klink_") for t in LOAD_TASKS}
    assert all(complete for resource, complete in runs.items() if resource != "cx_logs")


def test_scheduled_run_honours_data_interval_then_marks_deletions(airflow, sandbox_factory, tmp_path):
    """A scheduled run reads cx_logs of its data interval (plus the lookback), not the whole history;
    the next run marks rows deleted in the API after the loads."""
    sb = sandbox_factory(**SIZES)
    db = tmp_path / "klink.duckdb"
    now = sb.now()  # midnight UTC: the end of a daily interval
    result = run_dag(airflow, sb, db, tmp_path / "run1.log", logical_date=now.isoformat())

    start, end = now - dt.timedelta(days=1), now  # @daily: [previous midnight, midnight)
    assert [dt.datetime.fromisoformat(x) for x in result["data_interval"]] == [start, end]
    window = api_cx_logs_between(sb, start - dt.timedelta(days=3), end)  # the source's default lookback
    loaded = {r[0] for r in query(db, "SELECT CAST(id AS VARCHAR) FROM cx_logs")}
    assert loaded == window
    assert 0 < len(window) < SIZES["cx_logs"]  # the interval is a real restriction on this data
    # the full scans are not date-bound
    assert count(db, "contacts") == SIZES["contacts"]
    # the saved cx_logs position is the interval end
    assert last_window_end(db) == end

    # a day later two contacts are gone from the API; the next daily run marks them after its loads
    deleted = sb.mutate("contacts", delete=2)["deleted"]
    assert len(deleted) == 2
    sb.advance_clock(days=1)
    result = run_dag(
        airflow, sb, db, tmp_path / "run2.log", logical_date=(now + dt.timedelta(days=1)).isoformat()
    )
    assert result["tasks"]["klink.apply_soft_deletes"] == "success"
    marked = {
        r[0]
        for r in query(db, "SELECT CAST(id AS VARCHAR) FROM contacts WHERE _klink_deleted_at IS NOT NULL")
    }
    assert marked == {str(i) for i in deleted}
    assert count(db, "contacts") == SIZES["contacts"]  # soft: the rows stay, marked
    assert last_window_end(db) == end + dt.timedelta(days=1)
