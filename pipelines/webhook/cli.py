"""`klink webhook serve`: run the receiver until SIGTERM/SIGINT, then flush what is spooled and exit.

Secrets are read from dlt's config providers only (never from flags, which `ps` shows):
`sources.klink.webhook_secret` (env `SOURCES__KLINK__WEBHOOK_SECRET`) for the signature,
`sources.klink.webhook_basic_username` / `webhook_basic_password` for Basic auth,
`sources.klink.webhook_header_value` for a custom header. Non-secret settings may come from flags or
from `sources.klink.webhook_*` config keys (flags win).

Exit codes: 0 after a clean stop with an empty spool; 2 bad configuration; 73 spool or port in use;
75 stopped but some events stay spooled (the destination stayed unavailable; they load at next start).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from typing import Any, List, Optional

EXIT_OK, EXIT_CONFIG, EXIT_IN_USE, EXIT_PENDING = 0, 2, 73, 75


def _config(key: str, default: Any = None) -> Any:
    import dlt

    value = dlt.config.get(f"sources.klink.{key}")
    return default if value is None else value


def _secret(key: str) -> Optional[str]:
    import dlt

    value = dlt.secrets.get(f"sources.klink.{key}")
    return None if value is None else str(value)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of `klink webhook serve` (defaults: `sources.klink.webhook_*` config, then these)."""
    parser.add_argument("--host", help="interface to listen on (default 127.0.0.1; 0.0.0.0 for all)")
    parser.add_argument("--port", type=int, help="TCP port (default 8788; 0 = any free port)")
    parser.add_argument("--spool-dir", help="durable spool directory (default ./.klink/webhook-spool)")
    parser.add_argument("--batch-size", type=int, help="flush when this many events are spooled (default 500)")
    parser.add_argument("--flush-interval", type=float,
                        help="flush spooled events at the latest after this many seconds (default 2)")
    parser.add_argument("--max-body", type=int, help="largest accepted body in bytes, larger -> 413 (default 1 MiB)")
    parser.add_argument("--auth", help="comma list of required methods: signature (default), basic, header")
    parser.add_argument("--header-name", help="custom auth header name (value: sources.klink.webhook_header_value)")
    parser.add_argument("--destination", help="dlt destination (default duckdb, writing --duckdb-path)")
    parser.add_argument("--duckdb-path", help="DuckDB file (default ./klink.duckdb, where `klink sync` writes)")
    parser.add_argument("--dataset", help="dataset name (default klink_data)")
    parser.add_argument("--pipelines-dir", help="dlt working folder for the klink_webhooks pipeline")
    parser.add_argument("--tls-cert", help="serve HTTPS with this certificate chain (PEM)")
    parser.add_argument("--tls-key", help="private key of --tls-cert (PEM)")
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO (default), WARNING")


def _pick(args: argparse.Namespace, name: str, key: str, default: Any, cast: Any = None) -> Any:
    value = getattr(args, name, None)
    if value is None:
        value = _config(key, default)
    return cast(value) if cast and value is not None else value


def build(args: argparse.Namespace) -> Any:
    """The Receiver for these arguments (raises ValueError on bad configuration)."""
    from pipelines.klink_pipeline import DATASET_NAME, DUCKDB_FILE, make_pipeline

    from .auth import Authenticator, parse_methods
    from .loader import PIPELINE_NAME, Loader
    from .server import Receiver, ReceiverSettings

    settings = ReceiverSettings(
        host=_pick(args, "host", "webhook_host", "127.0.0.1", str),
        port=_pick(args, "port", "webhook_port", 8788, int),
        spool_dir=_pick(args, "spool_dir", "webhook_spool_dir", os.path.join(".klink", "webhook-spool"), str),
        batch_size=_pick(args, "batch_size", "webhook_batch_size", 500, int),
        flush_interval=_pick(args, "flush_interval", "webhook_flush_interval", 2.0, float),
        max_body=_pick(args, "max_body", "webhook_max_body", 1024 * 1024, int),
        tls_cert=_pick(args, "tls_cert", "webhook_tls_cert", None, str),
        tls_key=_pick(args, "tls_key", "webhook_tls_key", None, str),
    )
    if settings.batch_size < 1 or settings.flush_interval <= 0 or settings.max_body < 1:
        raise ValueError("batch size, flush interval and max body must be positive")
    settings.max_batch_events = max(settings.batch_size * 10, settings.batch_size)
    auth = Authenticator(
        methods=parse_methods(_pick(args, "auth", "webhook_auth", "signature")),
        secret=_secret("webhook_secret"),
        basic_username=_secret("webhook_basic_username"),
        basic_password=_secret("webhook_basic_password"),
        header_name=_pick(args, "header_name", "webhook_header_name", "x-klink-token", str),
        header_value=_secret("webhook_header_value"),
    )
    destination = _pick(args, "destination", "webhook_destination", "duckdb", str)
    duckdb_path = _pick(args, "duckdb_path", "webhook_duckdb_path", DUCKDB_FILE, str)
    dataset = _pick(args, "dataset", "webhook_dataset", DATASET_NAME, str)
    pipelines_dir = getattr(args, "pipelines_dir", None)

    def factory() -> Any:
        return make_pipeline(destination=destination, dataset_name=dataset, duckdb_path=duckdb_path,
                             pipelines_dir=pipelines_dir, pipeline_name=PIPELINE_NAME)

    return Receiver(settings, auth, Loader(factory))


class _QuietUntypedColumns(logging.Filter):
    """dlt warns on every load about nullable columns that got only NULLs (e.g. `deleted_at` of child
    rows); a receiver loading small batches every few seconds would repeat it endlessly."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "did not receive any data during this load" in message:
            logging.getLogger("klink.webhook").debug("dlt: %s", message.split(":", 1)[0])
            return False
        return True


def run(args: argparse.Namespace) -> int:
    """Serve until SIGTERM/SIGINT; returns the exit code (see module doc)."""
    from .spool import SpoolError

    logging.basicConfig(level=getattr(logging, str(args.log_level or "INFO").upper(), logging.INFO),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    log = logging.getLogger("klink.webhook")
    logging.getLogger("dlt").addFilter(_QuietUntypedColumns())
    try:
        receiver = build(args)
    except ValueError as exc:
        log.error("%s", exc)
        return EXIT_CONFIG
    except (SpoolError, OSError) as exc:
        log.error("cannot start: %s", exc)
        return EXIT_IN_USE
    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        if stop.is_set():  # a second signal: leave now; the spool is durable, the next start loads it
            log.warning("received %s again: exiting without flushing; spooled events load at the next "
                        "start", signal.Signals(signum).name)
            os._exit(EXIT_PENDING)
        log.info("received %s: stopping, flushing spooled events", signal.Signals(signum).name)
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        receiver.start()
        while not stop.wait(3600):
            pass
        clean = receiver.stop()
    finally:
        receiver.spool.release()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return EXIT_OK if clean else EXIT_PENDING


def main(argv: Optional[List[str]] = None) -> int:
    """`python -m pipelines.webhook [serve] [flags]`."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "serve":
        argv = argv[1:]
    parser = argparse.ArgumentParser(prog="klink webhook serve", description=__doc__.split("\n")[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))
