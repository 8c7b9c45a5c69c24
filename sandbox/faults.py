"""Faults on demand: what can go wrong, on which endpoint, how often.

A fault is chosen per request among the faults whose `endpoint` matches ("*", an exact endpoint name such
as "contacts.list", or a prefix pattern such as "contacts.*") and, if `pages` is set, whose `page` query
parameter is in `pages`. Each fault counts its eligible requests n = 1, 2, ...; it fires when

- `after` (default 0): n > after, and
- `every`: n % every == 0 (when set), and
- `rate`: a seeded RNG draw < rate (when set; deterministic for a given seed and request sequence),
- `count`: it has fired fewer than `count` times (when set).

With neither `every` nor `rate`, every eligible request fires (until `count`).

Compact string form (CLI `--faults`): faults separated by ";", fields by ":"; the first two fields are the
endpoint and the kind, then key=value params (bare key = true; "pages=2,3" is a list):
    "contacts.list:5xx:rate=0.2;*:429:every=7:retry_after=1;tickets.list:repeat:pages=2:n=3"
"""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass, fields
from typing import Any

KINDS = ("5xx", "429", "403", "404", "slow", "drop", "truncated", "malformed", "repeat", "skip", "total_change",
         "missing_id", "type_change", "empty_page", "oversize")
# kinds that replace the response before the handler runs
TERMINAL = ("5xx", "429", "403", "404", "drop")
# kinds that only make sense on paginated list endpoints
LIST_ONLY = ("repeat", "skip", "total_change", "missing_id", "type_change", "empty_page")


@dataclass
class Fault:
    """One fault rule. Kind-specific params:

    - 5xx: status (500) · 429: retry_after seconds (1, may be 0 or negative), retry_after_http_date (False)
    - slow: ms (1000) · truncated: short_read (False: Content-Length matches the cut body; True: the
      connection closes after part of a full-length body)
    - repeat/skip: n records (3) · total_change: delta (+5, to total; lastPage follows)
    - type_change: field (default: first integer field of each record, else envelope "total")
    - oversize: size bytes (5_000_000), padded into the first record's "notes" (or an extra key)
    """

    endpoint: str = "*"
    kind: str = "5xx"
    rate: float | None = None
    every: int | None = None
    count: int | None = None
    pages: list[int] | None = None
    after: int = 0
    status: int | None = None
    retry_after: float = 1
    retry_after_http_date: bool = False
    ms: int = 1000
    short_read: bool = False
    n: int = 3
    delta: int = 5
    field: str | None = None
    size: int = 5_000_000

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; one of {KINDS}")
        if self.pages is not None:
            self.pages = [int(p) for p in self.pages]

    def matches(self, endpoint: str) -> bool:
        e = self.endpoint
        return e == "*" or e == endpoint or (e.endswith("*") and endpoint.startswith(e[:-1]))

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None or k in ("endpoint", "kind")}


def _value(text: str) -> Any:
    low = text.lower()
    if low in ("true", "yes"):
        return True
    if low in ("false", "no"):
        return False
    if "," in text:
        return [_value(t) for t in text.split(",") if t]
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def parse_faults(spec: str | None) -> list[Fault]:
    """Parse the compact CLI form into Faults (see the module docstring)."""
    out: list[Fault] = []
    known = {f.name for f in fields(Fault)}
    for part in (spec or "").split(";"):
        part = part.strip()
        if not part:
            continue
        bits = part.split(":")
        if len(bits) < 2:
            raise ValueError(f"fault {part!r}: expected ENDPOINT:KIND[:key=value...]")
        kw: dict[str, Any] = {"endpoint": bits[0], "kind": bits[1]}
        for b in bits[2:]:
            key, eq, val = b.partition("=")
            value = _value(val) if eq else True
            if key == "pages" and not isinstance(value, list):
                value = [value]
            if key not in known:
                raise ValueError(f"fault {part!r}: unknown parameter {key!r}")
            kw[key] = value
        out.append(Fault(**kw))
    return out


def coerce_faults(items: Any) -> list[Fault]:
    """Faults from Fault objects, dicts, compact strings, or a list mixing them."""
    if items is None:
        return []
    if isinstance(items, (str, Fault, dict)):
        items = [items]
    out: list[Fault] = []
    for it in items:
        if isinstance(it, Fault):
            out.append(it)
        elif isinstance(it, dict):
            out.append(Fault(**it))
        elif isinstance(it, str):
            out.extend(parse_faults(it))
        else:
            raise TypeError(f"cannot make a Fault from {it!r}")
    return out


class FaultEngine:
    """Decides, per request, which faults fire. Thread-safe; seeded for reproducibility."""

    def __init__(self, seed: int, faults: list[Fault] | None = None) -> None:
        self.seed = seed
        self._lock = threading.Lock()
        self.set(faults or [])

    def set(self, faults: list[Fault]) -> None:
        with self._lock:
            self.faults = list(faults)
            self._seen = [0] * len(self.faults)
            self._fired = [0] * len(self.faults)
            self._rngs = [random.Random(f"{self.seed}:{i}:{f.kind}:{f.endpoint}") for i, f in enumerate(self.faults)]

    def fired(self) -> list[int]:
        """How many times each fault has fired so far."""
        return list(self._fired)

    def pick(self, endpoint: str, page: int | None, is_list: bool) -> list[Fault]:
        """The faults that fire for this request (possibly none)."""
        if not self.faults:
            return []
        out = []
        with self._lock:
            for i, f in enumerate(self.faults):
                if not f.matches(endpoint) or (f.kind in LIST_ONLY and not is_list):
                    continue
                if f.pages is not None and (page if page is not None else 1) not in f.pages:
                    continue
                self._seen[i] += 1
                n = self._seen[i]
                if n <= f.after or (f.count is not None and self._fired[i] >= f.count):
                    continue
                if f.every and (n - f.after) % f.every:
                    continue
                if f.rate is not None and self._rngs[i].random() >= f.rate:
                    continue
                self._fired[i] += 1
                out.append(f)
        return out
