"""`klink transform` and `klink report` through the real `klink` entry point."""

from __future__ import annotations

import pytest

from pipelines.cli import main
from tests.transforms.helpers import read_model, sync


def where_args(tmp_path):
    """The flags that point the CLI at pipeline_factory("duckdb")'s file and working folder."""
    return ["--duckdb-path", str(tmp_path / "k.duckdb"), "--pipelines-dir", str(tmp_path / "k_pipelines"),
            "--pipeline-name", "klink_k"]


@pytest.fixture
def synced(sandbox_factory, pipeline_factory, tmp_path):
    sb = sandbox_factory(contacts=20, tickets=30, cx_logs=40)
    pipeline = pipeline_factory("duckdb")
    sync(sb, pipeline, page_size=50)
    return sb, pipeline, where_args(tmp_path)


def test_transform_then_report(synced, tmp_path, capsys):
    sb, pipeline, where = synced
    assert main(["transform", *where, "--as-of", sb.now().isoformat(), "--timezone", "Asia/Yangon"]) == 0
    out = capsys.readouterr().out
    assert "klink transform: ok" in out and "fct_cx_logs (40 rows)" in out and "Asia/Yangon" in out
    assert len(read_model(pipeline, "fct_cx_logs")) == 40
    assert {str(r["as_of"])[:19] for r in read_model(pipeline, "fct_tickets")} == {"2026-03-30 00:00:00"}

    assert main(["transform", *where, "--select", "fct_tickets"]) == 0
    assert "agg_ticket_backlog_daily" in capsys.readouterr().out

    target = tmp_path / "site" / "report.html"
    assert main(["report", *where, "--output", str(target), "--days", "14"]) == 0
    assert str(target) in capsys.readouterr().out
    assert "(14 days)" in target.read_text(encoding="utf-8")


@pytest.mark.parametrize("argv,message", [
    (["transform", "--select", "nope"], "unknown model(s) nope"),
    (["transform", "--timezone", "Mars/Olympus"], "unknown time zone"),
    (["transform", "--as-of", "yesterday"], "not an ISO 8601 time"),
    (["report", "--days", "0"], "--days must be at least 1"),
    (["report", "--end-date", "March"], "is not a date"),
])
def test_bad_flags_exit_2_with_a_hint(tmp_path, capsys, argv, message):
    assert main([*argv, *where_args(tmp_path)]) == 2
    assert message in capsys.readouterr().err


def test_report_before_transform_exits_2(synced, tmp_path, capsys):
    _, _, where = synced
    assert main(["report", *where, "--output", str(tmp_path / "r.html")]) == 2
    assert "run `klink transform` first" in capsys.readouterr().err
    assert not (tmp_path / "r.html").exists()


def test_filesystem_destination_is_refused_with_a_reason(tmp_path):
    import dlt

    from pipelines.klink_pipeline import make_pipeline
    from transforms import run_transforms

    pipeline = make_pipeline(destination=dlt.destinations.filesystem(str(tmp_path / "files")),
                             pipelines_dir=str(tmp_path / "p"))
    with pytest.raises(ValueError, match="filesystem destination"):
        run_transforms(pipeline)
