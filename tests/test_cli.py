"""The `klink` command end to end: a real subprocess, a real sandbox over HTTP, a temporary cwd."""

from __future__ import annotations

import json
import re

import pytest

from pipelines.lock import EXIT_LOCKED, SyncLock
from tests.cli_helpers import count, klink, lines, requests_made, sandbox_env, window_args

SIZES = {"contacts": 120, "tickets": 80, "cx_logs": 90, "agent_activities": 30}
STATIC = {"tags": 12, "channels": 6, "contact_groups": 5}


def test_sync_full_then_incremental_then_status(sandbox_factory, tmp_path):
    sb = sandbox_factory(**SIZES)
    work, state = tmp_path / "work", tmp_path / "state"
    env = sandbox_env(sb, state)

    first = klink("sync", *window_args(sb), cwd=work, env=env)
    assert first.returncode == 0, first.stderr
    assert first.stderr == ""  # cron mails nothing on success
    assert len(lines(first.stdout)) == 1 and first.stdout.startswith("klink sync: ok")
    # one DuckDB file in the working directory, nothing else
    assert sorted(p.name for p in work.iterdir()) == ["klink.duckdb"]
    db = work / "klink.duckdb"
    for table, expected in {**SIZES, **STATIC}.items():
        assert count(db, f"SELECT COUNT(*) FROM klink_data.{table}") == expected, table
    assert count(db, "SELECT COUNT(*) FROM klink_data.contacts WHERE _klink_deleted_at IS NOT NULL") == 0

    sb.mutate("contacts", update=5, create=3, delete=2)
    second = klink("sync", "--resources", "contacts", "--details", cwd=work, env=env)
    assert second.returncode == 0, second.stderr
    assert "1 resources, 3 new, 5 changed, 2 deleted" in second.stdout
    assert re.search(r"^contacts\s+3\s+5\s+2\s+\d+", second.stdout, re.M), second.stdout
    assert count(db, "SELECT COUNT(*) FROM klink_data.contacts") == SIZES["contacts"] + 3
    assert count(db, "SELECT COUNT(*) FROM klink_data.contacts WHERE _klink_deleted_at IS NOT NULL") == 2

    status = klink("status", cwd=work, env=env)
    assert status.returncode == 0, status.stderr
    assert "last load:" in status.stdout and "(loaded)" in status.stdout
    assert re.search(r"^contacts\s+123\s+121\s+2$", status.stdout, re.M), status.stdout
    assert re.search(r"^cx_logs .*last_window_end 2026-03-30T00:00:00\+00:00", status.stdout, re.M)

    as_json = klink("status", "--json", cwd=work, env=env)
    info = json.loads(as_json.stdout)
    tables = {t["table"]: t for t in info["tables"]}
    assert tables["contacts"] == {"table": "contacts", "rows": 123, "live": 121, "deleted": 2}
    assert tables["tickets"]["rows"] == SIZES["tickets"]
    runs = {r["resource"]: r for r in info["resources"]}
    assert (runs["contacts"]["new"], runs["contacts"]["changed"], runs["contacts"]["deleted"]) == (3, 5, 2)
    assert runs["contacts"]["complete"] is True


def test_settings_from_dlt_config_files_in_the_working_directory(sandbox, tmp_path):
    work = tmp_path / "work"
    (work / ".dlt").mkdir(parents=True)
    (work / ".dlt" / "config.toml").write_text(
        f'[sources.klink]\nbase_url = "{sandbox.base_url}"\nresources = ["tags", "channels"]\n\n'
        f'[klink]\nduckdb_path = "from_toml.duckdb"\ndataset_name = "crm"\npipelines_dir = "{tmp_path / "state"}"\n'
    )
    (work / ".dlt" / "secrets.toml").write_text(f'[sources.klink]\napi_token = "{sandbox.token}"\n')
    result = klink("sync", cwd=work)
    assert result.returncode == 0, result.stderr
    assert "2 resources" in result.stdout
    db = work / "from_toml.duckdb"
    assert count(db, "SELECT COUNT(*) FROM crm.tags") == STATIC["tags"]
    assert count(db, "SELECT COUNT(*) FROM crm.channels") == STATIC["channels"]
    assert requests_made(sandbox) == 2, sandbox.counters()  # one page each, nothing else


