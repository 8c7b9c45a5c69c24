"""`klink report`: numbers checked against the API, SVG marks counted, and a headless Chromium screenshot."""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import subprocess
from collections import defaultdict

import pytest

from tests.transforms.helpers import api_snapshot, expected_backlog, local_day, sync, ts
from tests.transforms.png import colour_counts
from transforms import run_transforms
from transforms.charts import LINE_COLORS, PALETTE
from transforms.report import ReportError, collect, write_report

CHROMIUM = "/usr/bin/chromium"
DAYS = 30


def section(html: str, name: str) -> str:
    match = re.search(rf'<section id="{name}">(.*?)</section>', html, re.S)
    assert match, name
    return match.group(1)


def expected_window(api, as_of, tz="UTC"):
    """Per day of the report window (ending on as_of's date): interactions per channel, SLA %, backlog."""
    end = local_day(as_of, tz)
    days = [end - dt.timedelta(days=DAYS - 1 - i) for i in range(DAYS)]
    volume, met, known = defaultdict(int), defaultdict(int), defaultdict(int)
    for x in api["cx_logs"]:
        day = local_day(ts(x["startedDate"]), tz)
        if day in days:
            volume[(day, x["channel"])] += 1
            known[day] += x["slaStatus"] is not None
            met[day] += x["slaStatus"] == "meet"
    sla = {d: met[d] * 100.0 / known[d] for d in days if known[d]}
    backlog = expected_backlog(api["tickets"], as_of, tz)
    return days, dict(volume), sla, {d: backlog[d]["open_tickets"] for d in days if d in backlog}


@pytest.fixture
def built(sandbox_factory, pipeline_factory, request):
    backend = getattr(request, "param", "duckdb")
    sb = sandbox_factory(contacts=30, tickets=200, cx_logs=300)
    pipeline = pipeline_factory(backend)
    sync(sb, pipeline, page_size=100)
    run_transforms(pipeline, as_of=sb.now(), timezone="UTC")
    return sb, pipeline


@pytest.mark.parametrize("built", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_report_numbers_match_the_api(built):
    sb, pipeline = built
    api = api_snapshot(sb)
    days, volume, sla, backlog = expected_window(api, sb.now())
    with pipeline.sql_client() as client:
        data = collect(client, days=DAYS)
    assert data.days == days
    got = {(d, ch): n for ch, series in data.volume.items() for d, n in zip(data.days, series, strict=True) if n}
    assert got == volume
    assert {d: v for d, v in zip(data.days, data.sla_pct, strict=True) if v is not None} == sla
    assert {d: v for d, v in zip(data.days, data.backlog, strict=True) if v is not None} == backlog
    in_window = [x for x in api["cx_logs"] if local_day(ts(x["startedDate"]), "UTC") in days]
    assert data.totals["interactions"] == len(in_window)
    by_agent = defaultdict(list)
    for x in in_window:
        by_agent[x["agentId"]].append(x)
    assert {a["agent_id"]: a["interactions"] for a in data.agents} == {k: len(v) for k, v in by_agent.items()}


def test_report_html_is_self_contained_with_one_mark_per_value(built, tmp_path):
    sb, pipeline = built
    days, volume, sla, backlog = expected_window(api_snapshot(sb), sb.now())
    path = write_report(pipeline, tmp_path / "out" / "report.html", days=DAYS)
    html = path.read_text(encoding="utf-8")
    assert section(html, "volume").count('<rect class="bar"') == len(volume) > DAYS
    assert section(html, "sla").count('<circle class="pt"') == len(sla) > DAYS // 2
    assert section(html, "backlog").count('<circle class="pt"') == len(backlog) == DAYS
    agents = {x["agentId"] for x in api_snapshot(sb)["cx_logs"] if local_day(ts(x["startedDate"]), "UTC") in days}
    assert section(html, "agents").count("<tr>") == 1 + len(agents)
    # nothing to fetch: no scripts, stylesheets, images or URLs other than the SVG namespace
    assert not re.search(r"<script|<link|<img|@import|url\(|src=|href=", html)
    assert set(re.findall(r"https?://[^\s\"'<>]+", html)) == {"http://www.w3.org/2000/svg"}


def test_report_without_models_says_what_to_do(sandbox_factory, pipeline_factory, tmp_path):
    sb = sandbox_factory(contacts=5, tickets=5, cx_logs=5)
    pipeline = pipeline_factory("duckdb")
    sync(sb, pipeline, resources=["tags"])
    with pytest.raises(ReportError, match="klink transform"):
        write_report(pipeline, tmp_path / "r.html")


@pytest.mark.chromium
def test_report_renders_in_headless_chromium(built, tmp_path):
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):  # .ci/run installs it: a missing browser there is a CI failure
            pytest.fail(f"{CHROMIUM} missing in CI (.ci/run should apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} not installed (apt-get install -y chromium)")
    sb, pipeline = built
    days, volume, sla, backlog = expected_window(api_snapshot(sb), sb.now())
    path = write_report(pipeline, tmp_path / "report.html", days=DAYS)
    png = tmp_path / "report.png"
    profile = tmp_path / "chromium-profile"
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={profile}", f"--screenshot={png}", "--window-size=1280,2000",
           path.resolve().as_uri()]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env={**os.environ, "HOME": str(tmp_path)})
    shutil.rmtree(profile, ignore_errors=True)
    assert png.exists(), f"no screenshot (exit {proc.returncode}): {proc.stderr[-2000:]}"
    colours = colour_counts(png.read_bytes())
    assert len(colours) > 100, "the screenshot is (nearly) blank"
    assert colours["#ffffff"] < 0.95 * sum(colours.values())
    channels = {ch for _, ch in volume}
    for i in range(len(channels)):  # every channel's bars are painted in its colour
        assert colours[PALETTE[i]] > 500, (PALETTE[i], colours[PALETTE[i]])
    assert colours[LINE_COLORS["sla"]] > 300  # the SLA line and points
    assert colours[LINE_COLORS["backlog"]] > 300  # the backlog line and points
