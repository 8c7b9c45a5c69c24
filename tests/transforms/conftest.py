"""Fixtures for the transform tests: a pipeline on DuckDB or PostgreSQL, filled from the sandbox."""

from __future__ import annotations

import os
import uuid
from typing import Any, Callable, Iterator, List

import pytest

PG_ENV = "KLINK_TEST_POSTGRES_DSN"


def _reachable(dsn: str) -> str:
    """'' when a connection works, else why not."""
    try:
        import psycopg2
    except ImportError:
        return "psycopg2 is not installed"
    try:
        psycopg2.connect(dsn, connect_timeout=3).close()
    except Exception as exc:
        return f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}"
    return ""


@pytest.fixture(scope="session")
def pg_dsn() -> str:
    """The PostgreSQL DSN from KLINK_TEST_POSTGRES_DSN; the test is skipped when unset or unreachable."""
    dsn = os.environ.get(PG_ENV, "").strip()
    if not dsn:
        pytest.skip(f"{PG_ENV} is not set (e.g. postgresql://klink:klink@127.0.0.1:5432/klink)")
    problem = _reachable(dsn)
    if problem:
        pytest.skip(f"PostgreSQL at {PG_ENV} is not reachable: {problem}")
    return dsn


@pytest.fixture
def pipeline_factory(tmp_path, request) -> Iterator[Callable[[str], Any]]:
    """factory(backend) -> a fresh klink pipeline on 'duckdb' (a file in tmp_path) or 'postgres'
    (a unique dataset, dropped with its staging and models schemas at teardown)."""
    from pipelines.klink_pipeline import make_pipeline

    made: List[Any] = []

    def factory(backend: str, name: str = "k") -> Any:
        if backend == "duckdb":
            pipeline = make_pipeline(duckdb_path=str(tmp_path / f"{name}.duckdb"),
                                     pipelines_dir=str(tmp_path / f"{name}_pipelines"), pipeline_name=f"klink_{name}")
        elif backend == "postgres":
            import dlt

            dsn = request.getfixturevalue("pg_dsn")
            dataset = f"tx_{uuid.uuid4().hex[:10]}"
            pipeline = make_pipeline(destination=dlt.destinations.postgres(dsn), dataset_name=dataset,
                                     pipelines_dir=str(tmp_path / f"{name}_pipelines"), pipeline_name=f"klink_{name}")
            made.append((dsn, dataset))
        else:
            raise ValueError(backend)
        return pipeline

    yield factory
    for dsn, dataset in made:
        import psycopg2

        con = psycopg2.connect(dsn)
        con.autocommit = True
        with con.cursor() as cur:
            for schema in (dataset, f"{dataset}_staging", f"{dataset}_models"):
                cur.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        con.close()
