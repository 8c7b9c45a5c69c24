"""What each page seen on the last run held: its records' ids and content hashes, keyed by the page.

A no-change re-run spends most of its CPU parsing page bodies and hashing records (~13 µs a record).
Both are a pure function of the page's bytes, so a page whose bytes (or whose `data` list, for envelopes
with a per-request part such as cx-logs' `requestId`) match a page of the last run has the ids and hashes
remembered for it. The memo never decides what changed: the ids and hashes are still compared with what
the destination holds, and a page with anything to write is parsed as usual. A lost or stale memo file
costs speed only.

Stored per resource in the pipeline's working folder as JSON lines, written page by page while the scan
runs (so the pages of a long list are not held in memory) and put in place when the scan finished.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Callable, Dict, List, NamedTuple, Optional, Tuple

import dlt
import orjson
from dlt.common import logger

from .client import Page
from .records import NORMALIZER_VERSION

MEMO_FORMAT = 2
MEMO_FOLDER = "klink_page_memo"


def _key(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()[:32]  # 0.6 µs a record here; blake2b 1.5 µs


def _data_key(records: List[Any]) -> str:
    # record by record: one `dumps` of a whole page is a large short-lived allocation, and those left the
    # heap fragmented (900k records: peak 784 MB against 772 MB without the data key)
    digest = hashlib.sha256()
    for record in records:
        digest.update(orjson.dumps(record))  # JSON objects delimit themselves: no separator needed
    return digest.hexdigest()[:32]


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
        self._out: Optional[BinaryIO] = None  # the next memo, written as pages are read
        if path is not None:
            self._load(path)

    @classmethod
    def for_resource(cls, resource: str) -> "PageMemo":
        """The memo of `resource` in the current pipeline's working folder (none without a pipeline)."""
        try:
            folder = Path(dlt.current.pipeline().working_dir) / MEMO_FOLDER
        except Exception:  # no active pipeline: nothing is remembered
            return cls(None)
        return cls(folder / f"{resource}.jsonl")

    def __len__(self) -> int:
        return len(self._by_data)

    def _load(self, path: Path) -> None:
        try:
            with path.open("rb") as stored:
                header = orjson.loads(stored.readline() or b"{}")
                if not isinstance(header, dict) or header.get("format") != MEMO_FORMAT \
                        or header.get("normalizer") != NORMALIZER_VERSION.decode():
                    return  # written by another version: hashes may differ
                for line in stored:
                    body_key, data_key, ids, hashes, total, last_page = orjson.loads(line)
                    if hashes.count("\n") != max(len(ids) - 1, 0) or not all(isinstance(i, str) for i in ids) \
                            or not all(n is None or isinstance(n, int) for n in (total, last_page)):
                        raise ValueError(f"page {body_key!r} malformed")
                    entry = MemoEntry(data_key, ids, hashes, total, last_page)
                    self._by_body[body_key] = entry
                    self._by_data[data_key] = entry
        except FileNotFoundError:
            return
        except (OSError, orjson.JSONDecodeError, ValueError, TypeError, AttributeError) as exc:
            logger.info(f"klink: page memo {path.name} unreadable ({type(exc).__name__}: {exc});"
                        " every page is parsed")
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
        page.body_key = decoded.body_key
        return page

    def match_data(self, page: Page) -> None:
        """Look a parsed page up by its `data` list (its envelope may differ from the last run's: a new
        requestId, a total that grew)."""
        page.data_key = _data_key(page.records)
        page.memo = self._by_data.get(page.data_key)

    def keep(self, page: Page) -> None:
        """Carry a page the memo answered for over to the next run, with this page's envelope numbers
        (found by its data, the page may have come in an envelope with another total)."""
        entry = page.memo
        if entry is not None:
            self._write(page.body_key, entry.data_key, entry.ids, entry.hashes, page.total, page.last_page)

    def remember(self, page: Page, pairs: List[Tuple[str, str]]) -> None:
        """Record what a parsed page held (every record with a usable id and its hash)."""
        self._write(page.body_key, page.data_key, [rid for rid, _ in pairs], "\n".join(h for _, h in pairs),
                    page.total, page.last_page)

    def _write(self, *row: Any) -> None:
        if self.path is None:
            return
        try:
            if self._out is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._out = self.path.with_suffix(".tmp").open("wb")
                self._out.write(orjson.dumps({"format": MEMO_FORMAT, "normalizer": NORMALIZER_VERSION.decode()}))
            self._out.write(b"\n" + orjson.dumps(row))
        except OSError as exc:  # speed only: the next run parses these pages
            logger.warning(f"klink: could not write the page memo {self.path} ({exc})")
            self.discard()
            self.path = None

    def save(self) -> None:
        """Replace the stored memo with the pages this scan read."""
        if self._out is None or self.path is None:
            return
        out, self._out = self._out, None
        try:
            out.close()
            os.replace(out.name, self.path)
        except OSError as exc:  # speed only: the next run parses every page
            logger.warning(f"klink: could not save the page memo {self.path} ({exc})")

    def discard(self) -> None:
        """Drop what an unfinished scan wrote; the stored memo stays as it was."""
        if self._out is not None:
            out, self._out = self._out, None
            out.close()
            with contextlib.suppress(OSError):
                os.unlink(out.name)
