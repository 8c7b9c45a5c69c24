"""The registry, the template renderer and the generated docs, without a database."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from transforms.docs import generate
from transforms.registry import MODELS, Model, topological_order
from transforms.render import RenderContext, TemplateError, render
from transforms.runner import MODELS_DIR, model_sql, plan

ROOT = Path(__file__).resolve().parents[2]


def ctx(raw=None, **kw):
    return RenderContext(
        raw_columns=raw if raw is not None else {}, qualify_raw=lambda t: f'"raw"."{t}"',
        qualify_model=lambda m: f'"models"."{m}"', quote=lambda c: f'"{c}"',
        as_of=dt.datetime(2026, 3, 30, tzinfo=dt.timezone.utc), **kw)


def test_every_model_has_sql_and_every_sql_a_model():
    assert {p.stem for p in MODELS_DIR.glob("*.sql")} == set(MODELS)


def test_order_puts_dependencies_first():
    order = topological_order(MODELS)
    assert sorted(order) == sorted(MODELS)
    for name in order:
        for dep in MODELS[name].depends_on:
            assert order.index(dep) < order.index(name)


def test_select_adds_downstream_models_only():
    assert topological_order(MODELS, ["fct_tickets"]) == ["fct_tickets", "agg_ticket_backlog_daily"]
    assert topological_order(MODELS, ["agg_agent_performance"]) == ["agg_agent_performance"]
    with pytest.raises(KeyError, match="nope"):
        topological_order(MODELS, ["nope"])


def test_cycles_are_refused():
    models = {"a": Model("a", "", "", {}, depends_on=("b",)), "b": Model("b", "", "", {}, depends_on=("a",))}
    with pytest.raises(ValueError, match="cycle"):
        topological_order(models)


def test_plan_skips_models_without_their_loaded_tables():
    build, skipped = plan(None, {"tickets": {"id": "varchar"}})
    assert [m.name for m in build] == ["fct_tickets", "agg_ticket_backlog_daily"]
    assert skipped["fct_cx_logs"].startswith("loaded table(s) missing: cx_logs")
    assert skipped["agg_daily_channel_volume"] == "depends on skipped model(s): fct_cx_logs"


def test_placeholders_render_to_portable_sql():
    model = Model("m", "", "", {}, depends_on=("fct_tickets",), sources=("tickets",),
                  optional_sources=("tickets__tags",))
    raw = {"tickets": {"id": "varchar", "deleted_at": "timestamp", "custom__cf_x": "double", "custom__status": "text"}}
    sql = render(model, (
        '{{ src("tickets") }} {{ src("tickets__tags") }} {{ ref("fct_tickets") }} '
        '{{ opt("t", "tickets", "assignee__name", "text") }} {{ opt("t", "tickets", "id", "text") }} '
        '{{ live("t", "tickets") }}{{ custom_columns("t", "tickets") }} {{ day("t.created_at") }} '
        '{{ seconds("t.a", as_of()) }}'), ctx(raw, timezone="Asia/Bangkok", default_fields={"tickets": {"status"}}))
    assert '"raw"."tickets"' in sql and '"models"."fct_tickets"' in sql
    assert 'CAST(NULL AS TEXT) AS "_dlt_parent_id"' in sql and "WHERE 1 = 0" in sql  # absent optional table
    assert "CAST(NULL AS TEXT) t.\"id\"" in sql  # a missing column is a typed NULL, a present one is quoted
    assert 't."deleted_at" IS NULL' in sql and "_klink_deleted_at" not in sql
    assert 't."custom__cf_x"' in sql and "custom__status" not in sql  # built-in form fields left out
    assert "CAST((t.created_at) AT TIME ZONE 'Asia/Bangkok' AS DATE)" in sql
    assert "EXTRACT(EPOCH FROM CAST('2026-03-30 00:00:00.000000+00:00' AS TIMESTAMP WITH TIME ZONE))" in sql


@pytest.mark.parametrize("template,message", [
    ('{{ src("contacts") }}', "not declared in its sources"),
    ('{{ ref("dim_contacts") }}', "not declared in depends_on"),
    ('{{ evil() }}', "unknown template function"),
    ('{{ __import__("os") }}', "unknown template function"),
    ('{{ src(x) }}', "only literals and function calls"),
    ('{{ src("tickets") }}', "required table 'tickets' is not loaded"),
])
def test_template_misuse_is_an_error(template, message):
    model = Model("m", "", "", {}, depends_on=("fct_tickets",), sources=("tickets",))
    with pytest.raises(TemplateError, match=message):
        render(model, template, ctx())


def test_time_zone_names_are_checked():
    with pytest.raises(TemplateError):
        ctx(timezone="UTC'; DROP TABLE x; --")


def test_every_model_renders_against_its_declared_tables():
    raw = {t: {"id": "varchar"} for m in MODELS.values() for t in m.sources}
    for name, model in MODELS.items():
        sql = render(model, model_sql(name), ctx(raw))
        assert "{{" not in sql and "}}" not in sql


def test_models_doc_is_generated_from_the_registry():
    doc = (ROOT / "docs" / "models.md").read_text(encoding="utf-8")
    assert doc == generate(), "docs/models.md is stale: run `python -m transforms.docs > docs/models.md`"
    for name, model in MODELS.items():
        assert f"### {name}" in doc and model.grain in doc
