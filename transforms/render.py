"""Render a model's SQL template into SQL that runs on both DuckDB and PostgreSQL.

Templates are plain SQL with `{{ function(args) }}` placeholders; args are string literals or calls:

    {{ src("contacts") }}                     qualified loaded table (an empty stand-in if optional and absent)
    {{ ref("fct_cx_logs") }}                  qualified model table; must be declared in depends_on
    {{ opt("c", "contacts", "company__name", "text") }}   c."company__name", or a typed NULL if absent
    {{ live("c", "contacts") }}               c._klink_deleted_at IS NULL AND c.deleted_at IS NULL (those present)
    {{ custom_columns("c", "contacts") }}     `, c."custom__x"` for each non-default form field column
    {{ as_of() }}                             the build's reference time as a timestamptz literal
    {{ day("t.created_at") }}                 the date of a timestamptz in the reporting time zone
    {{ seconds("a", "b") }}                   seconds from timestamptz a to b, as double precision

Only these functions exist; everything else in the template is passed through unchanged.
"""

from __future__ import annotations

import ast
import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Set

from .registry import OPTIONAL_TABLE_COLUMNS, Model

SQL_TYPES = {
    "text": "TEXT",
    "bigint": "BIGINT",
    "double": "DOUBLE PRECISION",
    "bool": "BOOLEAN",
    "timestamp": "TIMESTAMP WITH TIME ZONE",
    "date": "DATE",
}

PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
SAFE_TZ = re.compile(r"^[A-Za-z0-9_+\-/]+$")


class TemplateError(ValueError):
    """A model template uses an unknown function, an undeclared table or bad arguments."""


@dataclass
class RenderContext:
    """What templates may see: the loaded tables' columns and how to name things."""

    raw_columns: Dict[str, Dict[str, str]]  # loaded table -> column -> information_schema data type
    qualify_raw: Callable[[str], str]
    qualify_model: Callable[[str], str]
    quote: Callable[[str], str]
    as_of: dt.datetime
    timezone: str = "UTC"
    default_fields: Dict[str, Set[str]] = field(default_factory=dict)  # table -> normalized default field names

    def __post_init__(self) -> None:
        if not SAFE_TZ.match(self.timezone):
            raise TemplateError(f"invalid time zone name {self.timezone!r}")
        if self.as_of.tzinfo is None:
            raise TemplateError("as_of must be timezone-aware")


def render(model: Model, template: str, ctx: RenderContext) -> str:
    """The template with every placeholder replaced; raises TemplateError on misuse."""
    allowed_raw = set(model.sources) | set(model.optional_sources)

    def columns_of(table: str) -> Dict[str, str]:
        if table in ctx.raw_columns:
            return ctx.raw_columns[table]
        return dict(OPTIONAL_TABLE_COLUMNS.get(table, {}))

    def src(table: str) -> str:
        if table not in allowed_raw:
            raise TemplateError(f"{model.name}: table {table!r} is not declared in its sources")
        if table in ctx.raw_columns:
            return ctx.qualify_raw(table)
        if table not in model.optional_sources or table not in OPTIONAL_TABLE_COLUMNS:
            raise TemplateError(f"{model.name}: required table {table!r} is not loaded")
        cols = ", ".join(f"CAST(NULL AS {SQL_TYPES[t]}) AS {ctx.quote(c)}"
                         for c, t in OPTIONAL_TABLE_COLUMNS[table].items())
        return f"(SELECT {cols} WHERE 1 = 0)"

    def ref(name: str) -> str:
        if name not in model.depends_on:
            raise TemplateError(f"{model.name}: model {name!r} is not declared in depends_on")
        return ctx.qualify_model(name)

    def opt(alias: str, table: str, column: str, typ: str) -> str:
        if column in columns_of(table):
            return f"{alias}.{ctx.quote(column)}"
        return f"CAST(NULL AS {SQL_TYPES[typ]})"

    def live(alias: str, table: str) -> str:
        present = [c for c in ("_klink_deleted_at", "deleted_at") if c in columns_of(table)]
        return " AND ".join(f"{alias}.{ctx.quote(c)} IS NULL" for c in present) or "TRUE"

    def custom_columns(alias: str, table: str) -> str:
        defaults = ctx.default_fields.get(table, set())
        names = [c for c in columns_of(table) if c.startswith("custom__") and c[len("custom__"):] not in defaults]
        return "".join(f",\n    {alias}.{ctx.quote(c)}" for c in names)

    def as_of() -> str:
        stamp = ctx.as_of.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")
        return f"CAST('{stamp}+00:00' AS TIMESTAMP WITH TIME ZONE)"

    def day(expr: str) -> str:
        return f"CAST(({expr}) AT TIME ZONE '{ctx.timezone}' AS DATE)"

    def seconds(start: str, end: str) -> str:
        return f"CAST(EXTRACT(EPOCH FROM {end}) - EXTRACT(EPOCH FROM {start}) AS DOUBLE PRECISION)"

    functions: Dict[str, Callable[..., str]] = {
        "src": src, "ref": ref, "opt": opt, "live": live, "custom_columns": custom_columns,
        "as_of": as_of, "day": day, "seconds": seconds,
    }

    def evaluate(node: ast.AST) -> Any:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
            if node.func.id not in functions:
                raise TemplateError(f"{model.name}: unknown template function {node.func.id}()")
            return functions[node.func.id](*[evaluate(a) for a in node.args])
        raise TemplateError(f"{model.name}: only literals and function calls are allowed, got {ast.dump(node)}")

    def substitute(match: re.Match) -> str:
        try:
            tree = ast.parse(match.group(1).strip(), mode="eval")
        except SyntaxError as exc:
            raise TemplateError(f"{model.name}: bad placeholder {match.group(0)}: {exc}") from exc
        try:
            return str(evaluate(tree.body))
        except TypeError as exc:
            raise TemplateError(f"{model.name}: {match.group(0)}: {exc}") from exc

    out = PLACEHOLDER.sub(substitute, template)
    if "{{" in out or "}}" in out:
        raise TemplateError(f"{model.name}: unparsed placeholder left in the SQL")
    return out
