"""`klink report`: a static, self-contained HTML page of the main aggregates (inline SVG, no network).

Reads only the models (run `klink transform` first): daily volume by channel and SLA % from
`agg_daily_channel_volume`, the backlog from `agg_ticket_backlog_daily`, the agent table from
`fct_cx_logs` (medians over the whole window cannot be built from daily medians).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any, Dict, List, Optional

from . import charts
from .runner import models_dataset_name

REQUIRED = ("agg_daily_channel_volume", "agg_ticket_backlog_daily", "fct_cx_logs")


class ReportError(RuntimeError):
    """The models the report reads are missing."""


@dataclass
class ReportData:
    start: dt.date
    end: dt.date
    days: List[dt.date]
    volume: Dict[str, List[int]]  # channel -> interactions per day
    sla_pct: List[Optional[float]]  # per day, None when no SLA outcome is known
    backlog: List[Optional[int]]  # open tickets per day, None outside the backlog's range
    agents: List[Dict[str, Any]] = field(default_factory=list)
    totals: Dict[str, Any] = field(default_factory=dict)


def _rows(client: Any, sql: str, *args: Any) -> List[tuple]:
    return client.execute_sql(sql, *args) or []


def collect(client: Any, days: int = 30, end: Optional[dt.date] = None,
            models_dataset: Optional[str] = None) -> ReportData:
    """The report's numbers, for the `days` days ending at `end` (default: the last day in the models)."""
    dataset = client.make_qualified_table_name_path(None, quote=False)[-1]
    target = models_dataset or models_dataset_name(dataset)
    with client.with_alternative_dataset_name(target):
        names = {n: client.make_qualified_table_name(n) for n in REQUIRED}
        schema = client.make_qualified_table_name_path(None, quote=False)[-1]
    present = {r[0] for r in _rows(client, "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                                   schema)}
    missing = [n for n in REQUIRED if n not in present]
    if missing:
        raise ReportError(f"models missing in {target}: {', '.join(missing)} (hint: run `klink transform` first)")
    vol, backlog_t, fct = names["agg_daily_channel_volume"], names["agg_ticket_backlog_daily"], names["fct_cx_logs"]
    if end is None:
        last = _rows(client, f"SELECT MAX(day) FROM {vol}")[0][0]
        last_b = _rows(client, f"SELECT MAX(day) FROM {backlog_t}")[0][0]
        end = max([d for d in (last, last_b) if d is not None], default=dt.date.today())
    start = end - dt.timedelta(days=days - 1)
    day_list = [start + dt.timedelta(days=i) for i in range(days)]
    index = {d: i for i, d in enumerate(day_list)}

    volume: Dict[str, List[int]] = {}
    met = [0] * days
    known = [0] * days
    for day, channel, n, ok, bad in _rows(
        client, f"SELECT day, channel, interactions, sla_met, sla_breached FROM {vol} "
                f"WHERE day BETWEEN %s AND %s ORDER BY channel, day", start, end):
        i = index[day]
        volume.setdefault(channel, [0] * days)[i] += int(n)
        met[i] += int(ok)
        known[i] += int(ok) + int(bad)
    volume = dict(sorted(volume.items(), key=lambda kv: (-sum(kv[1]), kv[0])))
    sla = [100.0 * met[i] / known[i] if known[i] else None for i in range(days)]

    backlog: List[Optional[int]] = [None] * days
    for day, open_tickets in _rows(client, f"SELECT day, open_tickets FROM {backlog_t} WHERE day BETWEEN %s AND %s",
                                   start, end):
        backlog[index[day]] = int(open_tickets)

    agents = []
    for row in _rows(client, f"""
        SELECT agent_id, MAX(agent_name), COUNT(*), COUNT(*) FILTER (WHERE is_closed),
          percentile_cont(0.5) WITHIN GROUP (ORDER BY handled_seconds),
          percentile_cont(0.5) WITHIN GROUP (ORDER BY first_response_seconds),
          COUNT(*) FILTER (WHERE sla_met), COUNT(sla_met)
        FROM {fct} WHERE started_date BETWEEN %s AND %s
        GROUP BY agent_id ORDER BY COUNT(*) DESC, MAX(agent_name), agent_id""", start, end):
        agent_id, name, n, closed, med_handled, med_first, ok, n_sla = row
        agents.append({
            "agent_id": agent_id, "agent_name": name or agent_id, "interactions": int(n), "closed": int(closed),
            "median_handled_seconds": None if med_handled is None else float(med_handled),
            "median_first_response_seconds": None if med_first is None else float(med_first),
            "sla_pct": 100.0 * int(ok) / int(n_sla) if n_sla else None,
        })
    total_known = sum(known)
    totals = {
        "interactions": sum(sum(v) for v in volume.values()),
        "sla_pct": 100.0 * sum(met) / total_known if total_known else None,
        "open_tickets": next((b for b in reversed(backlog) if b is not None), None),
        "agents": len(agents),
    }
    return ReportData(start, end, day_list, volume, sla, backlog, agents, totals)


def _duration(seconds: Optional[float]) -> str:
    if seconds is None:
        return "–"
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m {seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def _pct(value: Optional[float]) -> str:
    return "–" if value is None else f"{value:.1f}%"


STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:24px;color:#222;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}.muted{color:#666;font-size:13px}
.kpis{display:flex;gap:16px;margin:16px 0}.kpi{border:1px solid #ddd;border-radius:6px;padding:10px 16px;min-width:150px}
.kpi b{display:block;font-size:24px}svg{max-width:100%;height:auto;display:block}
.grid{stroke:#e5e5e5}.axis{stroke:#999}.ylab{font-size:11px;text-anchor:end;fill:#555}
.xlab{font-size:11px;text-anchor:middle;fill:#555}.legend{font-size:12px;fill:#333}
table{border-collapse:collapse;font-size:13px}th,td{padding:4px 10px;border-bottom:1px solid #eee;text-align:right}
th:first-child,td:first-child{text-align:left}th{background:#f5f5f5}
"""


def render_html(data: ReportData, title: str = "klink contact-center report", subtitle: str = "") -> str:
    """The whole page as one string: inline CSS and SVG only."""
    t = data.totals
    kpis = [("Interactions", f"{t['interactions']:,}"), ("SLA met", _pct(t["sla_pct"])),
            ("Open tickets (last day)", "–" if t["open_tickets"] is None else f"{t['open_tickets']:,}"),
            ("Agents active", str(t["agents"]))]
    rows = "".join(
        f"<tr><td>{escape(str(a['agent_name']))}</td><td>{a['interactions']}</td><td>{a['closed']}</td>"
        f"<td>{_duration(a['median_handled_seconds'])}</td><td>{_duration(a['median_first_response_seconds'])}</td>"
        f"<td>{_pct(a['sla_pct'])}</td></tr>"
        for a in data.agents
    ) or '<tr><td colspan="6">no interactions in this period</td></tr>'
    period = f"{data.start:%Y-%m-%d} – {data.end:%Y-%m-%d} ({len(data.days)} days)"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{STYLE}</style></head>
<body>
<h1>{escape(title)}</h1>
<div class="muted">{escape(period)}{(' · ' + escape(subtitle)) if subtitle else ''}</div>
<div class="kpis">{''.join(f'<div class="kpi"><span class="muted">{k}</span><b>{v}</b></div>' for k, v in kpis)}</div>
<h2>Daily interactions by channel</h2>
<section id="volume">{charts.stacked_bars("Daily interactions by channel", data.days, data.volume)}</section>
<h2>SLA met per day</h2>
<section id="sla">{charts.line_chart("SLA met per day", data.days, data.sla_pct, charts.LINE_COLORS["sla"], 100.0, "%")}</section>
<h2>Open tickets at the end of each day</h2>
<section id="backlog">{charts.line_chart("Open tickets", data.days, data.backlog, charts.LINE_COLORS["backlog"],
                                                       area=True)}</section>
<h2>Agents</h2>
<section id="agents"><table><thead><tr><th>Agent</th><th>Interactions</th><th>Closed</th><th>Median handle time</th>
<th>Median first response</th><th>SLA met</th></tr></thead><tbody>{rows}</tbody></table></section>
<p class="muted">Built from the klink analytics models (docs/models.md). SLA met = slaStatus "meet";
other values count as breached; interactions without a status are left out of SLA %.</p>
</body></html>
"""


def write_report(pipeline: Any, output: str | Path, days: int = 30, end: Optional[dt.date] = None,
                 models_dataset: Optional[str] = None) -> Path:
    """Collect the numbers through the pipeline's SQL client and write the HTML file; returns its path."""
    with pipeline.sql_client() as client:
        data = collect(client, days=days, end=end, models_dataset=models_dataset)
    path = Path(output)
    path.parent.mkdir(parents=True, exist_ok=True)
    subtitle = f"dataset {pipeline.dataset_name} · generated {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC"
    path.write_text(render_html(data, subtitle=subtitle), encoding="utf-8")
    return path
