"""pipelines/klink_pipeline.py: the pipeline factory's DuckDB settings, how a sync extracts."""

from __future__ import annotations

import os

import dlt
import pytest

from pipelines.klink_pipeline import (
    DUCKDB_MEMORY_LIMIT,
    NEXT_ITEM_MODE_ENV,
    make_pipeline,
    one_resource_at_a_time,
)


@pytest.mark.parametrize("limit,expected", [(DUCKDB_MEMORY_LIMIT, "244.1 MiB"), ("200MB", "190.7 MiB")])
def test_duckdb_memory_limit_is_applied(tmp_path, limit, expected):
    pipeline = make_pipeline(duckdb_path=str(tmp_path / "k.duckdb"), pipelines_dir=str(tmp_path / "p"),
                             duckdb_memory_limit=limit)
    with pipeline.sql_client() as client:
        assert client.execute_sql("SELECT current_setting('memory_limit')") == [(expected,)]


def test_duckdb_memory_limit_none_keeps_duckdbs_default(tmp_path):
    capped = make_pipeline(duckdb_path=str(tmp_path / "a.duckdb"), pipelines_dir=str(tmp_path / "p"),
                           pipeline_name="a")
    free = make_pipeline(duckdb_path=str(tmp_path / "b.duckdb"), pipelines_dir=str(tmp_path / "p"),
                         pipeline_name="b", duckdb_memory_limit="none")
    with capped.sql_client() as a, free.sql_client() as b:
        assert a.execute_sql("SELECT current_setting('memory_limit')") != b.execute_sql(
            "SELECT current_setting('memory_limit')")


def test_resources_are_extracted_one_at_a_time_unless_configured(monkeypatch):
    monkeypatch.delenv(NEXT_ITEM_MODE_ENV, raising=False)
    with one_resource_at_a_time():
        assert os.environ[NEXT_ITEM_MODE_ENV] == "fifo"
        assert dlt.config.get("extract.next_item_mode") == "fifo"
    assert NEXT_ITEM_MODE_ENV not in os.environ
    monkeypatch.setenv(NEXT_ITEM_MODE_ENV, "round_robin")  # the user's choice wins
    with one_resource_at_a_time():
        assert os.environ[NEXT_ITEM_MODE_ENV] == "round_robin"
    assert os.environ[NEXT_ITEM_MODE_ENV] == "round_robin"


@pytest.mark.parametrize("env_value,direct", [(None, True), ("false", False), ("true", True)])
def test_klink_duckdb_direct_merge_setting_picks_the_destination(tmp_path, monkeypatch, env_value, direct):
    import argparse

    from pipelines.cli_common import runner_settings
    from pipelines.cli_sync import open_pipeline
    from pipelines.direct_merge import supports_direct_merge

    if env_value is not None:
        monkeypatch.setenv("KLINK__DUCKDB_DIRECT_MERGE", env_value)
    monkeypatch.chdir(tmp_path)
    settings = runner_settings(argparse.Namespace(pipelines_dir=str(tmp_path / "p")))
    assert settings["duckdb_direct_merge"] is direct
    assert supports_direct_merge(open_pipeline(settings).destination) is direct
