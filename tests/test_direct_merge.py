"""Direct merges: the same tables as dlt's staging merge, written once, and safe to repeat."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines.direct_merge import is_direct, merge_file_sql
from pipelines.klink_pipeline import DATASET_NAME, make_pipeline
from sources.klink.settings import DIRECT_MERGE_HINT
from tests.source.helpers import api_list, query, sync
from tests.source.test_children import patch_contact

TABLES = ("contacts", "contacts__tags", "contacts__emails", "contacts__phones", "contacts__custom_fields",
          "tickets", "tickets__tags", "cx_logs", "cx_logs__contact_label")


def snapshot(tmp_path, name):
    """Per table: its rows without dlt's per-row and per-load ids, as a sorted list."""
    out = {}
    for table in TABLES:
        columns = [r[0] for r in query(tmp_path, f"DESCRIBE {table}", name)
                   if r[0] not in ("_dlt_id", "_dlt_load_id", "_dlt_parent_id", "_dlt_root_id")]
        # when a row was marked deleted is each run's own clock; that it was is compared
        select = ", ".join(f'("{c}" IS NULL)' if c == "_klink_deleted_at" else f'CAST("{c}" AS VARCHAR)'
                           for c in sorted(columns))
        out[table] = sorted(query(tmp_path, f"SELECT {select} FROM {table}", name), key=repr)
    return out


def staging_tables(tmp_path, name):
    con = duckdb.connect(str(tmp_path / f"{name}.duckdb"), read_only=True)
    try:
        return {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = ?",
                                          [f"{DATASET_NAME}_staging"]).fetchall()}
    finally:
        con.close()


def mutate(sb):
    """Change, add and delete contacts and tickets; one contact loses all its tags."""
    sb.mutate("contacts", update=7, create=3, delete=4)
    sb.mutate("tickets", update=5, create=2, delete=3)
    contact = api_list(sb, "contacts")[0]
    patch_contact(sb, contact["id"], {"tags": [], "name": "Renamed Once"})


@pytest.mark.parametrize("delete_mode", ["soft", "hard"])
def test_direct_merge_writes_what_the_staging_merge_writes_without_staging(sandbox_factory, tmp_path, delete_mode):
    sb = sandbox_factory(contacts=60, tickets=40, cx_logs=30)
    for _ in range(2):
        for name, direct in (("direct", True), ("staged", False)):
            sync(sb, tmp_path, name=name, delete_mode=delete_mode, pipeline_options={"direct_merge": direct})
        assert snapshot(tmp_path, "direct") == snapshot(tmp_path, "staged")
        mutate(sb)
    assert not staging_tables(tmp_path, "direct") & set(TABLES)  # nothing went through staging
    assert {"contacts", "contacts__tags"} <= staging_tables(tmp_path, "staged")
    renamed = query(tmp_path, "SELECT COUNT(*) FROM contacts WHERE name = 'Renamed Once'", "direct")[0][0]
    assert renamed == 1


def test_a_run_with_another_file_format_turns_direct_merge_off(sandbox_factory, tmp_path):
    sb = sandbox_factory(contacts=30, tickets=0, cx_logs=0)
    sync(sb, tmp_path, resources=["contacts"])
    pipeline = make_pipeline(duckdb_path=str(tmp_path / "k.duckdb"), pipelines_dir=str(tmp_path / "k_pipelines"),
                             pipeline_name="klink_k")
    assert pipeline.default_schema.tables["contacts__tags"][DIRECT_MERGE_HINT] is True
    assert pipeline.state["destination_type"] == "dlt.destinations.duckdb"  # what dlt's commands re-create
    mutate(sb)
    sync(sb, tmp_path, resources=["contacts"], loader_file_format="insert_values")  # dlt's staging merge
    pipeline = make_pipeline(duckdb_path=str(tmp_path / "k.duckdb"), pipelines_dir=str(tmp_path / "k_pipelines"),
                             pipeline_name="klink_k")
    assert pipeline.default_schema.tables["contacts__tags"][DIRECT_MERGE_HINT] is False
    live = api_list(sb, "contacts")
    assert query(tmp_path, "SELECT COUNT(*), COUNT(DISTINCT id) FROM contacts WHERE _klink_deleted_at IS NULL") == [
        (len(live), len(live))]
    assert "contacts" in staging_tables(tmp_path, "k")


