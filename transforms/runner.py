"""Build the models: render each template, then drop and recreate every table in one transaction.

Models are tables in the `<dataset>_models` schema (e.g. `klink_data_models`), next to the loaded
dataset. A build is idempotent: the same loaded data and `as_of` give the same tables. Readers see
either the previous or the new set of tables (one transaction, DuckDB and PostgreSQL both have
transactional DDL).
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Set

from dlt.common import logger
from dlt.common.normalizers.naming.snake_case import NamingConvention

from .registry import MODELS, Model, topological_order
from .render import RenderContext, render

MODELS_DIR = Path(__file__).parent / "models"
MODELS_SUFFIX = "_models"
TESTED_DESTINATIONS = ("duckdb", "postgres")
FIELD_TABLES = {"contacts": "contact_fields", "tickets": "ticket_fields"}


@dataclass
class BuildResult:
    """What one build did: the models built (in order) with row counts, the models skipped and why."""

    models_dataset: str
    built: Dict[str, int] = field(default_factory=dict)
    skipped: Dict[str, str] = field(default_factory=dict)
    as_of: Optional[dt.datetime] = None
    timezone: str = "UTC"
    seconds: float = 0.0


def reporting_timezone(name: Optional[str] = None) -> str:
    """`name`, else `sources.klink.timezone` from dlt config (the tenant zone), else UTC; must be an IANA zone."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    if not name:
        import dlt

        try:
            name = dlt.config.get("sources.klink.timezone")
        except Exception:
            name = None
    name = str(name or "UTC")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (hint: an IANA name like Asia/Bangkok or UTC)") from None
    return name


def models_dataset_name(dataset_name: str) -> str:
    return dataset_name + MODELS_SUFFIX


def model_sql(name: str) -> str:
    return (MODELS_DIR / f"{name}.sql").read_text(encoding="utf-8")


def read_columns(client: Any) -> Dict[str, Dict[str, str]]:
    """Every table of the client's current dataset -> its columns (in order) and data types."""
    catalog = client.catalog_name(quote=False)
    schema = client.make_qualified_table_name_path(None, quote=False)[-1]
    query = ("SELECT table_name, column_name, data_type FROM information_schema.columns "
             "WHERE table_schema = %s")
    args: List[Any] = [schema]
    if catalog is not None:
        query += " AND table_catalog = %s"
        args.append(catalog)
    rows = client.execute_sql(query + " ORDER BY table_name, ordinal_position", *args) or []
    out: Dict[str, Dict[str, str]] = {}
    for table, column, data_type in rows:
        out.setdefault(table, {})[column] = str(data_type).lower()
    return out


def default_fields(client: Any, raw: Dict[str, Dict[str, str]]) -> Dict[str, Set[str]]:
    """Form fields marked is_default (built-in fields like name/email), normalized like dlt column names."""
    naming = NamingConvention()
    out: Dict[str, Set[str]] = {}
    for table, fields_table in FIELD_TABLES.items():
        columns = raw.get(fields_table, {})
        if "system_name" not in columns or "is_default" not in columns:
            continue
        rows = client.execute_sql(
            f"SELECT system_name FROM {client.make_qualified_table_name(fields_table)} WHERE is_default"
        ) or []
        out[table] = {naming.normalize_identifier(r[0]) for r in rows if r[0]}
    return out


def plan(select: Optional[Sequence[str]], raw: Dict[str, Dict[str, str]]) -> tuple[List[Model], Dict[str, str]]:
    """The models to build, in order, and those skipped because a loaded table they need is missing."""
    build: List[Model] = []
    skipped: Dict[str, str] = {}
    for name in topological_order(MODELS, list(select) if select else None):
        model = MODELS[name]
        missing = [s for s in model.sources if s not in raw]
        blocked = [d for d in model.depends_on if d in skipped]
        if missing:
            skipped[name] = f"loaded table(s) missing: {', '.join(missing)}"
        elif blocked:
            skipped[name] = f"depends on skipped model(s): {', '.join(blocked)}"
        else:
            build.append(model)
    return build, skipped


def build_models(
    client: Any,
    select: Optional[Sequence[str]] = None,
    as_of: Optional[dt.datetime] = None,
    timezone: Optional[str] = None,
    models_dataset: Optional[str] = None,
) -> BuildResult:
    """Build the models with an open dlt sql client whose dataset is the loaded data."""
    started = time.monotonic()
    timezone = reporting_timezone(timezone)
    as_of = as_of or dt.datetime.now(dt.timezone.utc)
    if as_of.tzinfo is None:
        as_of = as_of.replace(tzinfo=dt.timezone.utc)
    raw = read_columns(client)
    dataset = client.make_qualified_table_name_path(None, quote=False)[-1]
    target = models_dataset or models_dataset_name(dataset)
    result = BuildResult(models_dataset=target, as_of=as_of, timezone=timezone)
    models, result.skipped = plan(select, raw)
    for name, reason in result.skipped.items():
        logger.info(f"klink transforms: skipping {name}: {reason}")
    if not models:
        result.seconds = time.monotonic() - started
        return result
    with client.with_alternative_dataset_name(target):
        qualified_models = {m: client.make_qualified_table_name(m) for m in MODELS}
    ctx = RenderContext(
        raw_columns=raw,
        qualify_raw=client.make_qualified_table_name,
        qualify_model=lambda name: qualified_models[name],
        quote=client.escape_column_name,
        as_of=as_of,
        timezone=timezone,
        default_fields=default_fields(client, raw),
    )
    statements = [(m.name, render(m, model_sql(m.name), ctx)) for m in models]
    with client.with_alternative_dataset_name(target):
        if not client.has_dataset():
            client.create_dataset()
    with client.begin_transaction():
        for model in reversed(models):  # dependants first, so no table is dropped under another's feet
            client.execute_sql(f"DROP TABLE IF EXISTS {qualified_models[model.name]}")
        for name, sql in statements:
            client.execute_sql(f"CREATE TABLE {qualified_models[name]} AS\n{sql}")
            count = client.execute_sql(f"SELECT COUNT(*) FROM {qualified_models[name]}")
            result.built[name] = int(count[0][0])
    result.seconds = time.monotonic() - started
    logger.info(f"klink transforms: built {result.built} in {target} ({result.seconds:.1f}s)")
    return result


def run_transforms(
    pipeline: Any,
    select: Optional[Sequence[str]] = None,
    as_of: Optional[dt.datetime] = None,
    timezone: Optional[str] = None,
    models_dataset: Optional[str] = None,
) -> BuildResult:
    """Build the analytics models from the pipeline's loaded tables (see docs/models.md).

    select: model names to rebuild (plus everything downstream of them); default all.
    as_of: reference time for ticket ages and the backlog's last day; default now.
    timezone: IANA zone that defines a "day" in dates and daily aggregates; default the configured
        `sources.klink.timezone`, else UTC.
    models_dataset: schema for the models; default `<dataset>_models`.
    """
    kind = str(getattr(pipeline.destination, "destination_type", "")).rsplit(".", 1)[-1]
    if kind not in TESTED_DESTINATIONS:
        if kind in ("filesystem", "fs"):
            raise ValueError("the models need a SQL warehouse: the filesystem destination's SQL client is an "
                             "in-memory DuckDB over the files, so built tables would vanish (load into duckdb or "
                             "postgres to use the models)")
        logger.warning(f"klink transforms: destination {kind!r} is untested (tested: duckdb, postgres)")
    with pipeline.sql_client() as client:
        return build_models(client, select=select, as_of=as_of, timezone=timezone, models_dataset=models_dataset)
