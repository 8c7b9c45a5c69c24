"""A non-blocking, crash-safe lock so that two `klink sync` runs never overlap.

Cron happily starts the next run while the previous one is still going (a slow API, a big
backfill). Two syncs of the same pipeline would share dlt's local working folder (state, load
packages) and the same destination, so the second one must not start. `SyncLock` takes an
exclusive `fcntl.flock` on a small lock file:

* non-blocking: a second process does not wait, it gets `LockHeld` at once and the CLI exits with
  `EXIT_LOCKED` (75, ``EX_TEMPFAIL``: "try again later");
* crash-safe: the kernel drops a flock when the holding process dies, even on ``kill -9``, so
  there is never a stale lock to clean up by hand. The pid/timestamp written into the file are
  only informative (they make the error message useful); they are never used to decide
  whether the lock is held.

Where the lock lives (default): next to the pipeline's working folder, i.e.
``<pipelines_dir>/<pipeline_name>.lock`` - ``~/.dlt/pipelines/klink.lock`` for a normal user,
``/var/dlt/pipelines/klink.lock`` for root (dlt's own default pipelines dir). The working folder
is exactly what two overlapping runs would corrupt, so one lock per (pipelines dir, pipeline
name) is the right granularity: two differently named pipelines can run side by side. The lock
file is deliberately a sibling of the working folder, not inside it, because dlt may wipe the
working folder and deleting a held lock file would let a third process lock a new inode.
Pass ``path=`` to put it anywhere else.

Usage::

    try:
        with SyncLock(pipeline_name="klink"):
            run_the_sync()
    except LockHeld as e:
        print(f"klink: {e}", file=sys.stderr)
        sys.exit(EXIT_LOCKED)

Only POSIX (Linux/macOS): `fcntl` does not exist on Windows. flock on NFS is not reliable; keep
the pipelines dir on a local disk.
"""

from __future__ import annotations

import errno
import fcntl
import os
import socket
import sys
from datetime import datetime, timezone
from typing import Any

__all__ = ["EXIT_LOCKED", "LockHeld", "SyncLock", "default_lock_path"]

#: Exit code of `klink sync` when another sync holds the lock (sysexits.h EX_TEMPFAIL).
EXIT_LOCKED = 75


def default_lock_path(pipeline_name: str = "klink", pipelines_dir: str | None = None) -> str:
    """``<pipelines_dir>/<pipeline_name>.lock``; `pipelines_dir` defaults to dlt's pipelines dir."""
    if pipelines_dir is None:
        # imported lazily: taking the lock with an explicit path must stay cheap (no dlt import)
        from dlt.common.pipeline import get_dlt_pipelines_dir

        pipelines_dir = get_dlt_pipelines_dir()
    return os.path.join(os.path.abspath(os.path.expanduser(pipelines_dir)), f"{pipeline_name}.lock")


class LockHeld(RuntimeError):
    """Another process holds the sync lock. `holder_pid`/`since` are None if it could not be read."""

    def __init__(self, path: str, holder_pid: int | None, since: str | None = None) -> None:
        self.path = path
        self.holder_pid = holder_pid
        self.since = since
        who = f"pid {holder_pid}" if holder_pid is not None else "unknown pid"
        when = f", running since {since}" if since else ""
        super().__init__(
            f"another klink sync is already running ({who}{when}); lock {path} is held,"
            f" not starting a second one (exit code {EXIT_LOCKED})"
        )


class SyncLock:
    """Exclusive, non-blocking lock for one pipeline; a context manager (also `acquire`/`release`).

    Raises `LockHeld` from `acquire` (and so from ``with``) when another process holds it.
    Not reentrant: acquiring the same path twice, even in one process, raises `LockHeld`.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        pipeline_name: str = "klink",
        pipelines_dir: str | None = None,
    ) -> None:
        if path is None:
            path = default_lock_path(pipeline_name, pipelines_dir)
        self.path = os.path.abspath(os.fspath(path))
        self._fd: int | None = None

    @property
    def locked(self) -> bool:
        return self._fd is not None

    def acquire(self) -> SyncLock:
        if self._fd is not None:
            raise RuntimeError(f"{self.path} is already held by this SyncLock")
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        while True:
            # O_CLOEXEC (Python's default) so programs we exec do not inherit the lock
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as ex:
                os.close(fd)
                if ex.errno in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EACCES):
                    pid, since = _read_holder(self.path)
                    raise LockHeld(self.path, pid, since) from None
                raise
            # someone may have removed/replaced the file between our open() and flock():
            # then we locked an orphaned inode, so try again on the file that is there now
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        self._fd = fd
        _write_holder(fd)
        return self

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            # clear the holder info first; the file itself stays (unlinking a lock file races)
            os.ftruncate(fd, 0)
        except OSError:
            pass
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def __enter__(self) -> SyncLock:
        return self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()

    def __repr__(self) -> str:
        return f"SyncLock({self.path!r}, locked={self.locked})"


def _write_holder(fd: int) -> None:
    since = datetime.now(timezone.utc).replace(microsecond=0).isoformat()
    info = f"pid={os.getpid()}\nsince={since}\nhost={socket.gethostname()}\ncmd={' '.join(sys.argv)}\n"
    os.ftruncate(fd, 0)
    os.pwrite(fd, info.encode("utf-8", "replace"), 0)


def _read_holder(path: str) -> tuple[int | None, str | None]:
    """Best effort: the holder may not have written its info yet (or be an older format)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read(4096)
    except OSError:
        return None, None
    fields = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    try:
        pid = int(fields.get("pid", ""))
    except ValueError:
        pid = None
    return pid, fields.get("since") or None
