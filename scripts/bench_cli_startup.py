"""Time `sketchkit --help` from a cold process (median of several runs).

Usage: python scripts/bench_cli_startup.py [--runs 7]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    times = []
    for _ in range(args.runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "sketchkit.cli.app", "--help"], check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    print(f"sketchkit --help: median {statistics.median(times) * 1000:.0f} ms, "
          f"min {min(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms over {args.runs} runs")


if __name__ == "__main__":
    main()