def test_settings_from_env_and_flags_win_over_env(sandbox, tmp_path):
    env = sandbox_env(sandbox, tmp_path / "state", SOURCES__KLINK__RESOURCES='["tags"]',
                      KLINK__DUCKDB_PATH="env.duckdb", KLINK__DATASET_NAME="from_env")
    result = klink("sync", "--dataset", "from_flag", cwd=tmp_path / "work", env=env)
    assert result.returncode == 0, result.stderr
    assert "1 resources" in result.stdout
    assert count(tmp_path / "work" / "env.duckdb", "SELECT COUNT(*) FROM from_flag.tags") == STATIC["tags"]


def test_wrong_token_is_one_line_naming_401_and_the_setting(sandbox, tmp_path):
    token = "kpt_wrong_but_secret_0123456789"
    env = sandbox_env(sandbox, tmp_path / "state", SOURCES__KLINK__API_TOKEN=token)
    result = klink("sync", "--resources", "tags", cwd=tmp_path / "work", env=env)
    assert result.returncode == 1
    assert len(lines(result.stderr)) == 1, result.stderr
    assert "401" in result.stderr and "sources.klink.api_token" in result.stderr
    assert "SOURCES__KLINK__API_TOKEN" in result.stderr
    assert token not in result.stderr + result.stdout


def test_missing_token_exits_2_naming_the_key(sandbox, tmp_path):
    env = sandbox_env(sandbox, tmp_path / "state")
    del env["SOURCES__KLINK__API_TOKEN"]
    result = klink("sync", cwd=tmp_path / "work", env=env)
    assert result.returncode == 2
    assert "sources.klink.api_token" in result.stderr and len(lines(result.stderr)) == 1
    assert requests_made(sandbox) == 0


@pytest.mark.parametrize(
    "args, env_extra, expected",
    [
        (["--base-url", "ftp//not-a-url"], {}, "malformed base_url"),
        (["--resources", "contacts,invoices"], {}, "unknown resource(s) invoices"),
        (["--start-date", "last tuesday"], {}, "unparseable date"),
        (["--start-date", "2026-03-10", "--end-date", "2026-03-01"], {}, "is before"),
        ([], {"SOURCES__KLINK__START_DATE": "soon"}, "sources.klink.start_date"),
        ([], {"SOURCES__KLINK__TIMEZONE": "Mars/Olympus"}, "unknown timezone"),
        (["--duckdb-path", "klink_data.duckdb"], {}, "equals the dataset name"),
        (["--log-level", "LOUD"], {}, "unknown log level"),
        (["--duckdb-memory-limit", "lots"], {}, "duckdb_memory_limit 'lots' is not a size"),
        ([], {"KLINK__DUCKDB_MEMORY_LIMIT": "512"}, "[klink.duckdb_memory_limit]"),
        ([], {"KLINK__DUCKDB_DIRECT_MERGE": "sometimes"}, "duckdb_direct_merge 'sometimes' is not true or false"),
    ],
    ids=["base-url", "resource", "date", "date-order", "env-date", "timezone", "duckdb-clash", "log-level",
         "memory-limit", "env-memory-limit", "env-direct-merge"],
)
def test_config_errors_exit_2_before_any_request(sandbox, tmp_path, args, env_extra, expected):
    env = sandbox_env(sandbox, tmp_path / "state", **env_extra)
    result = klink("sync", *args, cwd=tmp_path / "work", env=env)
    assert result.returncode == 2, result.stderr
    assert expected in result.stderr
    assert len(lines(result.stderr)) == 1, result.stderr
    assert requests_made(sandbox) == 0


def test_second_sync_exits_75_while_the_lock_is_held(sandbox, tmp_path):
    state = tmp_path / "state"
    with SyncLock(pipeline_name="klink", pipelines_dir=str(state)):
        result = klink("sync", cwd=tmp_path / "work", env=sandbox_env(sandbox, state))
    assert result.returncode == EXIT_LOCKED
    assert "already running" in result.stderr
    assert requests_made(sandbox) == 0
    # released: the next one runs
    assert klink("sync", "--resources", "tags", cwd=tmp_path / "work",
                 env=sandbox_env(sandbox, state)).returncode == 0


