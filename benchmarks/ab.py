"""`python -m benchmarks.ab REV [--against REV2]`: one lever's effect, klink at two commits, alternating.

    python -m benchmarks.ab HEAD~1                      # HEAD~1 against the working tree
    python -m benchmarks.ab ef6c97e --against 8df5143 --rounds 4 --records 100000

Each round runs a full sync then a no-change re-run of both trees against one sandbox, in alternating
order, so drift of the machine's speed lands on both; prints each run and the medians. A revision is
checked out into a temporary git worktree (removed at the end); the working tree is used as it is.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Optional

from .__main__ import child_options
from .harness import REPO, SandboxProcess, run_child
from .variants import VARIANTS


def checkout(rev: Optional[str], into: Path) -> Path:
    """A worktree of `rev` under `into`, or the repository itself for None."""
    if rev is None:
        return REPO
    path = into / rev.replace("/", "_")
    subprocess.run(["git", "worktree", "add", "--detach", str(path), rev], cwd=REPO, check=True,
                   capture_output=True)
    return path


def main(argv: List[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.ab", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("rev", help="the baseline commit")
    ap.add_argument("--against", default=None, help="the commit to compare (default: the working tree)")
    ap.add_argument("--records", type=int, default=100_000, help="per list (contacts, tickets, cx-logs)")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args(argv)
    scratch = Path(tempfile.mkdtemp(prefix="klink-ab-"))
    trees = {args.rev: checkout(args.rev, scratch), args.against or "working tree": checkout(args.against, scratch)}
    runs: Dict[str, List[tuple]] = {name: [] for name in trees}
    sb = SandboxProcess(args.records, args.records, args.records)
    try:
        sb.warm()
        now = sb.now()
        for r in range(args.rounds):
            for name in (list(trees) if r % 2 == 0 else list(trees)[::-1]):
                work = Path(tempfile.mkdtemp(dir=scratch))
                env = {"PYTHONPATH": str(trees[name])}
                full = run_child("klink", sb, work, child_options(VARIANTS["klink"], sb, now, False), env)
                rerun = run_child("klink_rerun", sb, work, child_options(VARIANTS["klink_rerun"], sb, now, False), env)
                ok = "ok" if full.returncode == rerun.returncode == 0 else f"FAILED {full.stderr_tail or rerun.stderr_tail}"
                runs[name].append((full.wall, rerun.wall, full.max_rss_mb, full.tree_rss_mb))
                print(f"round {r + 1} {name}: full {full.wall:.2f} s ({full.cpu:.1f} CPU s, {full.max_rss_mb:.0f} MB, "
                      f"{full.tree_rss_mb:.0f} MB all processes), re-run {rerun.wall:.2f} s [{ok}]", flush=True)
                shutil.rmtree(work, ignore_errors=True)
    finally:
        sb.stop()
        for tree in trees.values():
            if tree != REPO:
                subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=REPO, capture_output=True)
        shutil.rmtree(scratch, ignore_errors=True)
    for name, rows in runs.items():
        full, rerun, peak, tree = (statistics.median(column) for column in zip(*rows, strict=True))
        print(f"{name}: median full {full:.2f} s, re-run {rerun:.2f} s, peak {peak:.0f} MB, all processes {tree:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
