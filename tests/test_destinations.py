"""`klink sync` into each proven destination: DuckDB (default), PostgreSQL (a real server), parquet files.

PostgreSQL tests need `KLINK_TEST_POSTGRES_DSN` (postgresql://user:pass@host:port/db) pointing at a
reachable server; `.ci/run` installs one from Debian packages and sets it. Without it they skip.
"""

from __future__ import annotations

import glob
import os
import uuid
from pathlib import Path

import duckdb
import pytest

from tests.cli_helpers import count, klink, lines, sandbox_env, window_args

SIZES = {"contacts": 90, "tickets": 70, "cx_logs": 60, "agent_activities": 20}
STATIC = {"tags": 12, "channels": 6, "contact_groups": 5}
DSN = os.environ.get("KLINK_TEST_POSTGRES_DSN", "")


def _postgres_unavailable() -> str:
    if not DSN:
        return "KLINK_TEST_POSTGRES_DSN is not set (bash .ci/run installs PostgreSQL and sets it)"
    try:
        import psycopg2
    except ImportError:
        return "psycopg2 is not installed (pip install -e '.[postgres]')"
    try:
        psycopg2.connect(DSN, connect_timeout=3).close()
    except Exception as exc:
        return f"no PostgreSQL reachable at KLINK_TEST_POSTGRES_DSN ({type(exc).__name__}: {str(exc).strip()[:120]})"
    return ""


@pytest.fixture
def postgres_dataset():
    """A unique schema name in the test database, dropped afterwards."""
    reason = _postgres_unavailable()
    if reason:
        pytest.skip(reason)
    import psycopg2

    name = f"klink_test_{uuid.uuid4().hex[:10]}"
    yield name
    with psycopg2.connect(DSN) as con, con.cursor() as cur:
        cur.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def pg_scalar(sql: str) -> int:
    import psycopg2

    with psycopg2.connect(DSN) as con, con.cursor() as cur:
        cur.execute(sql)
        return cur.fetchone()[0]


def test_duckdb_file_at_a_chosen_path(sandbox_factory, tmp_path):
    sb = sandbox_factory(**SIZES)
    target = tmp_path / "warehouse" / "crm.duckdb"
    target.parent.mkdir()
    result = klink("sync", "--destination", "duckdb", "--duckdb-path", str(target), "--dataset", "klink",
                   *window_args(sb), cwd=tmp_path / "work", env=sandbox_env(sb, tmp_path / "state"))
    assert result.returncode == 0, result.stderr
    for table, expected in {**SIZES, **STATIC}.items():
        assert count(target, f"SELECT COUNT(*) FROM klink.{table}") == expected, table
    assert not (tmp_path / "work" / "klink.duckdb").exists()


@pytest.mark.postgres
def test_postgres_full_incremental_and_status(sandbox_factory, tmp_path, postgres_dataset):
    sb = sandbox_factory(**SIZES)
    work = tmp_path / "work"
    env = sandbox_env(sb, tmp_path / "state", DESTINATION__POSTGRES__CREDENTIALS=DSN)
    args = ["--destination", "postgres", "--dataset", postgres_dataset]

    first = klink("sync", *args, *window_args(sb), cwd=work, env=env)
    assert first.returncode == 0, first.stderr
    assert "to postgres" in first.stdout
    for table, expected in {**SIZES, **STATIC}.items():
        assert pg_scalar(f'SELECT COUNT(*) FROM "{postgres_dataset}"."{table}"') == expected, table
    assert not (work / "klink.duckdb").exists()

    sb.mutate("contacts", update=4, create=3, delete=2)
    second = klink("sync", *args, "--resources", "contacts", cwd=work, env=env)
    assert second.returncode == 0, second.stderr
    assert "3 new, 4 changed, 2 deleted" in second.stdout
    assert pg_scalar(f'SELECT COUNT(*) FROM "{postgres_dataset}".contacts') == SIZES["contacts"] + 3
    assert pg_scalar(f'SELECT COUNT(*) FROM "{postgres_dataset}".contacts WHERE _klink_deleted_at IS NOT NULL') == 2

    status = klink("status", *args, cwd=work, env=env)
    assert status.returncode == 0, status.stderr
    assert "postgres (dataset" in status.stdout and "contacts" in status.stdout


@pytest.mark.postgres
def test_postgres_password_never_printed(sandbox, tmp_path, postgres_dataset):
    bad = DSN.replace("klink:klink@", "klink:not-the-password@") if "klink:klink@" in DSN else None
    if bad is None:
        pytest.skip("KLINK_TEST_POSTGRES_DSN does not use the .ci/run credentials")
    env = sandbox_env(sandbox, tmp_path / "state", DESTINATION__POSTGRES__CREDENTIALS=bad)
    result = klink("sync", "--destination", "postgres", "--dataset", postgres_dataset, "--resources", "tags",
                   cwd=tmp_path / "work", env=env)
    assert result.returncode == 1
    assert "not-the-password" not in result.stderr + result.stdout
    assert "destination.postgres.credentials" in lines(result.stderr)[-1]