def test_failed_load_job_is_listed_and_exits_1(sandbox, tmp_path):
    import duckdb

    work = tmp_path / "work"
    work.mkdir()
    with duckdb.connect(str(work / "klink.duckdb")) as con:  # a table the loader cannot insert into
        con.execute("CREATE SCHEMA klink_data; CREATE TABLE klink_data.tags (id VARCHAR, must_have VARCHAR NOT NULL)")
    result = klink("sync", "--resources", "tags", cwd=work, env=sandbox_env(sandbox, tmp_path / "state"))
    assert result.returncode == 1
    ours = [line for line in lines(result.stderr) if not line.startswith("20")]  # dlt's own log lines are dated
    assert ours[0].startswith("klink sync failed at step load:") and "NOT NULL" in ours[0]
    assert any(line.startswith("  failed job tags.") for line in ours), result.stderr
    assert "Traceback" not in result.stderr and 'File "' not in result.stderr  # tracebacks only with DEBUG


def test_unreachable_api_names_the_base_url_setting(tmp_path):
    env = {"SOURCES__KLINK__API_TOKEN": "kpt_x", "SOURCES__KLINK__BASE_URL": "http://127.0.0.1:9",
           "SOURCES__KLINK__MAX_ATTEMPTS": "1", "KLINK__PIPELINES_DIR": str(tmp_path / "state")}
    result = klink("sync", "--resources", "tags", cwd=tmp_path / "work", env=env)
    assert result.returncode == 1
    assert "sources.klink.base_url" in lines(result.stderr)[-1]


