"""What each page seen on the last run held: its records' ids and content hashes, keyed by the page.

A no-change re-run spends most of its CPU parsing page bodies and hashing records (~13 µs a record).
Both are a pure function of the page's bytes, so a page whose bytes (or whose `data` list, for envelopes
with a per-request part such as cx-logs' `requestId`) match a page of the last run has the ids and hashes
remembered for it. The memo never decides what changed: the ids and hashes are still compared with what
the destination holds, and a page with anything to write is parsed as usual. A lost or stale memo file
costs speed only.

Stored per resource in the pipeline's working folder, rewritten after each finished scan with the pages
that scan read.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, NamedTuple, Optional, Tuple

import orjson
from dlt.common import logger

from .client import Page
from .records import NORMALIZER_VERSION

MEMO_FORMAT = 1
MEMO_FOLDER = "klink_page_memo"


def _key(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()[:32]  # 0.6 µs a record here; blake2b 1.5 µs


@dataclass(frozen=True)
class MemoEntry:
    """One page as last read: its records' ids (as text), their hashes joined by newlines, its envelope numbers."""

    data_key: str
    ids: List[str]
    hashes: str
    total: Optional[int]
    last_page: Optional[int]

    def __len__(self) -> int:
        return len(self.ids)

    def pairs(self) -> Iterator[Tuple[str, str]]:
        """(id, content hash) of each record, in page order."""
        return zip(self.ids, self.hashes.split("\n") if self.ids else (), strict=True)


class Decoded(NamedTuple):
    """A page body as fetched: parsed, or answered by the memo (then `parsed` is None)."""

    raw: bytes
    body_key: str
    parsed: Any
    entry: Optional[MemoEntry]


class PageMemo:
    """The memo of one resource: read at the start of its scan, saved after the scan finished."""

    def __init__(self, path: Optional[Path]) -> None:
        self.path = path
        self._by_body: Dict[str, MemoEntry] = {}
        self._by_data: Dict[str, MemoEntry] = {}
        self._next: Dict[str, Tuple[str, MemoEntry]] = {}  # data_key -> (body_key, entry) read by this scan
        if path is not None:
            self._load(path)

    @classmethod
    def for_resource(cls, resource: str) -> "PageMemo":
        """The memo of `resource` in the current pipeline's working folder (kept in memory only without one)."""
        try:
            import dlt

            folder = Path(dlt.current.pipeline().working_dir) / MEMO_FOLDER
        except Exception:  # no active pipeline: a memo for this run only
            return cls(None)
        return cls(folder / f"{resource}.json")

    def __len__(self) -> int:
        return len(self._by_data)

    def _load(self, path: Path) -> None:
        try:
            stored = orjson.loads(path.read_bytes())
        except FileNotFoundError:
            return
        except (OSError, orjson.JSONDecodeError) as exc:
            logger.info(f"klink: page memo {path.name} unreadable ({type(exc).__name__}); every page is parsed")
            return
        if not isinstance(stored, dict) or stored.get("format") != MEMO_FORMAT \
                or stored.get("normalizer") != NORMALIZER_VERSION.decode():
            return  # written by another version: hashes may differ
        try:
            for body_key, data_key, ids, hashes, total, last_page in stored.get("pages") or []:
                if hashes.count("\n") != max(len(ids) - 1, 0) or not all(isinstance(i, str) for i in ids) \
                        or not all(n is None or isinstance(n, int) for n in (total, last_page)):
                    raise ValueError(f"page {body_key!r} malformed")
                entry = MemoEntry(data_key, ids, hashes, total, last_page)
                self._by_body[body_key] = entry
                self._by_data[data_key] = entry
        except (ValueError, TypeError, AttributeError) as exc:
            logger.info(f"klink: page memo {path.name} not as written ({exc}); every page is parsed")
            self._by_body, self._by_data = {}, {}

    def decode(self, raw: bytes) -> Decoded:
        """A body as the client's decoder: the memo's entry for these exact bytes, else the parsed JSON."""
        body_key = _key(raw)
        entry = self._by_body.get(body_key)
        return Decoded(raw, body_key, None if entry is not None else orjson.loads(raw), entry)

    def page(self, decoded: Decoded, parse: Callable[[Any], Page], number: int) -> Page:
        """The Page of a decoded body; unparsed (records read on demand) when the memo knew its bytes."""
        entry = decoded.entry
        if entry is not None:
            raw = decoded.raw
            page = Page(number, [], entry.total, entry.last_page, memo=entry, data_key=entry.data_key,
                        unparsed=lambda: parse(orjson.loads(raw)).records)
        else:
            page = parse(decoded.parsed)
            page.data_key = _key(orjson.dumps(page.records))
            page.memo = self._by_data.get(page.data_key)
        page.body_key = decoded.body_key
        return page

    def keep(self, page: Page) -> None:
        """Carry a page the memo answered for over to the next run, with this page's envelope numbers
        (found by its data, the page may have come in an envelope with another total)."""
        entry = page.memo
        if entry is None:
            return
        if (entry.total, entry.last_page) != (page.total, page.last_page):
            entry = replace(entry, total=page.total, last_page=page.last_page)
        self._next[entry.data_key] = (page.body_key, entry)

    def remember(self, page: Page, pairs: List[Tuple[str, str]]) -> None:
        """Record what a parsed page held (every record with a usable id and its hash)."""
        if not page.data_key:
            return
        entry = MemoEntry(page.data_key, [rid for rid, _ in pairs], "\n".join(h for _, h in pairs),
                          page.total, page.last_page)
        self._next[page.data_key] = (page.body_key, entry)

    def save(self) -> None:
        """Replace the stored memo with the pages this scan read."""
        if self.path is None:
            return
        pages = [[body_key, e.data_key, e.ids, e.hashes, e.total, e.last_page] for body_key, e in self._next.values()]
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_bytes(orjson.dumps({"format": MEMO_FORMAT, "normalizer": NORMALIZER_VERSION.decode(),
                                          "pages": pages}))
            os.replace(tmp, self.path)
        except OSError as exc:  # speed only: the next run parses every page
            logger.warning(f"klink: could not save the page memo {self.path} ({exc})")
