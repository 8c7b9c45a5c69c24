"""Configuration of a sandbox instance."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DEFAULT_TOKEN = "kpt_sandbox_token"
"""Default bearer token; the ``kpt_`` prefix follows the documented token format (spec §1.2)."""

SHAPES = ("seed", "webhook")
ORDERS = ("oldest_first", "newest_first")


@dataclass
class SandboxConfig:
    """What a sandbox serves: data sizes, shapes, order, clock, limits and faults."""

    seed: int = 42
    contacts: int = 100
    tickets: int = 100
    cx_logs: int = 100
    agent_activities: int = 50
    tags: int = 12
    channels: int = 6
    contact_groups: int = 5
    shape: str = "seed"
    timestamps: bool = True
    order: str = "oldest_first"
    token: str = DEFAULT_TOKEN
    clock_start: str = "2026-03-30T00:00:00Z"
    latency_ms: int = 0
    rate_limit_per_minute: int | None = None
    faults: list[Any] = field(default_factory=list)
    webhook_secret: str = "whsec_sandbox"

    def __post_init__(self) -> None:
        if self.shape not in SHAPES:
            raise ValueError(f"shape must be one of {SHAPES}, got {self.shape!r}")
        if self.order not in ORDERS:
            raise ValueError(f"order must be one of {ORDERS}, got {self.order!r}")
        if self.contacts < 1:
            raise ValueError("contacts must be >= 1")
        for name in ("tickets", "cx_logs", "agent_activities", "tags", "channels", "contact_groups"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")
