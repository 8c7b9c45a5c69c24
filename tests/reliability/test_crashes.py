"""kill -9 at 22 points across extract, normalize and load; the next run must equal a clean run exactly.

Also: a wiped pipeline folder (state comes back from the destination) and no deletions ever marked
from a killed run's partial scan.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from pipelines.klink_pipeline import DATASET_NAME
from sandbox import SandboxConfig, start_sandbox
from tests.source.helpers import sync

ROOT = Path(__file__).resolve().parents[2]

POINTS = [("page", n) for n in (1, 3, 6, 9, 12, 16, 20, 25)] + [
    ("extract_done", 1), ("normalize_start", 1), ("normalize_spooled", 1), ("normalize_done", 1),
    ("load_job", 1), ("load_job", 2), ("load_job", 3), ("load_job", 6), ("load_job", 10),
    ("package_complete_before", 1), ("package_complete_after", 1),
    ("soft_delete", 1), ("soft_delete", 2), ("run_log", 1),
]
EXTRACT_POINTS = {"page", "extract_done"}


def snapshot(db: Path) -> dict:
    """Every klink table's rows, minus dlt bookkeeping and run-specific timestamps."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        tables = [r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = ?", [DATASET_NAME]).fetchall()]
        snap = {}
        for table in sorted(tables):
            if table.startswith("_dlt") or table == "_klink_runs":
                continue
            q = f'{DATASET_NAME}."{table}"'
            if table == "_klink_deletions":
                snap[table] = sorted(con.execute(f"SELECT DISTINCT table_name, id FROM {q}").fetchall())
                continue
            cols = [r[0] for r in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ?",
                [DATASET_NAME, table]).fetchall()]
            keep = [f'"{c}"' for c in cols if not c.startswith("_dlt_") and c != "_klink_deleted_at"]
            if "_klink_deleted_at" in cols:
                keep.append("_klink_deleted_at IS NOT NULL")
            snap[table] = sorted(map(repr, con.execute(f"SELECT {', '.join(keep)} FROM {q}").fetchall()))
        return snap
    finally:
        con.close()


def marked_deleted(db: Path) -> int:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(f"SELECT COUNT(*) FROM {DATASET_NAME}.contacts WHERE _klink_deleted_at IS NOT NULL").fetchone()[0]
    finally:
        con.close()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A sandbox, a synced template before changes, the changes, and a clean reference run after them."""
    sb = start_sandbox(SandboxConfig(contacts=80, tickets=30, cx_logs=40))
    root = tmp_path_factory.mktemp("crash")
    template = root / "template"
    template.mkdir()
    sync(sb, template, "k", page_size=10)
    sb.mutate("contacts", update=5, create=5, delete=5)
    sb.mutate("tickets", update=3, delete=2)
    sb.mutate("cx_logs", update=3, create=4)
    reference = root / "reference"
    shutil.copytree(template, reference)
    sync(sb, reference, "k", page_size=10)
    expected = snapshot(reference / "k.duckdb")
    assert marked_deleted(reference / "k.duckdb") == 5
    yield sb, root, template, expected
    sb.stop()


@pytest.mark.heavy
@pytest.mark.parametrize("point,nth", POINTS, ids=[f"{p}-{n}" for p, n in POINTS])
def test_kill_9_then_next_run_is_exact(world, point, nth):
    sb, root, template, expected = world
    case = root / f"{point}-{nth}"
    shutil.copytree(template, case)
    proc = subprocess.run(
        [sys.executable, "-m", "tests.reliability.crash_driver", point, str(nth), str(case), sb.base_url, sb.token,
         sb.now().isoformat()],
        cwd=ROOT, capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == -signal.SIGKILL, f"point {point}#{nth} not reached: rc={proc.returncode}\n{proc.stderr[-2000:]}"
    if point in EXTRACT_POINTS:
        assert marked_deleted(case / "k.duckdb") == 0  # a killed scan never marks deletions
    sync(sb, case, "k", page_size=10)
    assert snapshot(case / "k.duckdb") == expected


def test_wiped_pipeline_folder_recovers_state_from_destination(world):
    sb, root, template, expected = world
    case = root / "wiped"
    shutil.copytree(template, case)
    shutil.rmtree(case / "k_pipelines")
    result = sync(sb, case, "k", page_size=10)
    assert snapshot(case / "k.duckdb") == expected
    runs = {r["resource"]: r for r in result.resources}
    assert (runs["contacts"]["new"], runs["contacts"]["changed"], runs["contacts"]["deleted"]) == (5, 5, 5)