def test_demo_twice_shows_a_full_then_an_incremental_run(tmp_path):
    sizes = ["--contacts", "150", "--tickets", "150", "--cx-logs", "150"]
    first = klink("demo", *sizes, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "run 1 (first run: full load)" in first.stdout
    assert re.search(r"^contacts\s+150\s+0\s+0\s+\d+$", first.stdout, re.M), first.stdout
    assert re.search(r"^took \d+\.\d s", first.stdout, re.M)
    assert "SELECT" in first.stdout  # the SQL hint
    db = tmp_path / "klink_demo.duckdb"
    assert count(db, "SELECT COUNT(*) FROM klink_data.contacts") == 150
    assert count(db, "SELECT COUNT(*) FROM klink_data.cx_logs") == 150

    second = klink("demo", *sizes, cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert "run 2 (incremental" in second.stdout
    assert re.search(r"^contacts\s+20\s+50\s+10\s+\d+$", second.stdout, re.M), second.stdout
    assert re.search(r"^tickets\s+20\s+\d+\s+10\s+\d+$", second.stdout, re.M), second.stdout
    assert re.search(r"^tags\s+0\s+0\s+0\s+0$", second.stdout, re.M), second.stdout
    assert count(db, "SELECT COUNT(*) FROM klink_data.contacts WHERE _klink_deleted_at IS NOT NULL") == 10

    status = klink("status", "--demo", cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    assert re.search(r"^contacts\s+170\s+160\s+10$", status.stdout, re.M), status.stdout
    # the user's own pipeline is untouched: no klink.duckdb, demo state under ./.klink
    assert not (tmp_path / "klink.duckdb").exists()
    assert (tmp_path / ".klink" / "pipelines" / "klink_demo").is_dir()


def test_status_before_any_sync_says_so(tmp_path):
    result = klink("status", cwd=tmp_path, script=True, env={"KLINK__PIPELINES_DIR": str(tmp_path / "s")})
    assert result.returncode == 1
    assert "nothing loaded yet" in result.stderr and "klink sync" in result.stderr


def test_usage_and_delegated_commands(tmp_path):
    assert klink(cwd=tmp_path).returncode == 2
    helped = klink("--help", cwd=tmp_path, script=True)
    assert helped.returncode == 0
    for command in ("sync", "demo", "status", "sandbox", "webhook", "transform", "report"):
        assert command in helped.stdout
    sync_help = klink("sync", "--help", cwd=tmp_path)
    for flag in ("--resources", "--destination", "--dataset", "--full-refresh", "--start-date", "KLINK__DESTINATION"):
        assert flag in sync_help.stdout
    assert klink("sandbox", "--help", cwd=tmp_path).stdout.startswith("usage: klink sandbox")
    for command in (["webhook", "serve"], ["transform"], ["report"]):
        result = klink(*command, "--help", cwd=tmp_path)
        if result.returncode == 2 and "not available" in result.stderr:
            continue  # that part is not installed in this checkout: a clear message, exit 2
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(f"usage: klink {' '.join(command)}")


def test_missing_delegate_is_a_clear_exit_2(monkeypatch, capsys):
    from pipelines import cli

    monkeypatch.setitem(cli.DELEGATED, "report", ("transforms.not_there", "add", "run", "x"))
    assert cli.main(["report"]) == 2
    assert "klink report is not available" in capsys.readouterr().err


def test_full_refresh_rewrites_every_row(sandbox, tmp_path):
    env = sandbox_env(sandbox, tmp_path / "state")
    work = tmp_path / "work"
    assert klink("sync", "--resources", "tags,channels,contact_groups", cwd=work, env=env).returncode == 0
    again = klink("sync", "--resources", "tags,channels", "--full-refresh", cwd=work, env=env)
    assert again.returncode == 0, again.stderr
    assert f"{STATIC['tags'] + STATIC['channels']} new" in again.stdout
    assert count(work / "klink.duckdb", "SELECT COUNT(*) FROM klink_data.tags") == STATIC["tags"]
    # a full refresh of some resources leaves the others alone
    assert count(work / "klink.duckdb", "SELECT COUNT(*) FROM klink_data.contact_groups") == STATIC["contact_groups"]


def test_sync_with_transform_builds_the_models(sandbox_factory, tmp_path):
    sb = sandbox_factory(contacts=40, tickets=40, cx_logs=40, agent_activities=10)
    work = tmp_path / "work"
    env = sandbox_env(sb, tmp_path / "state", KLINK__TRANSFORM="true")  # same as --transform
    result = klink("sync", *window_args(sb), cwd=work, env=env)
    assert result.returncode == 0, result.stderr
    assert "models rebuilt" in result.stdout, result.stdout
    assert count(work / "klink.duckdb", "SELECT COUNT(*) FROM klink_data_models.fct_tickets") == 40


def _serve_until_ready(args, cwd, env, url, headers=None, timeout=60.0):
    """Start `klink <args>` as a long-running subprocess; return it once `url` answers 200."""
    import subprocess
    import sys
    import time

    import requests

    from tests.cli_helpers import clean_env

    proc = subprocess.Popen([sys.executable, "-m", "pipelines.cli", *args], cwd=cwd, env=clean_env(env),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"klink {args[0]} exited {proc.returncode}: {proc.communicate()}")
        try:
            if requests.get(url, headers=headers or {}, timeout=2).status_code == 200:
                return proc
        except requests.RequestException:
            pass
        time.sleep(0.1)
    proc.kill()
    raise AssertionError(f"klink {args[0]} did not answer {url} within {timeout}s")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_sandbox_and_webhook_commands_serve_and_stop_on_sigterm(tmp_path):
    import signal

    port = _free_port()
    sandbox = _serve_until_ready(["sandbox", "--port", str(port), "--contacts", "7"], tmp_path, {},
                                 f"http://127.0.0.1:{port}/api/v1/contacts",
                                 headers={"Authorization": "Bearer kpt_sandbox_token"})
    try:
        import requests

        body = requests.get(f"http://127.0.0.1:{port}/api/v1/contacts",
                            headers={"Authorization": "Bearer kpt_sandbox_token"}, timeout=5).json()
        assert body["total"] == 7
    finally:
        sandbox.send_signal(signal.SIGTERM)
    assert sandbox.wait(timeout=30) == 0

    port = _free_port()
    receiver = _serve_until_ready(
        ["webhook", "serve", "--port", str(port), "--pipelines-dir", str(tmp_path / "state")], tmp_path,
        {"SOURCES__KLINK__WEBHOOK_SECRET": "whsec_test"}, f"http://127.0.0.1:{port}/health")
    receiver.send_signal(signal.SIGTERM)
    assert receiver.wait(timeout=60) == 0
