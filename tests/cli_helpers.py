"""Run the real `klink` command as a subprocess against a sandbox, isolated in a temporary folder."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

import duckdb

# settings that would leak from the developer's shell into the command under test
_LEAKY_PREFIXES = ("SOURCES__", "DESTINATION__", "KLINK__", "RUNTIME__", "NORMALIZE__", "LOAD__", "EXTRACT__",
                   "DATA_WRITER__", "PIPELINES__", "DLT_")


def clean_env(extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_LEAKY_PREFIXES)}
    env["RUNTIME__DLTHUB_TELEMETRY"] = "false"
    env.update(extra or {})
    return env


def sandbox_env(sb: Any, state_dir: Path, **extra: str) -> Dict[str, str]:
    """Token and base URL of `sb` through dlt's env vars; the dlt working folder outside the cwd."""
    return {
        "SOURCES__KLINK__API_TOKEN": sb.token,
        "SOURCES__KLINK__BASE_URL": sb.base_url,
        "SOURCES__KLINK__RETRY_BACKOFF_FACTOR": "0",
        "KLINK__PIPELINES_DIR": str(state_dir),
        **extra,
    }


def window_args(sb: Any) -> List[str]:
    """cx-log windows covering every seeded log (the sandbox clock is fixed in 2026-03)."""
    now = sb.now()
    return ["--start-date", (now - dt.timedelta(days=31)).isoformat(), "--end-date", now.isoformat()]


def klink(*args: str, cwd: Path, env: Optional[Dict[str, str]] = None, timeout: float = 300,
          script: bool = False) -> subprocess.CompletedProcess:
    """`python -m pipelines.cli ...` (or the installed `klink` console script) in `cwd`."""
    cwd.mkdir(parents=True, exist_ok=True)
    command = [str(Path(sys.executable).parent / "klink")] if script else [sys.executable, "-m", "pipelines.cli"]
    return subprocess.run([*command, *args], cwd=cwd, env=clean_env(env), capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def requests_made(sb: Any) -> int:
    return sum(sb.counters().values())


def count(path: Path, sql: str) -> Any:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql).fetchone()[0]


def lines(text: str) -> List[str]:
    return [line for line in text.splitlines() if line.strip()]
