"""pytest plugin: `sandbox_factory` (SandboxConfig kwargs -> started Sandbox) and `sandbox` (a small default).

Enable with `pytest_plugins = ["sandbox.testing"]` in a conftest.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from .config import SandboxConfig
from .instance import Sandbox, start_sandbox


@pytest.fixture
def sandbox_factory() -> Iterator[Callable[..., Sandbox]]:
    """Start sandboxes on free loopback ports: factory(**SandboxConfig fields); all stopped at teardown."""
    started: list[Sandbox] = []

    def factory(**kwargs: Any) -> Sandbox:
        sb = start_sandbox(SandboxConfig(**kwargs))
        started.append(sb)
        return sb

    yield factory
    for sb in started:
        sb.stop()


@pytest.fixture
def sandbox(sandbox_factory: Callable[..., Sandbox]) -> Sandbox:
    """A started sandbox with the default config (100 contacts, 100 tickets, 100 cx-logs)."""
    return sandbox_factory()
