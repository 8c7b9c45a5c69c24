"""Change-aware loading: compare each scanned record with what the destination already holds.

The destination is the only memory: each live row carries `_klink_hash` (a content hash of the API
record), read back at the start of a scan. dlt state stays small and a wiped pipeline folder loses
nothing. Rows whose hash is unchanged are not written; ids the destination holds but a complete scan
did not return are deletions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import repeat
from typing import Any, Dict, List

import dlt
from dlt.common import logger

DELETIONS_TABLE = "_klink_deletions"
RUNS_TABLE = "_klink_runs"
REJECTED_TABLE = "_klink_rejected"


def read_known_hashes(table: str, where: str = "") -> Dict[str, str]:
    """id -> `_klink_hash` of the live rows of `table` in the current pipeline's destination.

    Live means not marked `_klink_deleted_at` and not recorded in `_klink_deletions` after the row
    was loaded (the filesystem destination records deletions but cannot mark rows in place). Empty
    when there is no pipeline, no table yet, or a destination without SQL access (then every row is
    written: correct, only slower).
    """
    try:
        pipeline = dlt.current.pipeline()
    except Exception:
        return {}
    if pipeline is None or not pipeline.destination:
        return {}
    rows = None
    try:
        with pipeline.sql_client() as client:
            qualified = client.make_qualified_table_name(table)
            deletions = client.make_qualified_table_name(DELETIONS_TABLE)
            base = f"SELECT t.id, t._klink_hash FROM {qualified} t WHERE t._klink_deleted_at IS NULL"
            if where:
                base += f" AND {where}"
            not_deleted = (
                f" AND NOT EXISTS (SELECT 1 FROM {deletions} d WHERE d.table_name = '{table}'"
                f" AND d.id = CAST(t.id AS VARCHAR) AND d._dlt_load_id >= t._dlt_load_id)"
            )
            order = " ORDER BY t._dlt_load_id"  # append-only destinations keep versions: the latest wins
            try:
                rows = client.execute_sql(base + not_deleted + order)
            except Exception:  # no deletions recorded yet
                rows = client.execute_sql(base + order)
    except Exception as exc:  # first run (no table / dataset) or no SQL access
        logger.info(f"klink: no earlier rows of {table} readable ({type(exc).__name__}); writing every row")
        return {}
    return {str(r[0]): r[1] for r in rows or [] if r[0] is not None}


@dataclass
class ChangeTracker:
    """Decides per record whether to write it, and which known ids went missing."""

    known: Dict[str, str]
    seen: Dict[str, str] = field(default_factory=dict)
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    duplicates: int = 0

    def should_write(self, record_id: Any, record_hash: str) -> bool:
        """True for a new or changed record; counts the outcome. Repeats within a run are skipped."""
        key = str(record_id)
        previous_in_run = self.seen.get(key)
        self.seen[key] = record_hash
        if previous_in_run is not None:
            if previous_in_run == record_hash:
                self.duplicates += 1
                return False
            return True  # changed while we scanned: the later read wins
        before = self.known.get(key)
        if before is None:
            self.new += 1
            return True
        if before == record_hash:
            self.unchanged += 1
            return False
        self.changed += 1
        return True

    def skip_page(self, ids: List[str], hashes: str) -> bool:
        """Count a page's records and mark them seen if `should_write` would say False to each (unchanged
        since the destination's copy, or a repeat of this run's read); else False, nothing counted.
        `hashes` are the records' hashes in page order, joined by newlines."""
        known, seen = self.known, self.seen
        if seen.keys().isdisjoint(ids):  # no repeats (a first pass): compared in one string
            try:
                same = "\n".join(map(known.get, ids, repeat(""))) == hashes
            except TypeError:  # a destination row without a hash
                return False
            if same:
                seen.update(zip(ids, map(known.get, ids), strict=True))
                self.unchanged += len(ids)
            return same
        pairs = list(zip(ids, hashes.split("\n"), strict=True))
        for key, record_hash in pairs:
            previous_in_run = seen.get(key)
            if (previous_in_run if previous_in_run is not None else known.get(key)) != record_hash:
                return False
        for key, record_hash in pairs:
            self.should_write(key, record_hash)
        return True

    def missing_ids(self) -> List[str]:
        """Known live ids this run did not see (deletions, if the scan was complete)."""
        return [k for k in self.known if k not in self.seen]
