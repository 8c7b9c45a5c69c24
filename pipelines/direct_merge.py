"""DuckDB destination that merges the klink tables without a staging copy.

dlt's merge copies each file into a staging table, then deletes the staged keys from the table and
inserts the deduplicated staged rows: every row is written twice, and both copies are checkpointed.
For a table the klink source marks with `DIRECT_MERGE_HINT` (run_sync does so when it loads parquet
into this destination), one transaction per file deletes the file's keys from the table and inserts
the file's rows, the last occurrence of each primary key winning. Rows are written once, and a job dlt
re-runs after a crash replaces the rows it wrote instead of doubling them.

Measured on the load of 100k contacts + 100k tickets + 100k cx-logs (1.2M rows in 10 tables): the same
files replayed into an empty DuckDB, SQL and checkpoints, 12.4-13.5 s through staging, 5.6 s direct; in
the benchmark the load step 16.0 -> 6.1 s (lever `klink_staging_merge`, docs/performance.md).

Any other destination, and stock `duckdb` (what `dlt pipeline` commands re-create from the state),
ignore the hint and merge the same package through staging, with the same result.
"""

from __future__ import annotations

from typing import Callable, List, Optional, Sequence, Type

from dlt.common.destination.client import FollowupJobRequest, LoadJob, PreparedTableSchema
from dlt.common.destination.reference import DestinationReference
from dlt.common.schema.utils import get_columns_names_with_prop
from dlt.common.storages.load_storage import ParsedLoadJobFileName
from dlt.destinations.impl.duckdb.duck import DuckDbClient, DuckDbCopyJob
from dlt.destinations.impl.duckdb.factory import duckdb

from sources.klink.exceptions import KlinkConfigError
from sources.klink.settings import DIRECT_MERGE_HINT


def is_direct(table: PreparedTableSchema) -> bool:
    """Whether `table` is merged file by file (marked by the source, delete-insert, keyed)."""
    keys = get_columns_names_with_prop(table, "primary_key") + get_columns_names_with_prop(table, "merge_key")
    return (
        bool(table.get(DIRECT_MERGE_HINT))
        and table.get("write_disposition") == "merge"
        and table.get("x-merge-strategy", "delete-insert") == "delete-insert"  # type: ignore[comparison-overlap]
        and bool(keys)
    )


def merge_file_sql(qualified_table: str, source: str, table: PreparedTableSchema,
                   quote: Callable[[str], str]) -> List[str]:
    """Statements that merge the rows of `source` (a table expression) into `qualified_table`:
    delete the rows matching its primary key, then those matching its merge key, then insert."""
    primary_names = get_columns_names_with_prop(table, "primary_key")
    primary = [quote(c) for c in primary_names]
    merge = [quote(c) for c in get_columns_names_with_prop(table, "merge_key")]
    # a row key (a child's _dlt_id) is unique as generated: nothing in one file to deduplicate
    dedup = bool(primary_names) and primary_names != get_columns_names_with_prop(table, "row_key")
    sql = [f"DELETE FROM {qualified_table} AS d WHERE EXISTS (SELECT 1 FROM {source} AS s WHERE "
           + " AND ".join(f"d.{k} = s.{k}" for k in keys) + ")"
           for keys in (primary, merge) if keys]
    keep = []
    hard_delete = get_columns_names_with_prop(table, "hard_delete")
    if hard_delete:
        column = table["columns"][hard_delete[0]]
        flag = quote(hard_delete[0])
        keep.append(f"{flag} IS DISTINCT FROM TRUE" if column.get("data_type") == "bool" else f"{flag} IS NULL")
    if dedup:  # the last occurrence of a key decides, a hard delete included (the source's "later read wins")
        row_filter = (f" QUALIFY ROW_NUMBER() OVER (PARTITION BY {', '.join(primary)} ORDER BY file_row_number DESC)"
                      " = 1" + "".join(f" AND {condition}" for condition in keep))
    else:
        row_filter = f" WHERE {' AND '.join(keep)}" if keep else ""
    sql.append(f"INSERT INTO {qualified_table} BY NAME SELECT * EXCLUDE (file_row_number) FROM {source}{row_filter}")
    return sql


class DirectMergeJob(DuckDbCopyJob):
    """Merges one parquet file into its table in one transaction."""

    def run(self) -> None:
        self._sql_client = self._job_client.sql_client
        if ParsedLoadJobFileName.parse(self._file_path).file_format != "parquet":
            raise KlinkConfigError(
                f"direct merge of {self.load_table_name} needs parquet files, got {self._file_path}",
                hint="load with loader_file_format='parquet' or build the source with direct_merge=False",
            )
        table = self._sql_client.make_qualified_table_name(self.load_table_name)
        path = self._file_path.replace("'", "''")
        source = f"read_parquet('{path}', union_by_name=true, file_row_number=true)"
        with self._sql_client.begin_transaction():
            for statement in merge_file_sql(table, source, self._load_table, self._sql_client.escape_column_name):
                self._sql_client.execute_sql(statement)


class DirectMergeDuckDbClient(DuckDbClient):
    """DuckDB's job client, loading marked merge tables straight into the dataset."""

    def should_load_data_to_staging_dataset(self, table_name: str) -> bool:
        if is_direct(self.prepare_load_table(table_name)):
            return False
        return super().should_load_data_to_staging_dataset(table_name)

    def create_load_job(self, table: PreparedTableSchema, file_path: str, load_id: str,
                        restore: bool = False) -> LoadJob:
        if is_direct(table) and not file_path.endswith(".sql"):
            return DirectMergeJob(file_path)
        return super().create_load_job(table, file_path, load_id, restore)

    def _create_merge_followup_jobs(self, table_chain: Sequence[PreparedTableSchema]) -> List[FollowupJobRequest]:
        if is_direct(table_chain[0]):
            return []
        return super()._create_merge_followup_jobs(table_chain)


class klink_duckdb(duckdb):  # noqa: N801 - dlt names destination factories in lower case
    """`dlt.destinations.duckdb` with direct merges for the tables the klink source marks."""

    @property
    def client_class(self) -> Type[DuckDbClient]:
        return DirectMergeDuckDbClient

    @property
    def destination_type(self) -> str:
        # recorded in the pipeline state as plain duckdb, so dlt's commands and config sections see DuckDB
        return DestinationReference.normalize_type(f"{duckdb.__module__}.{duckdb.__qualname__}")


def supports_direct_merge(destination: Optional[object]) -> bool:
    """Whether loads into `destination` merge marked tables directly."""
    return isinstance(destination, klink_duckdb)
