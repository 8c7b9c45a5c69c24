"""Built Arrow tables (`columnar.Built`) as dlt items, in the main process only.

Kept apart from `columnar` so that the helper process building Arrow tables never imports dlt.
"""

from __future__ import annotations

import logging
from typing import Any, Iterable, Iterator

import dlt

from .columnar import BuiltTable


class _QuietArrowHintWarning(logging.Filter):
    """Drops dlt's per-item warning that our column hints override the Arrow schema's (json is a
    string in Arrow, so every batch with a JSON column would warn although that override is the intent)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "when merging arrow schema with dlt schema" not in record.getMessage()


_dlt_logger = logging.getLogger("dlt")
if not any(isinstance(f, _QuietArrowHintWarning) for f in _dlt_logger.filters):
    _dlt_logger.addFilter(_QuietArrowHintWarning())


def dlt_items(built: Iterable[BuiltTable]) -> Iterator[Any]:
    """Built tables as dlt items: each table with its hints when they are new, else just its name."""
    for name, arrow, hint_args in built:
        if hint_args is None:
            yield dlt.mark.with_table_name(arrow, name)
        else:
            yield dlt.mark.with_hints(arrow, dlt.mark.make_hints(**hint_args), create_table_variant=True)
