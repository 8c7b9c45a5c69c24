"""The cron lock: overlapping `klink sync` runs cannot collide.

Real processes only, and no sleeps as synchronisation: the holder prints a line on a pipe once it
has the lock, and blocks on its stdin until we kill it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from pipelines.lock import EXIT_LOCKED, LockHeld, SyncLock, default_lock_path

ROOT = Path(__file__).resolve().parents[1]

# holds the lock until killed; tells the parent through stdout when it has it
HOLDER = textwrap.dedent(
    """
    import os, sys
    from pipelines.lock import SyncLock
    lock = SyncLock(sys.argv[1]).acquire()
    print("LOCKED", os.getpid(), flush=True)
    sys.stdin.read()  # blocks until the parent closes stdin or kills us
    """
)

# what `klink sync` does on contention: one line on stderr, exit 75
CONTENDER = textwrap.dedent(
    """
    import sys
    from pipelines.lock import EXIT_LOCKED, LockHeld, SyncLock
    try:
        with SyncLock(sys.argv[1]):
            print("ACQUIRED", flush=True)
    except LockHeld as e:
        print(f"klink: {e}", file=sys.stderr)
        sys.exit(EXIT_LOCKED)
    """
)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


@pytest.fixture
def holder(tmp_path: Path):
    """Start a process holding the lock; yields (Popen, lock path). Always SIGKILLed at the end."""
    path = tmp_path / "locks" / "klink.lock"
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
        cwd=ROOT,
    )
    try:
        line = proc.stdout.readline()  # returns once the holder has the lock (or died)
        assert line.split() == ["LOCKED", str(proc.pid)], (line, proc.stderr.read())
        yield proc, path
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            stream.close()


def _contend(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", CONTENDER, str(path)],
        capture_output=True,
        text=True,
        env=_env(),
        cwd=ROOT,
        timeout=60,
    )


def test_second_process_fails_fast_then_lock_is_free_after_sigkill(holder) -> None:
    proc, path = holder

    started = time.monotonic()
    second = _contend(path)
    elapsed = time.monotonic() - started
    assert second.returncode == EXIT_LOCKED == 75, second
    assert second.stdout == ""  # it never ran its body
    # one clear line for the cron mailer, naming the holder
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1, second.stderr
    assert "another klink sync is already running" in lines[0]
    assert f"pid {proc.pid}" in lines[0]
    assert "running since" in lines[0]
    assert str(path) in lines[0]
    # "at once": no waiting for the holder (generous bound for a loaded 2-core CI box; a blocking
    # lock would hang until the 60 s subprocess timeout)
    assert elapsed < 20, elapsed

    # the same in-process, with the details on the exception
    with pytest.raises(LockHeld) as exc_info, SyncLock(path):
        pass
    assert exc_info.value.holder_pid == proc.pid
    assert exc_info.value.path == str(path)
    assert exc_info.value.since

    # kill -9: no cleanup code runs, the kernel drops the flock
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL

    third = _contend(path)
    assert third.returncode == 0, third
    assert third.stdout.strip() == "ACQUIRED"
    with SyncLock(path) as lock:
        assert lock.locked
    # the dead holder's pid is not left behind as if it still held the lock
    assert f"pid={proc.pid}" not in path.read_text()


def test_release_on_exit_and_reacquire(tmp_path: Path) -> None:
    path = tmp_path / "klink.lock"
    with SyncLock(path) as lock:
        assert lock.locked
        assert f"pid={os.getpid()}" in path.read_text()
        # not reentrant: a second open file description conflicts even in the same process
        with pytest.raises(LockHeld) as exc_info:
            SyncLock(path).acquire()
        assert exc_info.value.holder_pid == os.getpid()
    assert not lock.locked
    assert path.exists()  # the file is kept (unlinking lock files races), only emptied
    assert path.read_text() == ""
    # released also when the body raises
    with pytest.raises(ZeroDivisionError), SyncLock(path):
        1 / 0  # noqa: B018
    with SyncLock(path):
        pass


def test_deleted_lock_file_is_recreated(tmp_path: Path) -> None:
    """Deleting a held lock file (do not!) lets the next run lock the new file; release stays clean."""
    path = tmp_path / "klink.lock"
    first = SyncLock(path).acquire()
    path.unlink()  # e.g. an overeager cleanup job
    second = SyncLock(path).acquire()  # a new inode: allowed, and it is the file on disk now
    assert os.path.samestat(os.fstat(second._fd), os.stat(path))
    second.release()
    first.release()


def test_default_path_is_next_to_the_pipeline_working_folder(tmp_path: Path) -> None:
    assert default_lock_path("klink", str(tmp_path)) == str(tmp_path / "klink.lock")
    assert SyncLock(pipeline_name="other", pipelines_dir=str(tmp_path)).path == str(tmp_path / "other.lock")
    # without a pipelines dir: dlt's own default (~/.dlt/pipelines, /var/dlt/pipelines for root)
    from dlt.common.pipeline import get_dlt_pipelines_dir

    assert default_lock_path() == os.path.join(get_dlt_pipelines_dir(), "klink.lock")
    # two pipelines never share a lock
    with (
        SyncLock(pipeline_name="a", pipelines_dir=str(tmp_path)),
        SyncLock(pipeline_name="b", pipelines_dir=str(tmp_path)),
    ):
        pass


def test_message_without_holder_info(tmp_path: Path) -> None:
    err = LockHeld(str(tmp_path / "x.lock"), None)
    assert "unknown pid" in str(err)
    assert str(EXIT_LOCKED) in str(err)
