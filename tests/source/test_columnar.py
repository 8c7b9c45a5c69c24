"""ArrowBatch: the tables dlt's relational normalizer would make, built as Arrow tables."""

from __future__ import annotations

import datetime as dt
import gc
import json
from pathlib import Path

import dlt
import pytest

from sources.klink.columnar import PARENT_ID, ArrowBatch, paused_gc
from sources.klink.items import dlt_items

LOAD_ID = "1764000000.1"

CONTACT = {
    "id": "c-1",
    "name": "Frank",
    "createdAt": dt.datetime(2026, 1, 8, 4, 42, 59, tzinfo=dt.timezone.utc),
    "company": {"name": "Acme", "address": {"city": "Yangon", "geo": {"lat": 1.5}}},
    "emails": [{"email": "a@x.io", "isPrimary": True}, {"email": "b@x.io", "isPrimary": False}],
    "labels": ["vip", "new"],
    "platformContacts": [{"id": "p1", "meta": {"k": 1}, "history": [{"at": 1}]}],
    "matrix": [[1, 2]],
    "custom": {"cf_interests": ["golf", "tea"], "cf_points": 3.5},
}
DECLARED = {"custom__cf_interests": {"data_type": "json"}, "ticket_number": {"data_type": "bigint"},
            "closed_at": {"data_type": "timestamp"}}


def build(rows, declared=None):
    batch = ArrowBatch("contacts", declared if declared is not None else DECLARED)
    for row in rows:
        batch.add(dict(row), LOAD_ID)
    return batch, batch.tables()


def test_layout_matches_dlt_relational_normalizer(tmp_path: Path) -> None:
    """Same tables and columns as dlt's own JSON normalizer (max_table_nesting=2) gives the same row."""
    declared = {"custom__cf_interests": {"data_type": "json"}}
    _, tables = build([CONTACT], declared)
    pipeline = dlt.pipeline("columnar_ref", destination=dlt.destinations.duckdb(str(tmp_path / "ref.duckdb")),
                            pipelines_dir=str(tmp_path / "p"), dataset_name="ref")

    @dlt.source(max_table_nesting=2)
    def ref():
        return dlt.resource([CONTACT], name="contacts", columns=declared)

    pipeline.extract(ref())
    pipeline.normalize()
    expected = {t["name"]: set(t["columns"]) for t in pipeline.default_schema.data_tables()}
    ours = {n: set(t.column_names) for n, t in tables.items()}
    assert set(ours) == set(expected)
    for name in expected:  # children also carry the root row's id and the parent's key
        assert ours[name] - {PARENT_ID, "_dlt_root_id"} == expected[name], name
        assert ("__" in name) == ({PARENT_ID, "_dlt_root_id"} <= ours[name]), name


def test_children_link_to_their_parent() -> None:
    _, tables = build([CONTACT, {**CONTACT, "id": "c-2", "emails": []}])
    parent = tables["contacts"].to_pylist()
    emails = tables["contacts__emails"].to_pylist()
    assert [e["email"] for e in emails] == ["a@x.io", "b@x.io"]
    assert {e["_dlt_parent_id"] for e in emails} == {parent[0]["_dlt_id"]}
    assert {e["_dlt_root_id"] for e in emails} == {parent[0]["_dlt_id"]}
    assert [e["_dlt_list_idx"] for e in emails] == [0, 1] and {e[PARENT_ID] for e in emails} == {"c-1"}
    history = tables["contacts__platform_contacts__history"].to_pylist()
    platform = tables["contacts__platform_contacts"].to_pylist()
    assert history[0]["_dlt_parent_id"] == platform[0]["_dlt_id"] and history[0]["_dlt_root_id"] == parent[0]["_dlt_id"]
    assert [r["value"] for r in tables["contacts__labels"].to_pylist()] == ["vip", "new"] * 2
    assert len({p["_dlt_id"] for p in parent}) == 2 and {p["_dlt_load_id"] for p in parent} == {LOAD_ID}


def test_nesting_depth_and_declared_json() -> None:
    _, tables = build([CONTACT])
    row = tables["contacts"].to_pylist()[0]
    assert row["company__address__city"] == "Yangon"
    assert json.loads(row["company__address__geo"]) == {"lat": 1.5}  # third level: JSON text
    assert json.loads(row["custom__cf_interests"]) == ["golf", "tea"]  # declared json: no child table
    assert "contacts__custom__cf_interests" not in tables
    assert tables["contacts__platform_contacts__history"].to_pylist()[0]["at"] == 1  # a grandchild table
    assert json.loads(tables["contacts__matrix"].to_pylist()[0]["list"]) == [1, 2]  # list of lists
    assert tables["contacts"].schema.field("created_at").type.tz == "UTC"


