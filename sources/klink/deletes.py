"""Post-load steps: mark deletions (`_klink_deleted_at`) and drop child rows of replaced parents.

The source records each deletion in `_klink_deletions` inside the same load package as the data, so
it is loaded atomically with everything else. This post-load step copies the timestamp onto the
parent row; dlt has no partial-row update, so this is one SQL UPDATE per table. It is idempotent
and re-run at the start of every sync, so a crash between load and this step loses nothing. A row
re-created after its deletion (a later `_dlt_load_id`) is never marked.
"""

from __future__ import annotations

from typing import Any, Dict, List

from dlt.common import logger

from .changes import DELETIONS_TABLE
from .settings import ENDPOINTS


def apply_soft_deletes(pipeline: Any) -> Dict[str, int]:
    """Mark pending deletions on every table; returns rows marked per table (empty if none or no SQL)."""
    schema_tables = pipeline.default_schema.tables if pipeline.default_schema_name else {}
    if DELETIONS_TABLE not in schema_tables:
        return {}
    targets = [
        name for name, spec in ENDPOINTS.items()
        if spec["detect_deletes"] and "_klink_deleted_at" in schema_tables.get(name, {}).get("columns", {})
    ]
    marked: Dict[str, int] = {}
    try:
        with pipeline.sql_client() as client:
            deletions = client.make_qualified_table_name(DELETIONS_TABLE)
            for name in targets:
                table = client.make_qualified_table_name(name)
                match = (
                    f"FROM {deletions} d WHERE d.table_name = '{name}' AND d.id = CAST({table}.id AS VARCHAR)"
                    f" AND {table}._klink_deleted_at IS NULL AND {table}._dlt_load_id <= d._dlt_load_id"
                )
                count = client.execute_sql(f"SELECT COUNT(*) FROM {table} WHERE EXISTS (SELECT 1 {match})")
                pending = int(count[0][0]) if count else 0
                if pending:
                    client.execute_sql(
                        f"UPDATE {table} SET _klink_deleted_at = d.deleted_at {match}"
                    )
                    marked[name] = pending
    except Exception as exc:  # filesystem destination or tables not created yet
        logger.info(f"klink: soft deletes not applied in place ({type(exc).__name__}: {exc}); "
                    f"they remain recorded in {DELETIONS_TABLE}")
        return marked
    if marked:
        logger.info(f"klink: marked deleted: {marked}")
    return marked


def child_tables(pipeline: Any, client: Any) -> Dict[str, List[str]]:
    """root table -> its child tables (`<root>__*` with `_dlt_root_id`) in the destination dataset,
    so children another pipeline wrote (the webhook receiver's, the sync's) are included."""
    try:
        rows = client.execute_sql(
            "SELECT table_name FROM information_schema.columns WHERE table_schema = %s"
            " AND column_name = '_dlt_root_id'", client.dataset_name)
        names = {str(r[0]) for r in rows or []}
    except Exception:  # a destination without information_schema: what this pipeline's schema knows
        tables = pipeline.default_schema.tables if pipeline.default_schema_name else {}
        names = {n for n, t in tables.items() if "_dlt_root_id" in t.get("columns", {})}
    out: Dict[str, List[str]] = {}
    for name in sorted(names):
        root = name.split("__", 1)[0]
        if name != root:
            out.setdefault(root, []).append(name)
    return out


def remove_stale_children(pipeline: Any) -> Dict[str, int]:
    """Delete child rows whose parent row was replaced or removed (module columnar.py says why);
    returns rows removed per child table. Idempotent; re-run at the start of every sync."""
    removed: Dict[str, int] = {}
    try:
        with pipeline.sql_client() as client:
            for root, children in child_tables(pipeline, client).items():
                parent = client.make_qualified_table_name(root)
                for name in children:
                    child = client.make_qualified_table_name(name)
                    stale = f"NOT EXISTS (SELECT 1 FROM {parent} p WHERE p._dlt_id = {child}._dlt_root_id)"
                    count = client.execute_sql(f"SELECT COUNT(*) FROM {child} WHERE {stale}")
                    if count and int(count[0][0]):
                        client.execute_sql(f"DELETE FROM {child} WHERE {stale}")
                        removed[name] = int(count[0][0])
    except Exception as exc:  # filesystem destination (append only) or tables not created yet
        logger.info(f"klink: stale child rows not removed in place ({type(exc).__name__}: {exc})")
        return removed
    if removed:
        logger.info(f"klink: removed child rows of replaced or deleted parents: {removed}")
    return removed
