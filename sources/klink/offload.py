"""Build a big scan's Arrow batches in a helper process, so a full sync uses a second core.

The main thread keeps fetching pages, hashing records and deciding what changed; the helper turns the
changed records into Arrow tables (normalize, flatten, convert: about half of a full sync's CPU).
Records travel as the JSON bytes already made for their hash, tables come back pickled (Arrow IPC).
One helper per resource scan, batches built in order, at most `MAX_IN_FLIGHT` outstanding; a failure
in the helper is raised in the main thread with the helper's traceback.

The helper is a Python subprocess running `serve` on pipes, not multiprocessing: spawn would re-import
the caller's `__main__` (a pipeline script without an `if __name__ == "__main__"` guard would run
twice) and fork is unsafe with the fetch threads running.
"""

from __future__ import annotations

import contextlib
import gc
import os
import pickle
import queue
import struct
import subprocess
import sys
import threading
import traceback
from pathlib import Path
from typing import IO, Any, Iterator, Mapping, Optional, Tuple

from .columnar import ArrowBatch, Built, BuiltTable
from .records import HeldJson, normalizer_for

MAX_IN_FLIGHT = 2
# frames only on the pipe: stdout is moved aside before any import, so whatever is printed or logged
# (at import time too) goes to stderr. An empty module stands in for the `sources.klink` package, whose
# __init__ imports dlt and the whole source: this module, `columnar` and `records` need neither, so the
# helper imports in ~0.12 s and ~78 MB instead of ~1.0 s and ~117 MB (tests/source/test_offload.py
# checks that dlt stays out).
_HELPER = ("import os, sys, types; frames = os.fdopen(os.dup(1), 'wb'); os.dup2(2, 1); sys.stdout = sys.stderr; "
           "package = sys.modules['sources.klink'] = types.ModuleType('sources.klink'); "
           "package.__path__ = [sys.argv[1]]; "
           "from sources.klink.offload import serve; serve(sys.stdin.buffer, frames)")
_FRAME = struct.Struct("<Q")


def _write_frame(stream: IO[bytes], obj: Any) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_FRAME.pack(len(data)))
    stream.write(data)
    stream.flush()


def _read_frame(stream: IO[bytes]) -> Any:
    head = stream.read(_FRAME.size)
    if len(head) < _FRAME.size:
        raise EOFError
    (size,) = _FRAME.unpack(head)
    data = stream.read(size)
    if len(data) < size:
        raise EOFError
    return pickle.loads(data)


class HelperFailed(RuntimeError):
    """The helper process failed or exited; the message carries its traceback."""


class Offload:
    """The helper process of one resource scan and the batches it is building."""

    def __init__(self, resource: str, root_hints: Any, field_types: Mapping[str, str], load_id: str,
                 waiting: Optional[HeldJson] = None) -> None:
        """Start the helper; `waiting` are records already held for its first batch."""
        self.resource = resource
        self._setup = (resource, dict(root_hints.get("columns") or {}), dict(field_types), root_hints, load_id)
        package = Path(__file__).resolve().parent
        repo = str(package.parents[1])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([repo, os.environ.get("PYTHONPATH", "")])}
        self._proc = subprocess.Popen([sys.executable, "-c", _HELPER, str(package)], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, env=env)
        self._results: "queue.Queue[Any]" = queue.Queue()
        self._reader = threading.Thread(target=self._read, name=f"klink-offload-{resource}", daemon=True)
        self._reader.start()
        self._in_flight = 0
        self.waiting = waiting if waiting is not None else HeldJson()
        self._outbox: "queue.Queue[Any]" = queue.Queue()
        self._send_error = ""
        self._writer = threading.Thread(target=self._write, name=f"klink-offload-{resource}-send", daemon=True)
        self._writer.start()
        self._outbox.put(self._setup)

    def _write(self) -> None:
        """Send what is queued, on this thread: the helper reads a batch only once it has built the last
        (and not at all while it imports), so the main thread blocked in the write instead of fetching
        (3.2 s of a 25.7 s profile at 50k a list)."""
        try:
            while (frame := self._outbox.get()) is not None:
                _write_frame(self._proc.stdin, frame)  # type: ignore[arg-type]
        except Exception as exc:  # noqa: BLE001 - the helper then sees its input end; `_take` reports both
            self._send_error = f"{type(exc).__name__}: {exc}"
        finally:
            with contextlib.suppress(OSError):
                self._proc.stdin.close()  # type: ignore[union-attr]

    def _read(self) -> None:
        try:
            while True:
                self._results.put(_read_frame(self._proc.stdout))  # type: ignore[arg-type]
        except (EOFError, OSError, ValueError):
            self._results.put(None)

    @property
    def rows(self) -> int:
        """Changed records waiting for the next batch."""
        return len(self.waiting)

    def add(self, digest: str, payload: bytes) -> None:
        self.waiting.add(digest, payload)

    def submit(self) -> Iterator[BuiltTable]:
        """Send the waiting records as one batch; yields the tables of finished batches beyond the
        in-flight bound."""
        if self.waiting:
            self._outbox.put(self.waiting)
            self.waiting = HeldJson()
            self._in_flight += 1
        while self._in_flight > MAX_IN_FLIGHT:
            yield from self._take()

    def drain(self) -> Iterator[BuiltTable]:
        """Everything added so far, built and in order."""
        yield from self.submit()
        while self._in_flight:
            yield from self._take()

    def _take(self) -> Built:
        result = self._results.get()
        if result is None:
            code = self._proc.wait()
            sending = f"; sending to it failed: {self._send_error}" if self._send_error else ""
            raise HelperFailed(f"klink: the helper building {self.resource} tables exited (code {code}){sending}")
        self._in_flight -= 1
        status, value = result
        if status != "ok":
            raise HelperFailed(f"klink: building {self.resource} tables failed in the helper process:\n{value}")
        return value

    def close(self) -> None:
        """Stop the helper (batches not taken yet are dropped)."""
        with contextlib.suppress(queue.Empty):  # batches not sent yet are dropped too
            while True:
                self._outbox.get_nowait()
        self._outbox.put(None)  # the writer then closes the helper's input
        self._writer.join(timeout=30)
        try:
            self._proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._reader.join(timeout=30)


def serve(stdin: IO[bytes], frames: IO[bytes]) -> None:
    """(In the helper.) Build each batch sent on `stdin` and write its tables to `frames`, in order."""
    resource, declared, field_types, root_hints, load_id = _read_frame(stdin)
    batch = ArrowBatch(resource, declared)
    normalize = normalizer_for(resource)
    gc.freeze()  # the imports' objects are never garbage: no collection needs to walk them
    while True:
        try:
            held: HeldJson = _read_frame(stdin)
        except EOFError:
            return
        try:
            batch.add_held(held, normalize, field_types, load_id)
            result: Tuple[str, Any] = ("ok", batch.build(root_hints))
        except Exception:  # noqa: BLE001 - reported to the main process, which raises it
            result = ("error", traceback.format_exc())
        del held
        _write_frame(frames, result)

