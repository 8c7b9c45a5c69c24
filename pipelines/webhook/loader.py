"""Load a batch of spooled events with dlt into the tables `klink sync` writes.

The receiver has its own pipeline (`klink_webhooks`) and source/schema name, so its dlt state and
schema never collide with the polling pipeline's; the tables are shared: same dataset (`klink_data`)
and, by default, the same DuckDB file (`klink.duckdb` in the working directory). Contacts use the
polling source's own hints (`_main_hints("contacts", ...)`: merge on `id`, typed columns) and its
Arrow builder (`sources/klink/columnar.py`), so both writers keep one `contacts` table and one set of
child tables with the same layout. After each load, `remove_stale_children` drops the child rows of
replaced contacts in every `contacts__*` table, including ones only the sync wrote (e.g. custom-field
rows when the event carries none). Custom fields are typed like the scan types them: from the
`contact_fields` table the sync wrote (`custom__<system_name>` columns), untyped until a sync has run.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Dict, Iterator, List, Optional

import dlt
from dlt.common.schema.typing import TColumnSchema

from sources.klink.changes import DELETIONS_TABLE
from sources.klink.columnar import ArrowBatch
from sources.klink.deletes import apply_soft_deletes, remove_stale_children
from sources.klink.items import dlt_items
from sources.klink.resources import SIDE_TABLE_COLUMNS, _main_hints
from sources.klink.settings import MERGE

from .rows import Rows, build_rows
from .spool import SpooledEvent

log = logging.getLogger("klink.webhook")

PIPELINE_NAME = "klink_webhooks"
SOURCE_NAME = "klink_webhooks"

EVENT_COLUMNS: Dict[str, TColumnSchema] = {
    "event_id": {"data_type": "text", "nullable": False},
    "event": {"data_type": "text", "nullable": True},
    "event_timestamp": {"data_type": "timestamp", "nullable": True},
    "received_at": {"data_type": "timestamp", "nullable": False},
    "data_id": {"data_type": "text", "nullable": True},
    "signature_method": {"data_type": "text", "nullable": True},
    "raw": {"data_type": "text", "nullable": False},
}
MESSAGE_COLUMNS: Dict[str, TColumnSchema] = {
    "id": {"data_type": "text", "nullable": False},
    "direction": {"data_type": "text", "nullable": True},
    "data": {"data_type": "json", "nullable": True},
    "_klink_event_id": {"data_type": "text", "nullable": True},
    "_klink_event": {"data_type": "text", "nullable": True},
    "_klink_event_at": {"data_type": "timestamp", "nullable": True},
    "_klink_received_at": {"data_type": "timestamp", "nullable": True},
}


def is_lock_error(exc: BaseException) -> bool:
    """True when the destination is busy (DuckDB allows one writer process, e.g. a running `klink sync`)."""
    seen: set = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        text = str(exc).lower()
        if "could not set lock" in text or "conflicting lock" in text or "database is locked" in text:
            return True
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return False


def contact_field_types(pipeline: Any) -> Dict[str, str]:
    """The contact custom-field types the sync wrote to `contact_fields` (system_name -> type);
    empty before the first sync or without SQL access."""
    field_types: Dict[str, str] = {}
    try:
        with pipeline.sql_client() as client:
            fields = client.make_qualified_table_name("contact_fields")
            for name, field_type in client.execute_sql(f"SELECT system_name, type FROM {fields}") or []:
                if name:
                    field_types[str(name)] = str(field_type or "text")
    except Exception as exc:  # no dataset or table yet, or a destination without SQL
        log.debug("contact fields not readable yet: %s", type(exc).__name__)
    return field_types


def _contact_tables(rows: List[Dict[str, Any]], field_types: Dict[str, str]) -> Iterator[Any]:
    """Contacts and their child tables as Arrow tables, exactly as the polling source builds them."""
    hints = _main_hints("contacts", field_types, "soft")
    batch = ArrowBatch("contacts", hints.get("columns") or {})
    load_id = dlt.current.load_package_state()["load_id"]
    for row in rows:
        batch.add(row, load_id)
    yield from dlt_items(batch.build(hints))


@dlt.source(name=SOURCE_NAME, max_table_nesting=2)
def webhook_source(rows: Rows, field_types: Optional[Dict[str, str]] = None) -> List[Any]:
    """The tables of one batch: webhook_events, messages, contacts (+ children), _klink_deletions."""
    resources = [
        dlt.resource(rows.webhook_events, name="webhook_events", write_disposition=MERGE,
                     primary_key="event_id", columns=EVENT_COLUMNS),
        dlt.resource(rows.messages, name="messages", write_disposition=MERGE, primary_key="id",
                     columns=MESSAGE_COLUMNS),
        dlt.resource(rows.deletions, name=DELETIONS_TABLE, write_disposition="append",
                     columns=SIDE_TABLE_COLUMNS[DELETIONS_TABLE]),
    ]
    if rows.contacts:
        resources.append(dlt.resource(_contact_tables, name="contacts")(rows.contacts, field_types or {}))
    return resources


def _file_format(pipeline: Any) -> Optional[str]:
    """Parquet where the destination takes it (DuckDB: ~3x faster loads than insert statements)."""
    try:
        formats = pipeline.destination.capabilities().supported_loader_file_formats
    except Exception:  # noqa: BLE001 - fall back to the destination's default
        return None
    return "parquet" if "parquet" in formats else None


class Loader:
    """Loads batches with one dlt pipeline, created lazily in the flushing thread."""

    def __init__(self, pipeline_factory: Any) -> None:
        self._factory = pipeline_factory
        self._pipeline: Optional[dlt.Pipeline] = None

    @property
    def pipeline(self) -> dlt.Pipeline:
        if self._pipeline is None:
            self._pipeline = self._factory()
        return self._pipeline

    def load(self, events: List[SpooledEvent], raw_only: bool = False) -> Dict[str, int]:
        """Load the events (idempotent); returns rows per table. Raises on any failure, after
        dropping the half-done load package so the spool stays the only copy of what is pending."""
        pipeline = self.pipeline
        started = time.monotonic()
        if pipeline.has_pending_data:
            # a load package left by a crash: its events are still spooled (they are deleted only after
            # a load succeeds) and in this batch or a later one. dlt's run() would load only the old
            # package and skip the new data, so the package is aborted and the spool reloads it.
            log.warning("aborting a load package left unfinished by an earlier run; its events are "
                        "still spooled and load again")
            pipeline.abort_packages()
        try:
            field_types = contact_field_types(pipeline)
            rows = build_rows(events, field_types=field_types, raw_only=raw_only)
            pipeline.run(webhook_source(rows, field_types), loader_file_format=_file_format(pipeline))
            if rows.deletions:
                apply_soft_deletes(pipeline)
            if rows.contacts:
                remove_stale_children(pipeline)
        except BaseException:
            try:
                pipeline.abort_packages()
            except Exception as exc:  # noqa: BLE001 - best effort; the next run would retry them anyway
                log.warning("could not drop the failed load package: %s", type(exc).__name__)
            raise
        counts = rows.counts()
        log.info("loaded %d events in %.2fs: %s", len(events), time.monotonic() - started, counts)
        return counts
