"""The table: medians per variant, then ratios computed pair by pair within each round."""

from __future__ import annotations

import statistics
from typing import Dict, List, Optional

from .harness import Measurement

HEADER = ("variant", "wall s", "records/s", "CPU s/1k rec", "peak RSS MB", "all processes MB", "sandbox CPU s",
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
        last = runs[0].stderr_tail.strip().splitlines()[-1:] if runs else []
        reason = last[0][:60] if last else "failed"
        wall = _median([m.wall for m in runs])
        return [name, f"> {wall:.0f}" if "killed" in reason else "FAILED", "", "", f">= {max(m.max_rss_mb for m in runs):.0f}",
                "", "", "", "", reason]
    wall = _median([m.wall for m in ok])
    cpu = _median([m.cpu for m in ok])
    parents = ok[-1].result.get("parents", {})
    lost = {t: sizes[t] - parents.get(t, 0) for t in sizes if parents.get(t, 0) != sizes[t]}
    written = int(_median([data_rows(m) for m in ok]))
    extra = int(_median([bookkeeping_rows(m) for m in ok]))
    return [
        name, f"{wall:.2f}", f"{records / wall:,.0f}", f"{cpu / records * 1000:.3f}",
        f"{_median([m.max_rss_mb for m in ok]):.0f}", f"{_median([m.tree_rss_mb for m in ok]):.0f}",
        f"{_median([m.sandbox_cpu for m in ok]):.1f}",
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


def _killed_pairs(rounds: List[Dict[str, Measurement]], a: str, b: str) -> List[float]:
    """Like _pairs for a `b` killed at the time or memory cap: its wall is then a lower bound."""
    return [r[b].wall / r[a].wall for r in rounds
            if a in r and b in r and r[a].returncode == 0 and "killed" in r[b].stderr_tail]


def _line(label: str, values: List[float], target: str, percent: bool = False) -> str:
    fmt = (lambda x: f"{x * 100:.0f}%") if percent else (lambda x: f"{x:.1f}x")
    return f"{label}: {fmt(_median(values))} (per round: {', '.join(fmt(x) for x in values)})  [{target}]"


def ratios(rounds: List[Dict[str, Measurement]], ceilings: Optional[Dict[str, float]] = None) -> List[str]:
    lines = []
    for full in ("klink",):
        if speedup := _pairs(rounds, full, "stock_dlt"):
            lines.append(_line(f"{full} vs stock_dlt, speedup", speedup, "target >= 10x"))
        elif bound := _killed_pairs(rounds, full, "stock_dlt"):
            lines.append(_line(f"{full} vs stock_dlt (killed at the cap: a lower bound), speedup >=", bound,
                               "target >= 10x"))
        if speedup := _pairs(rounds, full, "stock_dlt_parquet"):
            lines.append(_line(f"{full} vs stock_dlt_parquet, speedup", speedup, "no target"))
        if floor := _pairs(rounds, full, "floor"):
            lines.append(_line(f"{full} throughput as % of floor", floor, "target >= 50%", percent=True))
        if rerun := _pairs(rounds, full, f"{full}_rerun"):
            lines.append(_line(f"{full}_rerun wall as % of {full}", rerun, "target <= 25%", percent=True))
    names = sorted({n for r in rounds for n in r if n.startswith("klink_") and not n.endswith("_rerun")})
    for name in names:
        base = "klink"
        if name != base and (lever := _pairs(rounds, base, name)):
            lines.append(_line(f"lever {name}: wall as % of {base}", lever, "< 100% = faster", percent=True))
    for name, ceiling in (ceilings or {}).items():
        ok = [r[name] for r in rounds if name in r and r[name].returncode == 0]
        if ok:
            lines.append(f"{name} vs the rate-limit ceiling ({ceiling:.0f} s = its minimum requests at the limit):"
                         f" {ceiling / _median([m.wall for m in ok]) * 100:.0f}% end to end  [target >= 95%]")
            extract = [m.requests / m.result["phases"]["extract"] * 60 for m in ok
                       if m.result.get("phases", {}).get("extract")]
            if extract:
                lines.append(f"{name} request rate while extracting: {_median(extract):.0f}/min of the 700/min limit"
                             f" ({_median(extract) / 7:.0f}%)")
    return lines


def phases_line(name: str, runs: List[Measurement]) -> Optional[str]:
    ok = [m.result.get("phases", {}) for m in runs if m.returncode == 0]
    keys = [k for k in ("extract", "normalize", "load") if all(k in p for p in ok)] if ok else []
    if not keys:
        return None
    return f"  {name}: " + ", ".join(f"{k} {_median([p[k] for p in ok]):.2f} s" for k in keys)
