"""`python -m benchmarks --quick` runs every default variant and prints the table (no timing assertions)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from benchmarks.variants import DEFAULT

REPO = Path(__file__).resolve().parent.parent


def test_quick_benchmark_prints_every_variant_with_minimum_requests():
    proc = subprocess.run([sys.executable, "-m", "benchmarks", "--quick"], cwd=REPO, capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = {}
    for line in proc.stdout.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[0] in DEFAULT:
            rows[cells[0]] = cells
    assert set(rows) == set(DEFAULT), proc.stdout
    assert "| variant " in proc.stdout and "requests made/min" in proc.stdout
    for name, cells in rows.items():
        assert "FAILED" not in cells, (name, proc.stderr[-3000:])
        assert cells[-1] == "ok", (name, cells)  # every parent row landed
    made, minimum = rows["klink"][7].split("/")
    assert int(made) == int(minimum), rows["klink"]
    assert "klink vs stock_dlt, speedup:" in proc.stdout and "klink throughput as % of floor:" in proc.stdout


def test_ab_runs_a_commit_against_the_working_tree_and_cleans_up():
    worktrees = subprocess.run(["git", "worktree", "list"], cwd=REPO, capture_output=True, text=True).stdout
    proc = subprocess.run([sys.executable, "-m", "benchmarks.ab", "HEAD", "--records", "200", "--rounds", "2"],
                          cwd=REPO, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    runs = [line for line in proc.stdout.splitlines() if line.startswith("round ")]
    assert len(runs) == 4 and all(line.endswith("[ok]") for line in runs), proc.stdout
    assert [line.split(":")[0] for line in runs] == ["round 1 HEAD", "round 1 working tree",
                                                     "round 2 working tree", "round 2 HEAD"]
    assert "HEAD: median full" in proc.stdout and "working tree: median full" in proc.stdout
    assert subprocess.run(["git", "worktree", "list"], cwd=REPO, capture_output=True, text=True).stdout == worktrees
