"""`python -m benchmarks.profile [--variant klink] [--records N] [--sort tottime]`: cProfile one variant run.

The sandbox runs in its own process (as in the benchmark); the variant runs in this process under
cProfile with pages fetched in the calling thread (max_workers=1 / workers=1) so the profile sees them.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import tempfile
import time
from pathlib import Path

from .harness import SandboxProcess, cx_window


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.profile")
    ap.add_argument("--variant", choices=("klink", "stock", "floor"), default="klink")
    ap.add_argument("--records", type=int, default=10_000, help="per list (contacts, tickets, cx-logs)")
    ap.add_argument("--sort", default="tottime")
    ap.add_argument("--limit", type=int, default=45)
    ap.add_argument("--loader-file-format", default=None)
    ap.add_argument("--out", default=None, help="also dump the raw profile here (for snakeviz etc.)")
    ap.add_argument("--patches", default="", help="comma-separated benchmarks.patches to apply first")
    ap.add_argument("--rerun", action="store_true", help="sync once unprofiled, then profile a no-change re-run")
    args = ap.parse_args(argv)
    sb = SandboxProcess(args.records, args.records, args.records)
    try:
        sb.warm()
        now = sb.now()
        work = Path(tempfile.mkdtemp(prefix="klink-profile-"))
        kwargs = {"base_url": sb.base_url, "token": sb.token, "workdir": work, "now": now.isoformat(),
                  "cx_window": cx_window(now), "loader_file_format": args.loader_file_format}
        if args.variant == "klink":
            from .klink import run
            kwargs["source_options"] = {"max_workers": 1}
            kwargs["patches"] = [p for p in args.patches.split(",") if p]
        elif args.variant == "stock":
            from .stock import run
        else:
            from .floor import run
            kwargs["workers"] = 1
        if args.rerun:
            run(**kwargs)
        profiler = cProfile.Profile()
        started = time.perf_counter()
        profiler.enable()
        result = run(**kwargs)
        profiler.disable()
        print(f"{args.variant}: {time.perf_counter() - started:.2f} s; phases {result.get('phases')}")
    finally:
        sb.stop()
    if args.out:
        profiler.dump_stats(args.out)
    pstats.Stats(profiler, stream=sys.stdout).sort_stats(args.sort).print_stats(args.limit)
    return 0


if __name__ == "__main__":
    sys.exit(main())
