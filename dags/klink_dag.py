"""Airflow DAG `klink_sync`: the klink.cloud sync, one task per resource, then deletions, then transforms.

    klink.apply_pending_soft_deletes >> klink.klink_contacts >> klink.klink_tickets >> ... (one task
    per resource, in source order) >> klink.apply_soft_deletes >> transforms

Needs Airflow 3.3+ with this project installed in the same environment (`pip install 'klink-dlt[airflow]'`
or `scripts/install-airflow.sh`); copy or symlink this file into Airflow's dags folder. Setup, the
Variables/Connection/env it reads and the reasons for the choices below: docs/scheduling.md.

Why the resource tasks run one after another ("serialize", never "parallel"/"parallel-isolated"):
DuckDB allows one writer per file, so two tasks loading into the same klink.duckdb at once would
fail (or, on a multi-worker executor, race). Serial tasks also keep dlt's pipeline state simple:
each task restores the state (cx_logs windows, schemas) from the destination, loads, and stores it
back before the next one starts. A failed resource is retried on its own (Airflow retries the
task), without re-reading the resources that already landed.

Why the tasks are built with `PipelineTasksGroup.run` and a source *factory* rather than
`add_run(source, decompose="serialize")`: `add_run` needs the `klink_source(...)` object when the
DAG file is parsed, which would resolve the API token at parse time (in the scheduler/DAG
processor, on every parse) and freeze the cx_logs dates before any run exists. Here the DAG file
only decides the split - with dlt's own decomposition of the source into independent components
(`DltSource.decompose("scc")`, the same call `decompose="serialize"` makes), built with a
placeholder token that never reaches the network - and each task builds the real source when it
runs, with the credentials of that moment and the run's data interval. Everything else (isolated
working folder per task, state restored from the destination, retrying the load step, wiping the
local files afterwards) is dlt's helper as is.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import (
    Connection,
    CronDataIntervalTimetable,
    Param,
    Variable,
    chain,
    dag,
    get_current_context,
    task,
)
from airflow.sdk.exceptions import AirflowNotFoundException, AirflowSkipException
from dlt.helpers.airflow_helper import DEFAULT_RETRY_BACKOFF, PipelineTasksGroup

from pipelines.klink_pipeline import DATASET_NAME, PIPELINE_NAME, make_pipeline
from sources.klink import ALL_RESOURCES, klink_source
from sources.klink.deletes import apply_soft_deletes

log = logging.getLogger(__name__)

# --- settings read when the DAG file is parsed: environment only (no Variable/DB access at parse) ---
DAG_ID = os.environ.get("KLINK_DAG_ID", "klink_sync")
SCHEDULE = os.environ.get("KLINK_DAG_SCHEDULE", "@daily")  # a cron expression, preset, or "none"
RETRIES = int(os.environ.get("KLINK_DAG_RETRIES", "2"))
DESTINATION = os.environ.get("KLINK_DESTINATION", "duckdb")  # any dlt destination, e.g. "postgres"
DATASET = os.environ.get("KLINK_DATASET", DATASET_NAME)
# absolute on purpose: PipelineTasksGroup points dlt's local dir at a per-task temp folder, so a
# relative DuckDB path would land in a folder that is wiped after every task
DUCKDB_PATH = os.path.abspath(
    os.path.expanduser(
        os.environ.get("KLINK_DUCKDB_PATH")
        or os.path.join(os.environ.get("AIRFLOW_HOME", "~/airflow"), "klink.duckdb")
    )
)
CONN_ID = os.environ.get("KLINK_CONN_ID", "klink_default")
DEFAULT_LOOKBACK_DAYS = 3.0  # the source's default cx_logs_lookback_days

PLACEHOLDER_TOKEN = "dag-parse-placeholder"  # only to let the source describe its resources


# --- run-time settings ------------------------------------------------------------------------------


def klink_credentials() -> dict[str, str]:
    """`api_token`/`base_url` from the Airflow Connection, else Airflow Variables; {} leaves them to dlt.

    1. Connection `klink_default` (or $KLINK_CONN_ID): password = API token (or extra "api_token");
       extra "base_url", else scheme://host[:port] built from the connection (https by default).
    2. Variables `klink_api_token` and `klink_base_url`.
    3. Whatever is missing is resolved by dlt as for `klink sync`: env SOURCES__KLINK__API_TOKEN /
       SOURCES__KLINK__BASE_URL, or <dags folder>/.dlt/secrets.toml.
    Airflow's own env forms work for 1 and 2 too: AIRFLOW_CONN_KLINK_DEFAULT, AIRFLOW_VAR_KLINK_API_TOKEN.
    """
    token = base_url = None
    try:
        conn = Connection.get(CONN_ID)
    except AirflowNotFoundException:
        conn = None
    if conn is not None:
        extra = conn.extra_dejson or {}
        token = conn.password or extra.get("api_token")
        base_url = extra.get("base_url")
        if not base_url and conn.host:
            if "://" in conn.host:
                base_url = conn.host
            else:
                base_url = f"{conn.schema or 'https'}://{conn.host}" + (f":{conn.port}" if conn.port else "")
    token = token or Variable.get("klink_api_token", default=None)
    base_url = base_url or Variable.get("klink_base_url", default=None)
    creds = {}
    if token:
        creds["api_token"] = token
    if base_url:
        creds["base_url"] = base_url.rstrip("/")
    return creds


def cx_logs_dates(context: Any) -> dict[str, str]:
    """`start_date`/`end_date` for the cx_logs windows of this run ({} = the source's own incremental).

    * Run parameters `start_date`/`end_date` (trigger with config) win, e.g. the first backfill.
    * A scheduled run (or backfill) reads its data interval, widened at the start by the source's
      cx_logs lookback (late edits to recent logs are re-read, as in `klink sync`):
      [data_interval_start - lookback, data_interval_end]. Reruns of an old interval read that
      interval again and never move the saved cx_logs position backwards.
    * A run without a meaningful interval (schedule "none", or triggered without a logical date:
      start == end or missing): the source continues from where the last run stopped, exactly like
      `klink sync`. A manual trigger *with* a logical date gets the last complete interval.
    * A run with both dates is bounded: the source reads exactly [start_date, end_date] whatever
      its saved position, so clearing an old run re-reads that interval (rows merge by id).
    """
    params = context.get("params") or {}
    if params.get("start_date") or params.get("end_date"):
        return {k: str(params[k]) for k in ("start_date", "end_date") if params.get(k)}
    start, end = context.get("data_interval_start"), context.get("data_interval_end")
    if start is None or end is None or end <= start:
        return {}
    import dlt

    lookback = dlt.config.get("sources.klink.cx_logs_lookback_days", float)
    lookback = DEFAULT_LOOKBACK_DAYS if lookback is None else float(lookback)
    return {"start_date": (start - timedelta(days=lookback)).isoformat(), "end_date": end.isoformat()}


class KlinkSourceFactory:
    """Callable data for `PipelineTasksGroup.run`: builds the source for `resources` when the task runs."""

    def __init__(self, resources: list[str]) -> None:
        self.resources = list(resources)
        self.task_name = "klink_" + "-".join(self.resources[:4])
        if len(self.resources) > 4:
            self.task_name += f"-{len(self.resources) - 4}-more"

    def __call__(self) -> Any:
        context = get_current_context()
        kwargs: dict[str, Any] = dict(klink_credentials())
        if "cx_logs" in self.resources:
            kwargs.update(cx_logs_dates(context))
        shown = {k: v for k, v in kwargs.items() if k != "api_token"}
        log.info("klink: building source for %s with %s", self.resources, shown)
        return klink_source(resources=self.resources, **kwargs)


class KlinkTasksGroup(PipelineTasksGroup):
    """dlt's task group; names a task after the resources of its factory (dlt would use the pipeline name)."""

    def _task_name(self, pipeline: Any, data: Any) -> str:
        return getattr(data, "task_name", None) or super()._task_name(pipeline, data)


def resource_components() -> list[list[str]]:
    """The resources split into independent groups by dlt (one group per task), in source order.

    Every klink resource is standalone today, so this is one resource per task; if a transformer
    is ever added, dlt keeps it in the task of the resource it reads from.
    """
    try:
        probe = klink_source(api_token=PLACEHOLDER_TOKEN)  # no request is made by building it
    except Exception as exc:  # a config error: let the run report it, keep the DAG importable
        log.warning("klink: could not decompose the source (%s); one task for all resources", exc)
        return [list(ALL_RESOURCES)]
    return [list(component.selected_resources) for component in probe.decompose("scc")]


@contextmanager
def restored_pipeline() -> Iterator[Any]:
    """The klink pipeline in a scratch folder, state and schemas restored from the destination."""
    scratch = tempfile.mkdtemp(prefix="klink_airflow_")
    try:
        pipeline = make_pipeline(
            destination=DESTINATION, dataset_name=DATASET, duckdb_path=DUCKDB_PATH, pipelines_dir=scratch
        )
        pipeline.sync_destination()
        yield pipeline
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def mark_soft_deletes() -> dict[str, int]:
    with restored_pipeline() as pipeline:
        marked = apply_soft_deletes(pipeline)
    log.info("klink: rows marked deleted: %s", marked or "none")
    return marked


# --- the DAG ----------------------------------------------------------------------------------------


@dag(
    dag_id=DAG_ID,
    # a data-interval timetable, explicitly: Airflow 3 turns a plain cron string into a trigger
    # timetable whose runs have an empty interval (start == end), which would leave nothing to honour
    schedule=None if SCHEDULE.lower() == "none" else CronDataIntervalTimetable(SCHEDULE, timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,  # enable (or `airflow backfill create`) to load history interval by interval
    max_active_runs=1,  # one writer: runs of this DAG never overlap (the cron lock's job for `klink sync`)
    default_args={
        "owner": "klink",
        "retries": RETRIES,
        "retry_delay": timedelta(minutes=2),
        "retry_exponential_backoff": 2.0,  # 2 min, 4 min, ...; the API client already retries each request
        "max_retry_delay": timedelta(minutes=30),
    },
    params={
        "start_date": Param(
            None, type=["null", "string"], description="cx_logs from (ISO date), manual backfill"
        ),
        "end_date": Param(None, type=["null", "string"], description="cx_logs until (ISO date)"),
    },
    tags=["klink", "dlt"],
    doc_md=__doc__,
)
def klink_sync() -> None:
    # the group must exist before the pipeline: it points dlt's data dir at a fresh per-worker folder
    group = KlinkTasksGroup(
        PIPELINE_NAME,
        use_data_folder=False,
        wipe_local_data=True,
        retry_policy=DEFAULT_RETRY_BACKOFF,  # in-task retries of the load step only (extract is not redone)
        retry_pipeline_steps=("load",),
        abort_task_if_any_job_failed=True,
    )
    pipeline = make_pipeline(destination=DESTINATION, dataset_name=DATASET, duckdb_path=DUCKDB_PATH)

    with group:
        # the previous run may have loaded but died before marking deletions: mark them before the
        # loads read the live rows for change detection (as `run_sync` does)
        pending = task(task_id="apply_pending_soft_deletes")(mark_soft_deletes)()
        loads = [group.run(pipeline, KlinkSourceFactory(names)) for names in resource_components()]
        # after every load: a complete scan of a resource recorded which rows are gone
        marked = task(task_id="apply_soft_deletes")(mark_soft_deletes)()
        chain(pending, *loads, marked)

    @task(task_id="transforms")
    def transforms() -> None:
        try:
            from transforms import run_transforms
        except ImportError as exc:
            if exc.name not in ("transforms", None):  # a broken transforms module is an error, not a skip
                raise
            log.info("klink: transforms.run_transforms not available (%s); skipping the transforms", exc)
            raise AirflowSkipException("transforms not installed") from exc
        with restored_pipeline() as p:
            result = run_transforms(p)
        log.info("klink: transforms done: %s", result)

    marked >> transforms()


DAG = klink_sync()
