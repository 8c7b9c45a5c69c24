"""A lazily generated table: rows come from (seed, index); only changes are stored (an overlay)."""

from __future__ import annotations

import os
from bisect import bisect_left, bisect_right, insort
from collections.abc import Callable, Iterator
from typing import Any

import orjson

from .util import IdCodec

CACHE_BYTES = int(os.environ.get("KLINK_SANDBOX_CACHE_MB", "400")) * 1_000_000  # per table


class Table:
    """Rows 0..size-1; base rows are generated on demand, created/updated rows live in `overlay`.

    Deleted rows (through the API or mutate()) are removed from listings and detail; rows that were
    seeded as soft-deleted simply carry a `deletedAt` value and stay listed.
    """

    def __init__(self, name: str, seed: int, base_count: int, make: Callable[[int], dict[str, Any]],
                 render: Callable[[int, dict[str, Any]], dict[str, Any]], newest_first: bool) -> None:
        self.name = name
        self.codec = IdCodec(seed, name)
        self.base_count = base_count
        self.size = base_count
        self.make = make
        self.render = render
        self.newest_first = newest_first
        self.overlay: dict[int, dict[str, Any]] = {}
        self.deleted: list[int] = []
        self._deleted_set: set[int] = set()
        self.cache: dict[int, bytes] = {}
        self.cached_bytes = 0
        self.version = 0
        self.fixed_ids: dict[str, int] = {}  # documented example ids mapped to an index
        self._fixed_by_index: dict[int, str] = {}

    # -- ids ---------------------------------------------------------------------------------
    def id_of(self, index: int) -> str:
        return self._fixed_by_index.get(index) or self.codec.encode(index)

    def pin_id(self, index: int, uid: str) -> None:
        """Give row `index` a fixed id (e.g. the id of a documented example)."""
        self.fixed_ids[uid] = index
        self._fixed_by_index[index] = uid

    def index_of(self, uid: str) -> int | None:
        """Index of a live row with this id, else None."""
        i = self.fixed_ids.get(uid)
        if i is None:
            i = self.codec.decode(uid)
        if i is None or not self.exists(i):
            return None
        return i

    # -- rows --------------------------------------------------------------------------------
    def exists(self, i: int) -> bool:
        return 0 <= i < self.size and i not in self._deleted_set

    def core(self, i: int) -> dict[str, Any]:
        row = self.overlay.get(i)
        if row is None:
            row = self.make(i)
        return row

    def editable(self, i: int) -> dict[str, Any]:
        """The row as an overlay entry that may be changed in place (call touched() after)."""
        row = self.overlay.get(i)
        if row is None:
            row = self.overlay[i] = self.make(i)
        return row

    def touched(self, i: int) -> None:
        self._uncache(i)
        self.version += 1

    def add(self, row: dict[str, Any]) -> int:
        i = self.size
        self.overlay[i] = row  # before size grows, so a reader never generates row i from the seed
        self.size = i + 1
        self.version += 1
        return i

    def delete(self, i: int) -> None:
        if i in self._deleted_set:
            return
        insort(self.deleted, i)  # list first: _kth_live_from stays finite while the set catches up
        self._deleted_set.add(i)
        self._uncache(i)
        self.version += 1

    def _uncache(self, i: int) -> None:
        b = self.cache.pop(i, None)
        if b is not None:
            self.cached_bytes -= len(b) + 33

    def invalidate(self) -> None:
        self.cache.clear()
        self.cached_bytes = 0
        self.version += 1

    def bytes_of(self, i: int) -> bytes:
        b = self.cache.get(i)
        if b is None:
            # orjson's result keeps an over-allocated buffer (~4-8 KiB); an exact-size copy is ~8x smaller
            b = bytes(memoryview(orjson.dumps(self.render(i, self.core(i)))))
            if self.cached_bytes < CACHE_BYTES:  # when full, keep what is cached and generate the rest
                self.cache[i] = b
                self.cached_bytes += len(b) + 33
        return b

    def obj(self, i: int) -> dict[str, Any]:
        return self.render(i, self.core(i))

    # -- listing -----------------------------------------------------------------------------
    def live_in(self, lo: int, hi: int) -> int:
        """Number of live rows with index in [lo, hi)."""
        return (hi - lo) - (bisect_left(self.deleted, hi) - bisect_left(self.deleted, lo))

    def _kth_live_from(self, lo: int, k: int) -> int:
        """Index of the k-th (0-based) live row at or after lo."""
        if not self.deleted:
            return lo + k
        want = (lo - bisect_left(self.deleted, lo)) + k  # live rows before the answer
        x = want
        while True:
            d = bisect_right(self.deleted, x)
            if x - d == want and x not in self._deleted_set:
                return x
            x = want + d

    def ordered_slice(self, lo: int, hi: int, offset: int, limit: int) -> Iterator[int]:
        """Live indices in [lo, hi), in list order, skipping `offset` and yielding up to `limit`."""
        n = self.live_in(lo, hi)
        if offset < 0:
            limit += offset
            offset = 0
        end = min(n, offset + max(0, limit))
        if self.newest_first:
            for pos in range(offset, end):
                yield self._kth_live_from(lo, n - 1 - pos)
        elif not self.deleted:
            yield from range(lo + offset, lo + end)
        else:
            for pos in range(offset, end):
                yield self._kth_live_from(lo, pos)

    def iter_live(self) -> Iterator[int]:
        """All live indices in list order."""
        return self.ordered_slice(0, self.size, 0, self.size)
