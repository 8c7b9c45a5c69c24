"""The API token never appears in output, logs (DEBUG), exceptions, the dlt trace, the pipeline folder
or the destination: a sync and two failing syncs run at DEBUG in a real process, then everything is grepped.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
from dlt.common.versioned_state import decompress_state

from pipelines.klink_pipeline import DATASET_NAME
from sandbox.faults import Fault

ROOT = Path(__file__).resolve().parents[2]
GOOD = "kpt_GOOD_secret_7f3a9c1e2b"
WRONG = "kpt_WRONG_secret_0d4e8b6a5f"

SCRIPT = r"""
import datetime as dt, logging, sys, traceback
logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)  # urllib3/requests debug lines too
from pipelines.klink_pipeline import make_pipeline, run_sync
workdir, start, end, mode = sys.argv[1:5]
pipeline = make_pipeline(duckdb_path=f"{workdir}/k.duckdb", pipelines_dir=f"{workdir}/pipes", pipeline_name="klink_secret")
try:
    result = run_sync(pipeline, start_date=start, end_date=end, retry_backoff_factor=0, max_attempts=2)
    print(result)
    print(pipeline.last_trace)
    print(repr(pipeline.last_trace.asdict()) if hasattr(pipeline.last_trace, "asdict") else "")
except Exception as exc:
    traceback.print_exc()
    print(repr(exc), str(exc))
    print(pipeline.last_trace)
"""


def run(workdir: Path, sb, token: str, mode: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RUNTIME__LOG_LEVEL": "DEBUG",
           "SOURCES__KLINK__API_TOKEN": token, "SOURCES__KLINK__BASE_URL": sb.base_url}
    start = (sb.now().replace(day=1)).isoformat()
    return subprocess.run([sys.executable, "-c", SCRIPT, str(workdir), start, sb.now().isoformat(), mode],
                          cwd=workdir, env=env, capture_output=True, text=True, timeout=300)


def destination_text(db: Path) -> str:
    con = duckdb.connect(str(db), read_only=True)
    chunks = []
    try:
        for schema, table in con.execute("SELECT table_schema, table_name FROM information_schema.tables").fetchall():
            rows = con.execute(f'SELECT * FROM "{schema}"."{table}"').fetchall()
            chunks.append(repr(rows))
            if table == "_dlt_pipeline_state":
                for (state,) in con.execute(f'SELECT state FROM "{schema}"."{table}"').fetchall():
                    chunks.append(repr(decompress_state(state)))
    finally:
        con.close()
    return "\n".join(chunks)


def test_token_appears_nowhere(sandbox_factory, tmp_path):
    sb = sandbox_factory(contacts=25, tickets=10, cx_logs=10, token=GOOD)
    good = run(tmp_path, sb, GOOD, "ok")
    assert "Traceback" not in good.stdout + good.stderr, good.stderr[-3000:]
    assert "SyncResult" in good.stdout and "DEBUG" in good.stderr  # DEBUG logging really was on
    sb.set_faults([Fault(endpoint="contacts.list", kind="5xx", status=500)])
    failed = run(tmp_path, sb, GOOD, "5xx")
    assert "Traceback" in failed.stderr and "HTTP 500" in failed.stdout
    sb.clear_faults()
    wrong = run(tmp_path, sb, WRONG, "401")
    assert "401" in wrong.stdout and "sources.klink.api_token" in wrong.stdout

    outputs = "\n".join(p.stdout + p.stderr for p in (good, failed, wrong))
    files = b"\n".join(p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())
    stored = destination_text(tmp_path / "k.duckdb")
    assert DATASET_NAME in stored  # the destination was really read
    for secret in (GOOD, WRONG):
        assert secret not in outputs
        assert secret.encode() not in files
        assert secret not in stored
