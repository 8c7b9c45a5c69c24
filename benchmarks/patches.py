"""Levers that need a change in a file the benchmark does not own, applied in the child process only.

Each patch is the runtime equivalent of a diff proposed in docs/performance.md, so its effect can be
measured before the change lands. A patch that finds the code already changed does nothing.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional


def hints_once() -> None:
    """Send the table hints with a resource's first batch only; later pages carry just the table name.

    dlt re-validates the whole table schema for every item that carries hints (extractors.py:
    `write_items` -> `merge_hints` + `_reset_contracts_cache`), which costs more than the rows.
    """
    import dlt

    from sources.klink import resources

    run_cls = resources._Run
    if getattr(run_cls, "_hints_once_patched", False):
        return
    original_rows = run_cls.rows

    def rows(self: Any, records: List[Any], page: int) -> Optional[Any]:
        batch = original_rows(self, records, page)
        if batch is None:
            return None
        if getattr(self, "_hinted", False):
            return dlt.mark.with_table_name(batch.data, self.resource)
        self._hinted = True
        return batch

    run_cls.rows = rows
    run_cls._hints_once_patched = True


PATCHES: Dict[str, Callable[[], None]] = {"hints_once": hints_once}


def apply(names: List[str]) -> None:
    for name in names:
        PATCHES[name]()
