"""dlt's `snake_case` naming convention for API keys, without importing dlt.

A copy of `dlt.common.normalizers.naming.snake_case.NamingConvention.normalize_identifier` with no
`max_length` (DuckDB, PostgreSQL and the filesystem set none), so that the Arrow helper process
(`offload.py`) builds its tables without importing dlt (see there for what that saves).
tests/source/test_naming.py
checks this copy against dlt's own over every key the sandbox sends and a set of awkward ones.
"""

from __future__ import annotations

import re
from typing import Dict

_REDUCE_ALPHABET = str.maketrans("+-*@|", "x_xal")
_NON_ALPHANUMERIC = re.compile(r"[^a-zA-Z\d_]+")
_BREAK_1 = re.compile("([^_])([A-Z][a-z]+)")
_BREAK_2 = re.compile("([a-z0-9])([A-Z])")
_LEADING_DIGITS = re.compile(r"^\d+")
_UNDERSCORES = re.compile("__+")
EMPTY_NAME = "_empty"  # a blank key (dlt's convention refuses one)
_names: Dict[str, str] = {}


def snake_case(key: str) -> str:
    """The column name dlt's snake_case convention gives `key`."""
    name = _NON_ALPHANUMERIC.sub("_", key.strip().translate(_REDUCE_ALPHABET))
    name = _BREAK_2.sub(r"\1_\2", _BREAK_1.sub(r"\1_\2", name)).lower()
    if _LEADING_DIGITS.match(name):
        name = "_" + name
    stripped = name.rstrip("_")
    return _UNDERSCORES.sub("_", stripped + "x" * (len(name) - len(stripped)))


def column_name(key: str) -> str:
    """dlt's snake_case name of an API key, `_empty` for a blank one (cached)."""
    name = _names.get(key)
    if name is None:
        name = _names[key] = snake_case(key) if key and not key.isspace() else EMPTY_NAME
    return name
