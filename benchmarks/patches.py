"""Levers that need a change in a file the benchmark does not own, applied in the child process only.

Each patch is the runtime equivalent of a diff (or of undoing one that landed), so a lever's effect
can be measured against the committed code in the same run.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterator, List


def dlt_normalizer() -> None:
    """Undo the Arrow batches (sources/klink/columnar.py): each page's rows go to dlt as Python dicts
    and dlt's JSON normalizer makes the child tables (the source before the change; hints once)."""
    import dlt

    from sources.klink import resources
    from sources.klink.records import hashed_row, parse_timestamps

    def rows(self: Any, records: List[Any], page: int, total: Any = None) -> Iterator[Any]:
        out = [parse_timestamps(hashed_row(self.normalize, record, self.field_types, digest))
               for record, digest, _ in self.changed_records(records, page)]
        if not out:
            return
        if getattr(self, "_bench_hinted", False):
            yield dlt.mark.with_table_name(out, self.resource)
            return
        self._bench_hinted = True
        yield dlt.mark.with_hints(out, self.hints, create_table_variant=True)

    resources._Run.rows = rows
    resources._Run.flush = lambda self: iter(())


PATCHES: Dict[str, Callable[[], None]] = {"dlt_normalizer": dlt_normalizer}


def apply(names: List[str]) -> None:
    for name in names:
        PATCHES[name]()
