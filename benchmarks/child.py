"""`python -m benchmarks.child '<json>'`: run one variant once and print `BENCH_RESULT {...}`.

Started by the harness in a fresh interpreter per run, so imports, threads and memory of one variant
never leak into another's numbers.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import orjson

from .harness import RESULT_MARK


def main() -> int:
    args = json.loads(sys.argv[1])
    kind = args.pop("kind")
    args["workdir"] = Path(args["workdir"])
    if kind == "floor":
        from .floor import run
    elif kind == "stock":
        from .stock import run
    elif kind == "klink":
        from .klink import run
    else:
        raise SystemExit(f"unknown variant kind {kind!r}")
    result = run(**args)
    print(RESULT_MARK + orjson.dumps(result, default=str).decode(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
