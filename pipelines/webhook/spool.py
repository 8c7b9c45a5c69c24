"""The durable spool: an accepted event is on disk (fsync'd) before the receiver answers 2xx.

Layout: append-only segment files ``<seq>.seg`` in the spool directory. A frame per event::

    b"KW" | u32 meta length | u32 body length | meta (JSON) | raw body | u32 crc32(meta + body)

Writes use group commit: request threads hand their frame to one writer thread, which writes every
frame queued so far, calls ``fsync`` once for all of them (and fsyncs the directory when it created
the segment), then releases the waiting requests. Under load this costs one fsync per group rather
than one per event; an event is acknowledged only after its own fsync returned.

A flush `take`s whole segments (the open one is sealed first), loads them and only then `commit`s,
which deletes the files. A crash anywhere before the delete leaves the files in place and the next
start loads them again; the tables merge on keys, so a reload is idempotent. A crash during a write
can leave a torn frame at the end of a segment; that event was never acknowledged, and reading stops
at the first frame that is short or fails its CRC. After a restart new events always go to a new
segment, never after a torn tail.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import struct
import threading
import time
import zlib
from dataclasses import dataclass
from typing import List, Optional, Tuple

import orjson

MAGIC = b"KW"
_HEADER = struct.Struct(">2sII")
_CRC = struct.Struct(">I")
SUFFIX = ".seg"


class SpoolError(Exception):
    """The event could not be made durable (disk full, I/O error, spool closed)."""


@dataclass(frozen=True)
class SpooledEvent:
    """One accepted event as read back from the spool."""

    event_id: str
    received_at: str  # ISO 8601 UTC
    auth: str
    body: bytes


@dataclass
class Batch:
    """Events taken for one flush, and the segment files that hold them."""

    events: List[SpooledEvent]
    segments: List[str]


def encode(event: SpooledEvent) -> bytes:
    """The frame for one event."""
    meta = orjson.dumps({"id": event.event_id, "at": event.received_at, "auth": event.auth})
    return (_HEADER.pack(MAGIC, len(meta), len(event.body)) + meta + event.body
            + _CRC.pack(zlib.crc32(meta + event.body)))


def read_segment(path: str) -> List[SpooledEvent]:
    """Every complete, intact frame of a segment, in order (stops at a torn or corrupt frame)."""
    with open(path, "rb") as fh:
        data = fh.read()
    events, pos = [], 0
    while pos + _HEADER.size <= len(data):
        magic, meta_len, body_len = _HEADER.unpack_from(data, pos)
        end = pos + _HEADER.size + meta_len + body_len + _CRC.size
        if magic != MAGIC or end > len(data):
            break
        payload = data[pos + _HEADER.size:end - _CRC.size]
        if _CRC.unpack_from(data, end - _CRC.size)[0] != zlib.crc32(payload):
            break
        meta = orjson.loads(payload[:meta_len])
        events.append(SpooledEvent(meta["id"], meta["at"], meta.get("auth", ""), payload[meta_len:]))
        pos = end
    return events


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _Waiter:
    __slots__ = ("frame", "done", "error")

    def __init__(self, frame: bytes) -> None:
        self.frame = frame
        self.done = threading.Event()
        self.error: Optional[BaseException] = None


class Spool:
    """Append-only, fsync'd event spool with group commit; see the module docstring."""

    def __init__(self, directory: str, rotate_every: int = 500) -> None:
        self.directory = os.path.abspath(directory)
        os.makedirs(self.directory, exist_ok=True)
        self._lock_fd = os.open(os.path.join(self.directory, "LOCK"), os.O_RDWR | os.O_CREAT, 0o644)
        try:  # one receiver per spool; the kernel drops the lock when the process dies (even kill -9)
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(self._lock_fd)
            raise SpoolError(f"spool {self.directory} is in use by another receiver") from None
        self.rotate_every = max(1, int(rotate_every))
        self._io = threading.Lock()  # the open segment and the sealed list
        self._cond = threading.Condition()  # the queue of frames waiting for the writer
        self._queue: List[_Waiter] = []
        self._closing = False
        self._file = None
        self._file_path: Optional[str] = None
        self._file_count = 0
        self._sealed: List[Tuple[str, int]] = []  # (path, events) oldest first
        self._taken: set = set()
        self._pending = 0
        self.first_pending_at: Optional[float] = None  # monotonic time the oldest untaken event arrived
        self._seq = 0
        for name in sorted(os.listdir(self.directory)):
            if name.endswith(SUFFIX) and name[:-len(SUFFIX)].isdigit():
                path = os.path.join(self.directory, name)
                count = len(read_segment(path))
                self._seq = max(self._seq, int(name[:-len(SUFFIX)]))
                if count:
                    self._sealed.append((path, count))
                    self._pending += count
                else:
                    os.unlink(path)  # empty or only a torn frame: nothing was acknowledged from it
        if self._pending:
            self.first_pending_at = float("-inf")  # left from a previous run: flush at once
        self._writer = threading.Thread(target=self._write_loop, name="spool-writer", daemon=True)
        self._writer.start()

    # --- accept path -------------------------------------------------------------------------
    def append(self, event: SpooledEvent, timeout: float = 30.0) -> None:
        """Write the event and fsync it; returns only when it is durable, else raises SpoolError."""
        waiter = _Waiter(encode(event))
        with self._cond:
            if self._closing:
                raise SpoolError("spool closed")
            self._queue.append(waiter)
            self._cond.notify()
        if not waiter.done.wait(timeout):
            raise SpoolError("spool write timed out")
        if waiter.error is not None:
            raise SpoolError(f"spool write failed: {waiter.error}") from waiter.error

    def _write_loop(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closing:
                    self._cond.wait()
                group, self._queue = self._queue, []
            if not group:
                return
            error: Optional[BaseException] = None
            with self._io:
                try:
                    fh = self._open_segment()
                    fh.write(b"".join(w.frame for w in group))
                    fh.flush()
                    os.fsync(fh.fileno())
                    self._file_count += len(group)
                    self._pending += len(group)
                    if self.first_pending_at is None:
                        self.first_pending_at = time.monotonic()
                    if self._file_count >= self.rotate_every:
                        self._seal()
                except OSError as exc:
                    error = exc
                    self._seal(broken=True)  # the next group starts a fresh segment
            for waiter in group:
                waiter.error = error
                waiter.done.set()

    def _open_segment(self):
        if self._file is None:
            self._seq += 1
            self._file_path = os.path.join(self.directory, f"{self._seq:012d}{SUFFIX}")
            self._file = open(self._file_path, "xb", buffering=0)  # noqa: SIM115 - kept open across writes
            _fsync_dir(self.directory)  # the new file's name is durable before any event in it is acked
            self._file_count = 0
        return self._file

    def _seal(self, broken: bool = False) -> None:
        if self._file is None:
            return
        with contextlib.suppress(OSError):
            self._file.close()
        if broken:  # count what is really readable; unacknowledged frames may or may not be there
            try:
                count = len(read_segment(self._file_path or ""))
            except OSError:
                count = 0
            self._pending += count - self._file_count
            self._file_count = count
        if self._file_count:
            self._sealed.append((self._file_path or "", self._file_count))
        self._file, self._file_path, self._file_count = None, None, 0

    # --- flush path --------------------------------------------------------------------------
    @property
    def pending(self) -> int:
        """Events on disk that are not loaded yet (including those taken by a running flush)."""
        return self._pending

    def take(self, max_events: int) -> Batch:
        """Whole segments, oldest first, up to about `max_events` events (at least one segment)."""
        with self._io:
            self._seal()
            segments, count = [], 0
            for path, n in self._sealed:
                if path in self._taken:
                    continue
                if segments and count + n > max_events:
                    break
                segments.append(path)
                count += n
            self._taken.update(segments)
            untaken = self._file_count + sum(n for p, n in self._sealed if p not in self._taken)
            self.first_pending_at = (time.monotonic() if untaken else None)
        events: List[SpooledEvent] = []
        for path in segments:
            events.extend(read_segment(path))
        return Batch(events, segments)

    def untake(self, batch: Batch) -> None:
        """A flush failed: its segments are pending again, for the next tick."""
        with self._io:
            self._taken.difference_update(batch.segments)
            if batch.segments and self.first_pending_at is None:
                self.first_pending_at = time.monotonic()

    def untaken(self) -> int:
        """Events waiting for a flush that has not taken them yet."""
        with self._io:
            return self._file_count + sum(n for p, n in self._sealed if p not in self._taken)

    def commit(self, batch: Batch) -> None:
        """The batch is loaded: delete its segment files."""
        with self._io:
            done = set(batch.segments)
            for path, n in [s for s in self._sealed if s[0] in done]:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
                self._pending -= n
            self._sealed = [s for s in self._sealed if s[0] not in done]
            self._taken.difference_update(done)
        if batch.segments:
            _fsync_dir(self.directory)

    def close(self) -> None:
        """Stop accepting, finish queued writes and close the open segment (it stays for the next flush)."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._writer.join(timeout=30)
        with self._io:
            self._seal()

    def release(self) -> None:
        """Give up the spool directory (after `close` and the final flush)."""
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None  # type: ignore[assignment]
