"""Speed and memory of the foundation: streaming readers, renderers, least-squares Bézier fits.

Usage:
    python scripts/bench_foundation.py [--data ../shared/data] [--copies 64]

Prints one line per measurement. Reading: the 8 raw Quick, Draw! ndjson files concatenated
``--copies`` times into one temporary file, read through ``sketchkit.data.read`` in a fresh
process whose peak resident memory is reported (streaming means it stays flat as the file grows).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]

# Peak memory from VmHWM (reset by exec), not ru_maxrss (Linux keeps the parent's across exec).
_READ_PROBE = """
import sys, time
import sketchkit.data as data
start = time.perf_counter()
count = sum(1 for _ in data.read(sys.argv[1]))
elapsed = time.perf_counter() - start
hwm_kb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM"))
print(count, elapsed, hwm_kb / 1024)
"""


def bench_reading(raw_dir: Path, copies: int) -> None:
    lines = []
    for path in sorted(raw_dir.glob("*.ndjson")):
        lines.extend(line for line in path.read_text().splitlines() if line.strip())
    with tempfile.TemporaryDirectory() as tmp:
        for n in (1, copies):
            big = Path(tmp) / f"raw_x{n}.ndjson"
            big.write_text("\n".join(lines * n) + "\n")
            size_mb = big.stat().st_size / 1e6
            out = subprocess.run([sys.executable, "-c", _READ_PROBE, str(big)], capture_output=True, text=True, check=True)
            count, elapsed, peak = out.stdout.split()
            print(f"read raw ndjson x{n}: {size_mb:.1f} MB, {count} sketches in {float(elapsed):.2f} s "
                  f"({size_mb / float(elapsed):.1f} MB/s, {int(count) / float(elapsed):.0f} sketches/s), "
                  f"peak RSS {float(peak):.0f} MB")


def _median_ms(fn, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def bench_rendering(simplified_dir: Path) -> None:
    from sketchkit.data import read_all
    from sketchkit.render import rasterize, to_png, to_svg

    sketches = read_all(sorted(simplified_dir.glob("*.ndjson")))[:100]
    k = len(sketches)
    for size in (28, 64, 256):
        ms = _median_ms(lambda: [rasterize(s, size, stroke_width=2.0) for s in sketches], 3) / k
        print(f"rasterize {size}px: {ms:.2f} ms per sketch ({k} simplified Quick, Draw! sketches)")
    print(f"to_svg: {_median_ms(lambda: [to_svg(s) for s in sketches], 3) / k:.2f} ms per sketch")
    print(f"to_png 256px: {_median_ms(lambda: [to_png(s, size=256) for s in sketches[:20]], 3) / 20:.1f} ms per sketch")


def bench_fitting(raw_dir: Path) -> None:
    from sketchkit.geometry import bezier
    from sketchkit.geometry.polyline import resample

    from sketchkit.data import read_all

    strokes = []
    for sketch in read_all(sorted(raw_dir.glob("*.ndjson"))):
        for points in sketch.strokes:
            if points.shape[0] >= 3 and np.ptp(points, axis=0).max() > 0:
                points = points - points[0]
                strokes.append(resample(points / np.abs(points).max(), 64))
    batch = np.stack(strokes)
    for steps in (0, 5, 50):
        start = time.perf_counter()
        fit = bezier.fit_least_squares_batch(batch, 5, refine_steps=steps)
        elapsed = time.perf_counter() - start
        print(f"fit_least_squares_batch degree 5, {steps} refinement steps: {len(batch) / elapsed:.0f} strokes/s, "
              f"median mse {np.median(fit.mse):.2e} ({len(batch)} raw strokes, 64 points each)")
    start = time.perf_counter()
    for points in batch[:300]:
        bezier.fit_least_squares(points, 5)
    print(f"fit_least_squares one stroke at a time, degree 5, 5 steps: {300 / (time.perf_counter() - start):.0f} strokes/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--copies", type=int, default=64)
    args = parser.parse_args()
    import torch  # noqa: F401  (only to pin threads when present; the code measured here is numpy)

    torch.set_num_threads(1)
    raw, simplified = args.data / "quickdraw" / "raw", args.data / "quickdraw" / "simplified"
    if not raw.is_dir():
        sys.exit(f"{raw}: not found (pass --data)")
    bench_reading(raw, args.copies)
    bench_rendering(simplified)
    bench_fitting(raw)


if __name__ == "__main__":
    main()
