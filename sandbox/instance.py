"""The Sandbox object: a started server plus the control methods tests and benchmarks use."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

from .config import SandboxConfig
from .faults import Fault, coerce_faults
from .server import App, _Server


class Sandbox:
    """A local klink API on a real loopback socket, served from a background thread.

    Every control method is also reachable over HTTP as POST /_sandbox/<name> with a JSON object of
    keyword arguments and the same bearer token; the answer is {"result": ...}.
    """

    def __init__(self, config: SandboxConfig | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.config = config or SandboxConfig()
        self.app = App(self.config)
        self.app.control = self
        self.host = host
        self._server = _Server((host, port), self.app)
        self.port: int = self._server.server_address[1]
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def token(self) -> str:
        return self.config.token

    @property
    def store(self) -> Any:
        return self.app.store

    def start(self) -> Sandbox:
        if self._thread is None:
            self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                            name=f"klink-sandbox-{self.port}", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.close_connections()
        self._server.server_close()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def serve_forever(self) -> None:
        """Serve in the calling thread until stop() is called from another thread."""
        self._server.serve_forever(poll_interval=0.2)

    # -- control -------------------------------------------------------------------------------
    def mutate(self, resource: str = "contacts", update: int = 0, create: int = 0, delete: int = 0) -> dict[str, list[str]]:
        """Update/create/delete rows deterministically; returns {"updated","created","deleted"} id lists."""
        return self.app.store.mutate(resource, update=update, create=create, delete=delete)

    def advance_clock(self, days: float = 0, hours: float = 0, minutes: float = 0, seconds: float = 0) -> datetime:
        """Move the virtual clock forward; returns the new now()."""
        return self.app.store.advance_clock(days=days, hours=hours, minutes=minutes, seconds=seconds)

    def now(self) -> datetime:
        """The virtual clock (UTC)."""
        return self.app.store.now()

    def set_faults(self, faults: list[Fault | dict[str, Any] | str] | str) -> None:
        """Replace the active faults (Fault objects, dicts of Fault fields, or compact strings)."""
        self.app.faults.set(coerce_faults(faults))

    def clear_faults(self) -> None:
        self.app.faults.set([])

    def faults_fired(self) -> list[int]:
        """How many times each active fault has fired."""
        return self.app.faults.fired()

    def counters(self) -> dict[str, int]:
        """Requests per endpoint name since start or the last reset_counters()."""
        return self.app.counters()

    def reset_counters(self) -> None:
        self.app.reset_counters()

    def rename_custom_field(self, system_name: str, display_name: str) -> None:
        """Change a contact custom field's display_name everywhere it is served."""
        self.app.store.rename_custom_field(system_name, display_name)

    def emit_webhooks(self, url: str, events: list[str] | None = None, count: int = 1, secret: str | None = None,
                      mutate: bool = True, timeout: float = 10.0) -> list[dict[str, Any]]:
        """POST signed webhook events to url; see sandbox.webhooks.WebhookEmitter.emit."""
        from .webhooks import WebhookEmitter

        emitter = WebhookEmitter(url, secret or self.config.webhook_secret, sandbox=self, timeout=timeout)
        try:
            return emitter.emit(events=events, count=count, mutate=mutate)
        finally:
            emitter.close()

    def info(self) -> dict[str, Any]:
        """Base URL, config summary and virtual clock."""
        c = self.config
        return {"base_url": self.base_url, "seed": c.seed, "contacts": c.contacts, "tickets": c.tickets,
                "cx_logs": c.cx_logs, "shape": c.shape, "timestamps": c.timestamps, "order": c.order,
                "now": self.now()}


def start_sandbox(config: SandboxConfig | None = None, host: str = "127.0.0.1", port: int = 0) -> Sandbox:
    """A started Sandbox serving from a background thread (port 0: a free port)."""
    return Sandbox(config, host, port).start()