def test_values_coerced_to_the_column_type_or_kept_in_a_variant_column() -> None:
    batch, first = build([{"id": 1, "ticket_number": 7, "closed_at": "2026-03-30 08:30:00.000+00"}])
    assert first["contacts"].to_pylist()[0]["ticket_number"] == 7
    assert first["contacts"].to_pylist()[0]["closed_at"] == dt.datetime(2026, 3, 30, 8, 30, tzinfo=dt.timezone.utc)
    for row in ({"id": 2, "ticket_number": "42"}, {"id": 3, "ticket_number": "n/a"}, {"id": 4, "ticket_number": 5.0}):
        batch.add(row, LOAD_ID)
    table = batch.tables()["contacts"].to_pylist()
    assert [r["ticket_number"] for r in table] == [42, None, 5]
    assert [r.get("ticket_number__v_text") for r in table] == [None, "n/a", None]


def test_all_null_columns_only_when_typed() -> None:
    _, tables = build([{"id": "a", "note": None, "closed_at": None}])
    assert "note" not in tables["contacts"].column_names
    assert tables["contacts"].column("closed_at").null_count == 1


def test_hints_once_per_table_and_again_for_new_columns() -> None:
    batch = ArrowBatch("contacts", {})
    root = dlt.mark.make_hints(table_name="contacts", write_disposition="merge", primary_key="id")
    batch.add({"id": "a", "emails": [{"email": "x"}]}, LOAD_ID)
    first = list(dlt_items(batch.build(root)))
    assert [type(i.meta).__name__ for i in first] == ["HintsMeta", "HintsMeta"]
    child_hints = first[1].meta.hints
    assert child_hints["merge_key"] == PARENT_ID and child_hints["write_disposition"]["disposition"] == "merge"
    batch.add({"id": "b", "emails": [{"email": "y"}]}, LOAD_ID)
    assert [type(i.meta).__name__ for i in dlt_items(batch.build(root))] == ["TableNameMeta", "TableNameMeta"]
    batch.add({"id": "c", "extra": 1, "emails": [{"email": "z"}]}, LOAD_ID)
    assert [type(i.meta).__name__ for i in dlt_items(batch.build(root))] == ["HintsMeta", "TableNameMeta"]


def test_a_column_turned_json_keeps_later_values_as_json_text() -> None:
    # a__b__c is first seen one level past the nesting depth, so it becomes a json column; later
    # scalars in it are JSON text too, in the same batch and the next (not ints in a text column)
    batch, tables = build([{"id": 1, "a": {"b": {"c": {"d": 1}}}}, {"id": 2, "a": {"b": {"c": 5}}}], {})
    assert [r["a__b__c"] for r in tables["contacts"].to_pylist()] == ['{"d":1}', "5"]
    batch.add({"id": 3, "a": {"b": {"c": 6, "e": 7}}}, LOAD_ID)
    row = batch.tables()["contacts"].to_pylist()[0]
    assert (row["a__b__c"], row["a__b__e"]) == ("6", 7)
    assert "a__b__c__v_bigint" not in row


def test_paused_gc_pauses_collection_and_restores_it() -> None:
    assert gc.isenabled()
    with pytest.raises(RuntimeError), paused_gc():
        assert not gc.isenabled()
        raise RuntimeError("a failed batch")
    assert gc.isenabled()
    gc.disable()
    try:
        with paused_gc():
            pass
        assert not gc.isenabled(), "a caller's own gc.disable() is left as it was"
    finally:
        gc.enable()


def test_a_batch_is_built_with_collection_paused(monkeypatch) -> None:
    seen = []
    to_arrow = ArrowBatch._arrow
    monkeypatch.setattr(ArrowBatch, "_arrow", lambda self, *a: seen.append(gc.isenabled()) or to_arrow(self, *a))
    batch = ArrowBatch("contacts", {})
    batch.add({"id": "a", "emails": [{"email": "x"}]}, LOAD_ID)
    items = list(dlt_items(batch.build(dlt.mark.make_hints(table_name="contacts", primary_key="id"))))
    assert len(items) == 2 and seen == [False, False] and gc.isenabled()