def test_postgres_unreachable_is_one_line_with_the_setting(sandbox, tmp_path):
    env = sandbox_env(sandbox, tmp_path / "state",
                      DESTINATION__POSTGRES__CREDENTIALS="postgresql://klink:s3cret-pw@127.0.0.1:9/klink")
    result = klink("sync", "--destination", "postgres", "--resources", "tags", cwd=tmp_path / "work", env=env)
    assert result.returncode == 1
    assert len(lines(result.stderr)) == 1, result.stderr
    assert "destination.postgres.credentials" in result.stderr
    assert "s3cret-pw" not in result.stderr


@pytest.mark.postgres
def test_postgres_status_before_any_sync(tmp_path, postgres_dataset):
    result = klink("status", "--destination", "postgres", "--dataset", postgres_dataset, cwd=tmp_path,
                   env={"DESTINATION__POSTGRES__CREDENTIALS": DSN, "KLINK__PIPELINES_DIR": str(tmp_path / "s")})
    assert result.returncode == 1
    assert "nothing loaded yet into postgres" in result.stderr and len(lines(result.stderr)) == 1


def test_postgres_without_credentials_exits_2(sandbox, tmp_path):
    result = klink("sync", "--destination", "postgres", cwd=tmp_path / "work",
                   env=sandbox_env(sandbox, tmp_path / "state"))
    assert result.returncode == 2
    assert "destination.postgres.credentials (env DESTINATION__POSTGRES__CREDENTIALS)" in result.stderr


def _parquet_rows(lake: Path, table: str) -> int:
    files = glob.glob(str(lake / "klink_data" / table / "*.parquet"))
    assert files, f"no parquet files for {table}"
    with duckdb.connect() as con:
        return con.execute(f"SELECT COUNT(*) FROM read_parquet({sorted(files)!r})").fetchone()[0]


def test_filesystem_writes_parquet(sandbox_factory, tmp_path):
    sb = sandbox_factory(**SIZES)
    lake = tmp_path / "lake"
    work = tmp_path / "work"
    env = sandbox_env(sb, tmp_path / "state", DESTINATION__FILESYSTEM__BUCKET_URL=str(lake))
    first = klink("sync", "--destination", "filesystem", *window_args(sb), cwd=work, env=env)
    assert first.returncode == 0, first.stderr
    assert first.stderr == ""  # the expected "falling back to append" warnings are not cron mail
    for table, expected in {**SIZES, **STATIC}.items():
        assert _parquet_rows(lake, table) == expected, table
    data_files = [p for p in lake.rglob("*") if p.is_file() and not p.parent.name.startswith("_dlt")
                  and p.name not in ("init",) and not p.name.endswith("schema.json")]
    assert data_files and all(p.suffix == ".parquet" for p in data_files), data_files
    assert not (work / "klink.duckdb").exists()

    # incremental: only new and changed rows are appended; deletions are recorded, not applied
    sb.mutate("contacts", update=4, create=3, delete=2)
    second = klink("sync", "--destination", "filesystem", "--resources", "contacts", cwd=work, env=env)
    assert second.returncode == 0, second.stderr
    assert "3 new, 4 changed, 2 deleted" in second.stdout
    assert _parquet_rows(lake, "contacts") == SIZES["contacts"] + 3 + 4
    assert _parquet_rows(lake, "_klink_deletions") == 2


def test_filesystem_records_each_deletion_once(sandbox, tmp_path):
    lake = tmp_path / "lake"
    env = sandbox_env(sandbox, tmp_path / "state", DESTINATION__FILESYSTEM__BUCKET_URL=str(lake))
    args = ["sync", "--destination", "filesystem", "--resources", "tags"]
    assert klink(*args, cwd=tmp_path, env=env).returncode == 0
    sandbox.mutate("tags", delete=1)
    assert klink(*args, cwd=tmp_path, env=env).returncode == 0
    third = klink(*args, cwd=tmp_path, env=env)
    assert third.returncode == 0
    assert "0 deleted" in third.stdout
    assert _parquet_rows(lake, "_klink_deletions") == 1


def test_filesystem_unchanged_rows_stay_unchanged_after_repeated_changes(sandbox_factory, tmp_path):
    sb = sandbox_factory(contacts=150, tickets=0, cx_logs=0, agent_activities=0)
    env = sandbox_env(sb, tmp_path / "state", DESTINATION__FILESYSTEM__BUCKET_URL=str(tmp_path / "lake"))
    args = ["sync", "--destination", "filesystem", "--resources", "contacts"]
    assert klink(*args, cwd=tmp_path, env=env).returncode == 0
    for _ in range(3):
        sb.mutate("contacts", update=30)
        assert klink(*args, cwd=tmp_path, env=env).returncode == 0
    quiet = klink(*args, cwd=tmp_path, env=env)
    assert quiet.returncode == 0
    assert "0 new, 0 changed, 0 deleted" in quiet.stdout, quiet.stdout
