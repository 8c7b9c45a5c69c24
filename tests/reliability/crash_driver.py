"""Test harness: run one sync and SIGKILL this process at a named point.

    python -m tests.reliability.crash_driver POINT N WORKDIR BASE_URL TOKEN NOW_ISO

POINT is one of the keys of HOOKS; the process kills itself the N-th time the point is reached. Exit
code 3 means the point was never reached (so the test can tell a missed point from a survived one).
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import sys
from pathlib import Path

from dlt.load.load import Load
from dlt.normalize.normalize import Normalize
from dlt.pipeline.pipeline import Pipeline

import pipelines.klink_pipeline as runner
from sources.klink.client import KlinkClient
from tests.source.helpers import sync

POINT, NTH = sys.argv[1], int(sys.argv[2])
reached = {"n": 0}


def hit(name: str) -> None:
    if name == POINT:
        reached["n"] += 1
        if reached["n"] == NTH:
            os.kill(os.getpid(), signal.SIGKILL)


def around(owner, attr: str, before: str = "", after: str = "") -> None:
    original = getattr(owner, attr)

    def wrapper(*args, **kwargs):
        if before:
            hit(before)
        result = original(*args, **kwargs)
        if after:
            hit(after)
        return result

    setattr(owner, attr, wrapper)


around(KlinkClient, "get_json", before="page")
around(Pipeline, "extract", after="extract_done")
around(Pipeline, "normalize", before="normalize_start", after="normalize_done")
around(Normalize, "spool_files", after="normalize_spooled")
around(Load, "w_run_job", before="load_job")
around(Load, "complete_package", before="package_complete_before", after="package_complete_after")
around(runner, "apply_soft_deletes", before="soft_delete")
around(runner, "read_run_log", before="run_log")


class Remote:
    """The bits of a sandbox that `sync` needs, for a sandbox in another process."""

    def __init__(self, base_url: str, token: str, now: str) -> None:
        self.base_url, self.token, self._now = base_url, token, dt.datetime.fromisoformat(now)

    def now(self) -> dt.datetime:
        return self._now


if __name__ == "__main__":
    workdir, base_url, token, now = Path(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6]
    sync(Remote(base_url, token, now), workdir, "k", page_size=10)
    sys.exit(3 if reached["n"] < NTH else 0)
