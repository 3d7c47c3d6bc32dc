"""Benchmarks: `make bench` runs the quick version of each, one after the other.

    python bench/run.py                 # all, quick (about 7 minutes on 2 cores)
    python bench/run.py --full          # all, full size (about 45 minutes; see docs/benchmarks.md)
    python bench/run.py push ingest     # some of them

Each benchmark is a script of its own under bench/ (run it with --help); each prints
medians/percentiles and a baseline measured in the same run. Needs the test services
(`.ci/services start`; DATABASE_URL and REDIS_URL from `.ci/services env`). Record runs in
docs/benchmarks.md with the date, the machine and the exact command.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = {
    "accounts": "accounts_endpoints.py",
    "push": "push_latency.py",
    "ingest": "ingest.py",
    "list": "list_at_scale.py",
    "sockets": "socket_memory.py",
    "email": "email_ingest.py",
    "drafts": "drafts.py",
    "insights": "insights.py",
    "widget": "widget.py",
    "widget-loader": "widget_loader.py",
    "messaging": "messaging_ingest.py",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", choices=[*BENCHMARKS, []], help="default: all")
    parser.add_argument("--full", action="store_true", help="full size instead of quick")
    args = parser.parse_args()
    failed = []
    for name in args.names or list(BENCHMARKS):
        argv = [sys.executable, str(HERE / BENCHMARKS[name])] + ([] if args.full else ["--quick"])
        print(f"\n=== {name}: {' '.join(argv[1:])}", flush=True)
        start = time.monotonic()
        if subprocess.run(argv, cwd=HERE.parent).returncode != 0:
            failed.append(name)
        print(f"=== {name}: {time.monotonic() - start:.0f} s", flush=True)
    if failed:
        raise SystemExit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
