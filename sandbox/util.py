"""Deterministic ids, seeded randomness and the documented timestamp formats."""

from __future__ import annotations

import hashlib
import random
from datetime import datetime, timedelta, timezone
from typing import Any

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_M31 = (1 << 31) - 1
_M62 = (1 << 62) - 1


def h64(*parts: object) -> int:
    """A stable 64-bit hash of the parts (not Python's salted hash)."""
    data = "\x1f".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big")


class FastRandom(random.Random):
    """random.Random with choice/randrange/choices/sample built on the C-level random() (several times faster)."""

    def choice(self, seq: Any) -> Any:
        return seq[int(self.random() * len(seq))]

    def randrange(self, start: int, stop: int | None = None, step: int = 1) -> int:  # type: ignore[override]
        if stop is None:
            start, stop = 0, start
        if stop <= start:
            raise ValueError("empty range for randrange()")
        return start + int(self.random() * (stop - start))

    def choices(self, population: Any, weights: Any = None, *, cum_weights: Any = None, k: int = 1) -> list[Any]:
        if weights is None:
            return [self.choice(population) for _ in range(k)]
        total = sum(weights)
        out = []
        last = len(population) - 1
        for _ in range(k):
            x = self.random() * total
            i = 0
            while i < last:
                x -= weights[i]
                if x < 0:
                    break
                i += 1
            out.append(population[i])
        return out

    def sample(self, population: Any, k: int, *, counts: Any = None) -> list[Any]:
        pool = list(population)
        n = len(pool)
        if k > n:
            raise ValueError("sample larger than population")
        for i in range(k):
            j = i + int(self.random() * (n - i))
            pool[i], pool[j] = pool[j], pool[i]
        return pool[:k]


def rng(*parts: object) -> random.Random:
    """A seeded Random for the parts, stable across processes."""
    return FastRandom(h64(*parts))


_M64 = (1 << 64) - 1


def _mix(z: int) -> int:
    """splitmix64 finaliser: a fast, well-spread 64-bit integer hash."""
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
    return z ^ (z >> 31)


class IdCodec:
    """Invertible uuid4-looking ids: index -> uuid and back, without a lookup table.

    The low 62 bits are a keyed Feistel permutation of the index; the high 64 bits are a keyed
    hash of those, so random strings are rejected and ids of other kinds/seeds do not decode.
    """

    def __init__(self, seed: int, kind: str) -> None:
        self._round_keys = [h64(seed, kind, r) for r in range(4)]
        self._hi_key = h64(seed, kind, "high")

    def _permute(self, v: int) -> int:
        left, right = v >> 31, v & _M31
        for k in self._round_keys:
            left, right = right, left ^ (_mix(right ^ k) & _M31)
        return (left << 31) | right

    def _unpermute(self, v: int) -> int:
        left, right = v >> 31, v & _M31
        for k in reversed(self._round_keys):
            left, right = right ^ (_mix(left ^ k) & _M31), left
        return (left << 31) | right

    def _high(self, low: int) -> int:
        hi = _mix(low ^ self._hi_key)
        return (hi & ~(0xF << 12)) | (4 << 12)

    def encode(self, index: int) -> str:
        low = self._permute(index & _M62)
        value = (self._high(low) << 64) | (0b10 << 62) | low
        s = f"{value:032x}"
        return f"{s[:8]}-{s[8:12]}-{s[12:16]}-{s[16:20]}-{s[20:]}"

    def decode(self, uid: str) -> int | None:
        """Index for an id made by encode(), else None."""
        s = uid.replace("-", "")
        if len(s) != 32 or len(uid) != 36:
            return None
        try:
            value = int(s, 16)
        except ValueError:
            return None
        low = value & _M64
        if low >> 62 != 0b10:
            return None
        low &= _M62
        if (value >> 64) != self._high(low):
            return None
        return self._unpermute(low)


def uuid_from(*parts: object) -> str:
    """A uuid4-looking id derived from the parts (not invertible)."""
    d = hashlib.blake2b("\x1f".join(str(p) for p in parts).encode(), digest_size=16).digest()
    value = int.from_bytes(d, "big")
    value = (value & ~(0xF << 76)) | (4 << 76)
    value = (value & ~(0b11 << 62)) | (0b10 << 62)
    s = f"{value:032x}"
    return f"{s[:8]}-{s[8:12]}-{s[12:16]}-{s[16:20]}-{s[20:]}"


def parse_iso(text: str) -> int:
    """ISO-8601 (Z or offset) -> epoch microseconds."""
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return to_us(dt)


def to_us(dt: datetime) -> int:
    delta = dt - EPOCH
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_us(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


def fmt_ms(us: int) -> str:
    """'2026-01-08T04:42:59.028Z' (most REST objects)."""
    dt = from_us(us)
    return f"{dt:%Y-%m-%dT%H:%M:%S}.{dt.microsecond // 1000:03d}Z"


def fmt_us(us: int) -> str:
    """'2026-01-09T03:42:38.000000Z' (webhook payloads)."""
    dt = from_us(us)
    return f"{dt:%Y-%m-%dT%H:%M:%S}.{dt.microsecond:06d}Z"


def fmt_ns(us: int) -> str:
    """'2026-01-08T16:34:34.542193005Z' (send-message response)."""
    dt = from_us(us)
    return f"{dt:%Y-%m-%dT%H:%M:%S}.{dt.microsecond:06d}{us % 997 % 1000:03d}Z"


def fmt_pg(us: int, millis: bool = True) -> str:
    """Postgres style: '2026-03-30 08:30:00.000+00' (cx-log startedDate) or without ms (closedAt)."""
    dt = from_us(us)
    if millis:
        return f"{dt:%Y-%m-%d %H:%M:%S}.{dt.microsecond // 1000:03d}+00"
    return f"{dt:%Y-%m-%d %H:%M:%S}+00"


def fmt_date(us: int) -> str:
    """'YYYY-MM-DD' (date custom fields)."""
    return f"{from_us(us):%Y-%m-%d}"


DAY_US = 86_400_000_000
