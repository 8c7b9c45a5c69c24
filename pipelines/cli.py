"""The `klink` command: sync, demo, status, and the sandbox / webhook / transform / report tools.

    klink sync [--resources contacts,tickets] [--destination postgres] [--full-refresh] ...
    klink demo                 # local sandbox -> ./klink_demo.duckdb, twice for an incremental run
    klink status [--demo]      # last load, rows per table, incremental positions
    klink sandbox --port 8787  # serve the fake klink API
    klink webhook serve ...    # the webhook receiver
    klink transform / report   # the reporting models on top of the loaded tables

Exit codes: 0 ok, 1 the sync (or a load job) failed, 2 a setting is wrong or missing (nothing was
requested), 75 another sync holds the lock (try again later), 130 interrupted.
Also `python -m pipelines.cli ...`.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import Any, Callable, List, Optional, Sequence

from pipelines.cli_common import EXIT_CONFIG, EXIT_OK

# delegated commands: name -> (module, add_arguments, run, description)
DELEGATED = {
    "sandbox": ("sandbox.cli", "add_arguments", "run", "serve a local fake klink API (for trying things out)"),
    "webhook": ("pipelines.webhook.cli", "add_arguments", "run", "receive klink webhooks (`klink webhook serve`)"),
    "transform": ("transforms.cli", "add_transform_arguments", "run_transform",
                  "build the reporting models on top of the loaded tables"),
    "report": ("transforms.cli", "add_report_arguments", "run_report", "render the report from the models"),
}

# `klink webhook serve ...`: the receiver's parser has no sub-commands, so the verb is dropped
VERBS = {"webhook": "serve"}


def build_parser() -> argparse.ArgumentParser:
    from pipelines import cli_demo, cli_status, cli_sync

    parser = argparse.ArgumentParser(
        prog="klink", description="Load klink.cloud contact-center data with dlt.",
        epilog="Exit codes: 0 ok, 1 failed, 2 bad/missing setting, 75 another sync is running.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    p = sub.add_parser("sync", help="incremental sync (the scheduled job)", description=cli_sync.__doc__)
    cli_sync.add_arguments(p)
    p.set_defaults(handler=cli_sync.run)
    p = sub.add_parser("demo", help="sandbox -> ./klink_demo.duckdb, with a table of what changed",
                       description=cli_demo.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cli_demo.add_arguments(p)
    p.set_defaults(handler=cli_demo.run)
    p = sub.add_parser("status", help="last load, rows per table, incremental positions", description=cli_status.__doc__)
    cli_status.add_arguments(p)
    p.set_defaults(handler=cli_status.run)
    for name, (_module, _add, _run, help_text) in DELEGATED.items():
        p = sub.add_parser(name, help=help_text, add_help=False)
        p.add_argument("rest", nargs=argparse.REMAINDER)
        p.set_defaults(handler=None, delegate=name)
    return parser


def _load(name: str) -> tuple[Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], Any]]:
    module_name, add_name, run_name, _ = DELEGATED[name]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise LookupError(f"klink {name} is not available: {module_name} is not installed ({exc})") from None
    add, run = getattr(module, add_name, None), getattr(module, run_name, None)
    if add is None or run is None:
        raise LookupError(f"klink {name} is not available: {module_name} lacks {add_name}/{run_name}")
    return add, run


def run_delegated(name: str, argv: Sequence[str]) -> int:
    """`klink <name> ...`: parse the rest with the owning module's parser and run it."""
    try:
        add, run = _load(name)
    except LookupError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_CONFIG
    argv = list(argv)
    verb = VERBS.get(name)
    if verb and argv[:1] == [verb]:
        argv = argv[1:]
    parser = argparse.ArgumentParser(prog=f"klink {name} {verb}" if verb else f"klink {name}",
                                     description=DELEGATED[name][3])
    add(parser)
    args = parser.parse_args(argv)
    try:
        code = run(args)
    except KeyboardInterrupt:
        return 130
    return EXIT_OK if code is None else int(code)


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if not argv:
        parser.print_help(sys.stderr)
        return EXIT_CONFIG
    if argv[0] in DELEGATED:  # the owner's parser handles everything after the name, --help included
        return run_delegated(argv[0], argv[1:])
    args = parser.parse_args(argv)
    if getattr(args, "handler", None) is None:
        parser.print_help(sys.stderr)
        return EXIT_CONFIG
    try:
        return int(args.handler(args))
    except BrokenPipeError:  # `klink status | head`: stop quietly like other Unix tools
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
