"""`python -m benchmarks.micro [--against REV]`: per-record CPU of the source's row shaping, no HTTP, no dlt.

Reads 1,000 records of each list (and of the webhook contact shape) from an in-process sandbox, then
times per record `record_hash` and the resource's normalizer, best of 7. With `--against REV`, the
`sources/klink/records.py` of that git revision runs interleaved on the same records, its outputs
must be identical, and the table shows both (A/B in one process, so machine noise hits both alike).
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Dict, List

import requests

from sandbox import SandboxConfig, start_sandbox
from sources.klink import records as current

from .harness import REPO

LISTS = {
    "contacts": ("/api/v1/contacts", {}),
    "tickets": ("/api/v1/tickets", {}),
    "cx_logs": ("/api/v1/cx-logs", {"selectedDate": "2026/02/27 00:00:00-2026/03/30 00:00:00"}),
}
FIELD_TYPES = {"cf_loyalty_points": "number", "cf_birthday": "date", "cf_newsletter": "checkbox",
               "cf_interests": "multi_select", "cf_date": "date", "cf_order_value": "number", "cf_urgent": "checkbox"}


def fetch(records: int) -> Dict[str, List[Dict[str, Any]]]:
    data: Dict[str, List[Dict[str, Any]]] = {}
    for shape in ("seed", "webhook"):
        sb = start_sandbox(SandboxConfig(contacts=records, tickets=records, cx_logs=records, shape=shape))
        try:
            headers = {"Authorization": f"Bearer {sb.token}", "x-client-timezone": "UTC"}
            for name, (path, params) in LISTS.items():
                if shape == "webhook" and name != "contacts":
                    continue
                out: List[Dict[str, Any]] = []
                for page in range(1, -(-records // 100) + 1):
                    body = requests.get(sb.base_url + path, params={**params, "page": page, "pageSize": 100},
                                        headers=headers, timeout=60).json()
                    out += body.get("cxLogs", body)["data"]
                data[f"{name}/{shape}"] = out
        finally:
            sb.stop()
    return data


def load_revision(rev: str) -> ModuleType:
    source = subprocess.run(["git", "show", f"{rev}:sources/klink/records.py"], cwd=REPO, check=True,
                            capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp()) / "records_rev.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("sources.klink._records_rev", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def per_record(fn: Callable[[List[Dict[str, Any]]], Any], records: List[Dict[str, Any]], runs: int = 7) -> float:
    """Best-of-`runs` microseconds per record of fn over fresh deep copies (normalizers work in place)."""
    best = float("inf")
    for _ in range(runs):
        batch = copy.deepcopy(records)
        started = time.perf_counter()
        fn(batch)
        best = min(best, time.perf_counter() - started)
    return best / len(records) * 1e6


def main(argv: List[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.micro")
    ap.add_argument("--records", type=int, default=1000)
    ap.add_argument("--against", default=None, help="git revision of records.py to compare with (A/B)")
    args = ap.parse_args(argv)
    data = fetch(args.records)
    modules = {"now": current}
    if args.against:
        modules = {args.against: load_revision(args.against), "now": current}
    print(f"{'list/shape':18} " + " ".join(f"{f'{m} hash':>12} {f'{m} normalize':>15}" for m in modules)
          + "   (microseconds per record)")
    for key, records in data.items():
        name = key.split("/")[0]
        outputs = []
        cells = []
        for module in modules.values():
            normalize = module.normalizer_for(name)
            outputs.append(([module.record_hash(r) for r in records],
                            [normalize(r, FIELD_TYPES) for r in copy.deepcopy(records)]))
            hashing = per_record(lambda batch, m=module: [m.record_hash(r) for r in batch], records)
            shaping = per_record(lambda batch, f=normalize: [f(r, FIELD_TYPES) for r in batch], records)
            cells.append(f"{hashing:12.2f} {shaping:15.2f}")
        if len(outputs) == 2 and outputs[0] != outputs[1]:
            raise SystemExit(f"{key}: outputs differ between {args.against} and the working tree")
        print(f"{key:18} " + " ".join(cells))
    if args.against:
        print(f"outputs identical to {args.against}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
