"""Levers that need a change in a file the benchmark does not own, applied in the child process only.

Each patch is the runtime equivalent of a diff proposed in docs/performance.md (or its undoing, to
measure a lever that has landed), so its effect can be measured before or after the change lands.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, Dict, List, Optional


def _wrap_rows(convert: Callable[[Any, Any], Any]) -> None:
    from sources.klink import resources

    original = resources._Run.rows

    def rows(self: Any, records: List[Any], page: int) -> Optional[Any]:
        batch = original(self, records, page)
        return None if batch is None else convert(self, batch)

    resources._Run.rows = rows


def hints_once() -> None:
    """Send the table hints with a resource's first batch only; later pages carry just the table name.

    dlt re-validates the whole table schema for every item that carries hints (extractors.py:
    `write_items` -> `merge_hints` + `_reset_contracts_cache`). Landed in 2da56b7: then a no-op.
    """
    import dlt

    from sources.klink import resources

    if "with_table_name" in inspect.getsource(resources._Run.rows):
        return

    def convert(run: Any, batch: Any) -> Any:
        if getattr(run, "_bench_hinted", False):
            return dlt.mark.with_table_name(batch.data, run.resource)
        run._bench_hinted = True
        return batch

    _wrap_rows(convert)


def hints_every_page() -> None:
    """Undo hints_once: every page carries the full table hints again (the code before 2da56b7)."""
    import dlt

    _wrap_rows(lambda run, batch: dlt.mark.with_hints(batch.data, run.hints, create_table_variant=True))


PATCHES: Dict[str, Callable[[], None]] = {"hints_once": hints_once, "hints_every_page": hints_every_page}


def apply(names: List[str]) -> None:
    for name in names:
        PATCHES[name]()
