"""A faithful local copy of the klink.cloud public API, for the demo, the tests and the benchmarks."""

from .config import DEFAULT_TOKEN, SandboxConfig
from .faults import Fault, parse_faults
from .instance import Sandbox, start_sandbox
from .webhooks import WebhookEmitter

__all__ = ["DEFAULT_TOKEN", "Fault", "Sandbox", "SandboxConfig", "parse_faults", "WebhookEmitter", "start_sandbox"]
