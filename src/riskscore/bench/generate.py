"""Benchmark of `riskscore generate`: lines per second and peak memory.

    python -m riskscore.bench.generate            # demo size, 1 and 2 processes
    python -m riskscore.bench.generate --lines 10000000

Each run happens in a fresh process so that its peak memory (max RSS, including the worker
processes) is its own. The 1-process run is the baseline the 2-process run is compared with.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Lines per firm of the default world, measured on the demo size (about 120).
_LINES_PER_FIRM = 120


def _child(firms: int, workers: int, out: str) -> None:
    from riskscore.synthetic import WorldConfig, generate

    began = time.perf_counter()
    counts = generate(WorldConfig(firms=firms), Path(out), workers=workers)
    seconds = time.perf_counter() - began
    peak_kb = max(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
    )
    print(json.dumps({"seconds": seconds, "lines": counts["documents"], "peak_mb": peak_kb / 1024}))


def _run(firms: int, workers: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        out = subprocess.run(
            [sys.executable, "-m", __spec__.name, "--child", str(firms), str(workers), folder],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    result: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=0, help="scale run of about this many lines")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(int(args.child[0]), int(args.child[1]), args.child[2])
        return
    runs = [(2_500, 1), (2_500, 2)]
    if args.lines:
        runs = [(args.lines // _LINES_PER_FIRM, 2)]
    print(f"{'firms':>8} {'workers':>7} {'lines':>11} {'seconds':>8} {'lines/s':>9} {'peak MB':>8}")
    baseline = None
    for firms, workers in runs:
        r = _run(firms, workers)
        rate = r["lines"] / r["seconds"]
        speedup = f"  x{rate / baseline:.2f} vs 1 worker" if baseline else ""
        baseline = baseline or rate
        print(
            f"{firms:>8,} {workers:>7} {int(r['lines']):>11,} {r['seconds']:>8.1f} "
            f"{rate:>9,.0f} {r['peak_mb']:>8.0f}{speedup}"
        )


if __name__ == "__main__":
    main()