def test_merge_file_sql_last_occurrence_wins_and_hard_deletes_are_not_inserted(tmp_path):
    # d is read live, then deleted: its last occurrence decides
    path = tmp_path / "rows.parquet"
    pq.write_table(pa.table({"id": ["a", "b", "a", "c", "d", "d"], "v": [1, 2, 3, 4, 5, 6],
                             "gone": [None, False, None, True, None, True]}), path)
    con = duckdb.connect(str(tmp_path / "t.duckdb"))
    con.execute("CREATE TABLE t (id VARCHAR, v BIGINT, gone BOOLEAN)")
    con.execute("INSERT INTO t VALUES ('b', 20, NULL), ('c', 30, NULL), ('d', 40, NULL), ('z', 99, NULL)")
    table = {"name": "t", "write_disposition": "merge", DIRECT_MERGE_HINT: True, "columns": {
        "id": {"name": "id", "data_type": "text", "primary_key": True},
        "v": {"name": "v", "data_type": "bigint"},
        "gone": {"name": "gone", "data_type": "bool", "hard_delete": True}}}
    assert is_direct(table)
    source = f"read_parquet('{path}', file_row_number=true)"
    for _ in range(2):  # a job run again replaces its own rows
        for statement in merge_file_sql("t", source, table, lambda c: f'"{c}"'):
            con.execute(statement)
        assert con.execute("SELECT id, v FROM t ORDER BY id").fetchall() == [("a", 3), ("b", 2), ("z", 99)]


def test_only_marked_keyed_delete_insert_merge_tables_are_direct():
    keyed = {"id": {"name": "id", "data_type": "text", "primary_key": True}}
    assert is_direct({"name": "t", "write_disposition": "merge", DIRECT_MERGE_HINT: True, "columns": keyed})
    assert not is_direct({"name": "t", "write_disposition": "merge", DIRECT_MERGE_HINT: False, "columns": keyed})
    assert not is_direct({"name": "t", "write_disposition": "append", DIRECT_MERGE_HINT: True, "columns": keyed})
    assert not is_direct({"name": "t", "write_disposition": "merge", "x-merge-strategy": "upsert",
                          DIRECT_MERGE_HINT: True, "columns": keyed})
    assert not is_direct({"name": "t", "write_disposition": "merge", DIRECT_MERGE_HINT: True,
                          "columns": {"id": {"name": "id", "data_type": "text"}}})


def test_a_child_table_is_not_deduplicated_by_its_generated_row_key():
    child = {"name": "t__tags", "write_disposition": "merge", DIRECT_MERGE_HINT: True, "columns": {
        "_dlt_id": {"name": "_dlt_id", "data_type": "text", "primary_key": True, "row_key": True, "unique": True},
        "_klink_parent_id": {"name": "_klink_parent_id", "data_type": "text", "merge_key": True}}}
    delete_by_row, delete_by_parent, insert = merge_file_sql("t__tags", "src", child, lambda c: c)
    assert "d._dlt_id = s._dlt_id" in delete_by_row and "d._klink_parent_id = s._klink_parent_id" in delete_by_parent
    assert "QUALIFY" not in insert


def test_direct_merge_of_a_non_parquet_file_fails_with_a_hint(sandbox_factory, tmp_path):
    from dlt.pipeline.exceptions import PipelineStepFailed

    from sources.klink import klink_source

    sb = sandbox_factory(contacts=5, tickets=0, cx_logs=0)
    pipeline = make_pipeline(duckdb_path=str(tmp_path / "k.duckdb"), pipelines_dir=str(tmp_path / "p"))
    source = klink_source(api_token=sb.token, base_url=sb.base_url, resources=["contacts"], direct_merge=True)
    with pytest.raises(PipelineStepFailed) as failed:
        pipeline.run(source, loader_file_format="insert_values")
    assert "needs parquet files" in str(failed.value)
    assert "loader_file_format='parquet'" in str(failed.value)
