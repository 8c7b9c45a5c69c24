"""The table: medians per variant, then ratios computed pair by pair within each round."""

from __future__ import annotations

import statistics
from typing import Dict, List, Optional

from .harness import Measurement

HEADER = ("variant", "wall s", "records/s", "CPU s/1k rec", "peak RSS MB", "sandbox CPU s",
          "requests made/min", "rows written", "parents")


def data_rows(m: Measurement) -> int:
    """Rows written to data tables (not dlt's `_dlt_*` nor the source's `_klink_*` bookkeeping)."""
    return sum(n for t, n in m.result.get("rows_written", {}).items() if not t.startswith("_"))


def bookkeeping_rows(m: Measurement) -> int:
    return sum(n for t, n in m.result.get("rows_written", {}).items() if t.startswith("_klink"))


def _median(values: List[float]) -> float:
    return statistics.median(values) if values else float("nan")


def summarize(name: str, runs: List[Measurement], records: int, minimum: int, sizes: Dict[str, int]) -> List[str]:
    ok = [m for m in runs if m.returncode == 0]
    if not ok:
        return [name, "FAILED", "", "", "", "", "", "", "", runs[0].stderr_tail.strip().splitlines()[-1:][0]
                if runs and runs[0].stderr_tail.strip() else "failed"]
    wall = _median([m.wall for m in ok])
    cpu = _median([m.cpu for m in ok])
    parents = ok[-1].result.get("parents", {})
    lost = {t: sizes[t] - parents.get(t, 0) for t in sizes if parents.get(t, 0) != sizes[t]}
    written = int(_median([data_rows(m) for m in ok]))
    extra = int(_median([bookkeeping_rows(m) for m in ok]))
    return [
        name, f"{wall:.2f}", f"{records / wall:,.0f}", f"{cpu / records * 1000:.3f}",
        f"{_median([m.max_rss_mb for m in ok]):.0f}", f"{_median([m.sandbox_cpu for m in ok]):.1f}",
        f"{int(_median([m.requests for m in ok]))}/{minimum}",
        f"{written:,}" + (f" (+{extra} log)" if extra else ""),
        "ok" if not lost else "MISSING " + ", ".join(f"{t} {n}" for t, n in lost.items()),
    ]


def table(rows: List[List[str]]) -> str:
    widths = [max(len(str(r[i])) for r in [list(HEADER), *rows]) for i in range(len(HEADER))]
    fmt = lambda r: "| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) + " |"  # noqa: E731
    return "\n".join([fmt(HEADER), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(fmt, rows)])


def _pairs(rounds: List[Dict[str, Measurement]], a: str, b: str) -> List[float]:
    """b's wall / a's wall per round where both succeeded."""
    return [r[b].wall / r[a].wall for r in rounds
            if a in r and b in r and r[a].returncode == 0 and r[b].returncode == 0]


def ratios(rounds: List[Dict[str, Measurement]], ceiling_seconds: Optional[float] = None) -> List[str]:
    lines = []
    speedup = _pairs(rounds, "klink", "stock_dlt")
    if speedup:
        lines.append(f"klink vs stock_dlt: {_median(speedup):.1f}x faster (per round: "
                     + ", ".join(f"{x:.1f}" for x in speedup) + ")  [target >= 10x]")
    floor = _pairs(rounds, "klink", "floor")
    if floor:
        lines.append(f"klink throughput vs floor: {_median(floor) * 100:.0f}% (per round: "
                     + ", ".join(f"{x * 100:.0f}" for x in floor) + ")  [target >= 50%]")
    rerun = _pairs(rounds, "klink", "klink_rerun")
    if rerun:
        lines.append(f"klink_rerun / klink wall: {_median(rerun) * 100:.0f}% (per round: "
                     + ", ".join(f"{x * 100:.0f}" for x in rerun) + ")  [target <= 25%]")
    names = sorted({n for r in rounds for n in r if n.startswith("klink_") and n != "klink_rerun"})
    for name in names:
        lever = _pairs(rounds, "klink", name)
        if lever:
            lines.append(f"{name} / klink wall: {_median(lever) * 100:.0f}%")
    if ceiling_seconds:
        walls = [r["klink"].wall for r in rounds if "klink" in r and r["klink"].returncode == 0]
        if walls:
            lines.append(f"klink vs the rate-limit ceiling ({ceiling_seconds:.0f} s of requests at the limit): "
                         f"{ceiling_seconds / _median(walls) * 100:.0f}% of ceiling throughput  [target >= 95%]")
    return lines


def phases_line(name: str, runs: List[Measurement]) -> Optional[str]:
    ok = [m.result.get("phases", {}) for m in runs if m.returncode == 0]
    keys = [k for k in ("extract", "normalize", "load") if all(k in p for p in ok)] if ok else []
    if not keys:
        return None
    return f"  {name}: " + ", ".join(f"{k} {_median([p[k] for p in ok]):.2f} s" for k in keys)
