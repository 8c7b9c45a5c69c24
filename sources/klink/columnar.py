"""Build each batch of rows as Arrow tables, parent and children, so dlt skips its JSON normalizer.

The layout is the one dlt's relational normalizer gives with `max_table_nesting=2`: snake_case names,
nested objects flattened into `a__b` columns, lists into `<table>__<list>` child tables carrying
`_dlt_id`, `_dlt_parent_id`, `_dlt_root_id` and `_dlt_list_idx`, deeper values kept as JSON text.
Each child row also carries `_klink_parent_id`, the parent's primary key.

dlt creates nested tables only in its JSON normalizer (an Arrow item cannot target one), so each child
table is its own merge table with `merge_key=_klink_parent_id`: a rewritten parent replaces its
children in the same load. A parent that now has no children, or a parent removed by a hard delete,
leaves rows behind that `deletes.remove_stale_children` drops after the load (children whose
`_dlt_root_id` is no longer a parent's `_dlt_id`).

Why our own: dlt's normalizer spent about half of a full sync (benchmark lever `klink_dlt_normalizer`:
90k records 24.4 s with it, 13.2 s with this, docs/performance.md).
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import gc
import itertools
import secrets
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterator, List, Mapping, Optional, Set, Tuple

import orjson
import pyarrow as pa

from .naming import column_name
from .records import TIMESTAMP_KEYS, HeldJson, Record, hashed_row, parse_timestamp, parse_timestamp_cached
from .settings import MERGE

if TYPE_CHECKING:
    from dlt.common.schema.typing import TColumnSchema

MAX_NESTING = 2  # the source's max_table_nesting
PARENT_ID = "_klink_parent_id"
ROW_KEY: TColumnSchema = {"data_type": "text", "nullable": False, "unique": True, "row_key": True}
LOAD_ID: TColumnSchema = {"data_type": "text", "nullable": False}
CHILD_KEYS: Dict[str, TColumnSchema] = {
    "_dlt_id": ROW_KEY, "_dlt_parent_id": {"data_type": "text", "nullable": False},
    "_dlt_root_id": {"data_type": "text", "nullable": False},
    "_dlt_list_idx": {"data_type": "bigint", "nullable": False}, PARENT_ID: {"data_type": "text"},
}
ARROW_TYPES = {"text": pa.string(), "bigint": pa.int64(), "double": pa.float64(), "bool": pa.bool_(),
               "timestamp": pa.timestamp("us", tz="UTC"), "date": pa.date32(), "json": pa.string(),
               "decimal": pa.float64()}
_PY_TYPES = {str: "text", bool: "bool", int: "bigint", float: "double", dt.datetime: "timestamp",
             dt.date: "date", dict: "json", list: "json"}
HintArgs = Dict[str, Any]  # the arguments of `dlt.mark.make_hints` (items.py makes the hints)
# (table, Arrow table, its hint arguments if the table or a column is new, else None); plain data, so
# the helper process builds it without importing dlt
BuiltTable = Tuple[str, pa.Table, Optional[HintArgs]]
Built = List[BuiltTable]


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Cyclic garbage collection off while a batch is built (never around a `yield`).

    Parsed JSON and flat rows hold no reference cycles, yet each batch allocates enough objects to
    set off collections that walk all of them: building 5,000 contacts took 33 us/record in the row
    builder with collections on, 7 us with them off (benchmarks/micro-style timing, best of 3).
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def type_of(value: Any) -> str:
    """The warehouse type dlt would infer for a Python value."""
    kind = _PY_TYPES.get(type(value))
    if kind is None:
        for cls, name in _PY_TYPES.items():  # subclasses: pendulum.DateTime, IntEnum, ...
            if isinstance(value, cls):
                return name
        return "text"
    return kind


class ArrowBatch:
    """Rows of one resource in, one Arrow table per table out; column types fixed at first sight.

    A value that does not fit its column's type (and cannot be coerced to it) goes to a variant column
    `<name>__v_<type>`, as dlt's normalizer does, so nothing is lost.
    """

    def __init__(self, resource: str, columns: Mapping[str, TColumnSchema]) -> None:
        self.resource = resource
        self.types: Dict[str, Dict[str, str]] = {
            resource: {n: c["data_type"] for n, c in columns.items() if c.get("data_type")}}
        self.hinted: Dict[str, Set[str]] = {}
        # table -> key prefix -> API key -> `_column`: one lookup per key instead of three
        self._plans: Dict[str, Dict[str, Dict[str, Tuple[str, bool, bool]]]] = {}
        self._tables: Dict[str, List[Dict[str, Any]]] = {}
        self._id_prefix = base64.b64encode(secrets.token_bytes(8)).decode("ascii").rstrip("=")  # as dlt's uniq_id_base64
        self._next_id = 0
        self.rows = 0

    def add(self, row: Dict[str, Any], load_id: str) -> None:
        """Flatten one root row (and its lists) into the batch."""
        row_id = f"{self._id_prefix}{self._next_id:x}"
        self._next_id += 1
        flat = self._flatten(self.resource, row, MAX_NESTING, row_id, row_id, row.get("id"))
        flat["_dlt_id"] = row_id
        flat["_dlt_load_id"] = load_id
        self._table(self.resource).append(flat)
        self.rows += 1

    def add_held(self, held: HeldJson, normalize: Callable[[Record, Mapping[str, str]], Record],
                 field_types: Mapping[str, str], load_id: str) -> None:
        """Add records held as JSON, each shaped by `normalize` and carrying its hash."""
        with paused_gc():
            for digest, record in held.records():
                self.add(hashed_row(normalize, record, field_types, digest), load_id)

    def _column(self, table: str, prefix: str, key: str) -> Tuple[str, bool, bool]:
        """(column name, whether it holds JSON text, whether it is a timestamp key) of `key` at `prefix`."""
        name = prefix + column_name(key)
        return name, self.types.setdefault(table, {}).get(name) == "json", key in TIMESTAMP_KEYS

    def _table(self, name: str) -> List[Dict[str, Any]]:
        table = self._tables.get(name)
        if table is None:
            table = self._tables[name] = []
        return table

    def _flatten(self, table: str, row: Dict[str, Any], level: int, row_id: str, root_id: str,
                 parent_key: Any) -> Dict[str, Any]:
        flat: Dict[str, Any] = {}
        lists: List[Tuple[str, List[Any], int]] = []
        plans = self._plans.get(table)
        if plans is None:
            plans = self._plans[table] = {}
        stack = [(row, level, "")]
        while stack:
            current, lvl, prefix = stack.pop()
            plan = plans.get(prefix)
            if plan is None:
                plan = plans[prefix] = {}
            for key, value in current.items():
                column = plan.get(key)
                if column is None:
                    column = plan[key] = self._column(table, prefix, key)
                name, is_json, is_timestamp = column
                kind = value.__class__
                if kind is dict or kind is list:
                    if lvl > 0 and not is_json:
                        if kind is dict:
                            stack.append((value, lvl - 1, name + "__"))
                        else:
                            lists.append((name, value, lvl - 1))
                        continue
                    value = _json_text(value)  # deeper than max nesting, or a json column
                    if not is_json and self.types[table].get(name) is None:
                        self.types[table][name] = "json"
                        self._plans[table] = plans = {}  # rare: a name's plan entries are now stale
                        plan = plans[prefix] = {}
                elif is_json and value is not None:
                    value = _json_text(value)
                elif is_timestamp and kind is str and value:
                    value = parse_timestamp_cached(value)
                flat[name] = value
        for name, items, child_level in lists:
            child = f"{table}__{name}"
            rows = self._table(child)
            for idx, item in enumerate(items):
                child_id = f"{self._id_prefix}{self._next_id:x}"  # unique is enough (dlt: a digest)
                self._next_id += 1
                kind = item.__class__
                if kind is dict:
                    child_row = self._flatten(child, item, child_level, child_id, root_id, parent_key)
                elif kind is list:  # a list of lists: dlt's intermediary `list` table
                    child_row = self._flatten(child, {"list": item}, child_level - 1, child_id, root_id,
                                              parent_key)
                else:
                    child_row = {"value": item}
                child_row["_dlt_parent_id"] = row_id
                child_row["_dlt_list_idx"] = idx
                child_row["_dlt_id"] = child_id
                child_row["_dlt_root_id"] = root_id
                child_row[PARENT_ID] = None if parent_key is None else str(parent_key)
                rows.append(child_row)
        return flat

    def tables(self) -> Dict[str, pa.Table]:
        """The batch as Arrow tables (parent first), then empty for the next batch."""
        tables, self._tables, self.rows = self._tables, {}, 0
        out = {}
        for name in sorted(tables, key=lambda n: (n.count("__"), n)):
            if tables[name]:
                out[name] = self._arrow(name, tables[name])
        return out

    def _arrow(self, table: str, rows: List[Dict[str, Any]]) -> pa.Table:
        types = self.types.setdefault(table, {})
        fields = []
        for name in dict.fromkeys(itertools.chain.from_iterable(rows)):  # every key, first-seen order
            data_type = types.get(name)
            if data_type is None:
                first = next((row[name] for row in rows if row.get(name) is not None), None)
                if first is None:  # all NULL and never typed: dlt would not create it either
                    continue
                data_type = types[name] = type_of(first)
            fields.append(pa.field(name, ARROW_TYPES.get(data_type, pa.string())))
        try:  # every value fits its column: Arrow converts the rows in C++ (3x from_pylist)
            return pa.Table.from_struct_array(pa.array(rows, type=pa.struct(fields)))
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
            pass
        arrays: Dict[str, pa.Array] = {}
        for f in fields:  # column by column, coercing values and splitting off variants
            values = [row.get(f.name) for row in rows]
            data_type = types[f.name]
            arrays[f.name], coerced = _array(values, data_type)
            if coerced and arrays[f.name].null_count > values.count(None):
                self._split_variants(f.name, values, data_type, arrays)
        return pa.table(arrays)

    def _split_variants(self, name: str, values: List[Any], data_type: str, arrays: Dict[str, pa.Array]) -> None:
        """Values the column type could not take go to `<name>__v_<their type>` columns."""
        variants: Dict[str, List[Any]] = {}
        for i, value in enumerate(values):
            if value is not None and _coerce(value, data_type) is None:
                kind = type_of(value)
                variants.setdefault(kind, [None] * len(values))[i] = value
        for kind, column in variants.items():
            arrays[f"{name}__v_{kind}"] = _array(column, kind)[0]

    def hints(self, table: str, root_hints: Any, arrow: pa.Table) -> Optional[HintArgs]:
        """Table hint arguments when `table` is new or has columns not hinted yet, else None."""
        seen = self.hinted.setdefault(table, set())
        new = set(arrow.column_names) - seen
        if not new:
            return None
        seen.update(arrow.column_names)
        types = self.types.get(table, {})
        columns: Dict[str, TColumnSchema] = {
            n: {"data_type": t, "nullable": True} for n, t in types.items()  # type: ignore[misc]
            if n in seen or table == self.resource}
        if table == self.resource:
            columns.update(root_hints.get("columns") or {})
            columns.update(_dlt_id=ROW_KEY, _dlt_load_id=LOAD_ID)
            return dict(table_name=table, write_disposition=root_hints.get("write_disposition"),
                        primary_key=root_hints.get("primary_key"), columns=columns,
                        additional_table_hints=root_hints.get("additional_table_hints"))
        columns.update(CHILD_KEYS)
        # primary key _dlt_id: dlt then deduplicates staging by it, as it does for its own nested tables;
        # a copy job re-run after a crash (committed, not yet marked done) would otherwise double rows
        return dict(table_name=table, write_disposition=MERGE, merge_key=PARENT_ID, primary_key="_dlt_id",
                    columns=columns, additional_table_hints=root_hints.get("additional_table_hints"))

    def build(self, root_hints: Any) -> Built:
        """The batch as (table, Arrow table, hint arguments when the table or a column is new, else None);
        `items.dlt_items` turns it into dlt items."""
        with paused_gc():
            return [(name, arrow, self.hints(name, root_hints, arrow)) for name, arrow in self.tables().items()]


def _json_text(value: Any) -> str:
    """JSON text with sorted keys: the same text whatever order the API sent the keys in."""
    return orjson.dumps(value, default=str, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS).decode()


def _array(values: List[Any], data_type: str) -> Tuple[pa.Array, bool]:
    """The Arrow array of `values` as `data_type`, and whether values had to be coerced one by one."""
    arrow_type = ARROW_TYPES.get(data_type, pa.string())
    try:  # (json values are JSON text already, see _flatten)
        return pa.array(values, type=arrow_type), False
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
        return pa.array([_coerce(v, data_type) for v in values], type=arrow_type), True


def _coerce(value: Any, data_type: str) -> Any:
    """`value` as `data_type` (what dlt's coercion would accept), or None if it does not fit."""
    if value is None:
        return None
    try:
        if data_type == "text":
            return value if isinstance(value, str) else orjson.dumps(value, default=str).decode()
        if data_type == "bigint":
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                return None
            result = int(value)
            return result if -(2**63) <= result < 2**63 else None
        if data_type in ("double", "decimal"):
            return None if isinstance(value, bool) else float(value)
        if data_type == "bool":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            return True if text in ("true", "1") else False if text in ("false", "0") else None
        if data_type == "timestamp":
            parsed = parse_timestamp(value)
            return parsed if isinstance(parsed, dt.datetime) else None
        if data_type == "date":
            if isinstance(value, dt.datetime):
                return value.date()
            return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])
    except (TypeError, ValueError, OverflowError):
        return None
    return None
