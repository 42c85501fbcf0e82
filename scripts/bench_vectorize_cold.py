"""Cold start of a single-image `sketchkit vectorize` (fresh process each run), and where it goes.

Prints the median / min / max wall time of ``sketchkit vectorize IMAGE -o OUT`` over ``--runs``
fresh processes, the total ``python -X importtime`` self time of one run with its largest
top-level imports, and (``--primitives``) the time of each numpy primitive of
``sketchkit.geometry.morphology`` against the scipy / scikit-image call it replaces, on a
256 px and a 1024 px mask. Issue 12 asks for <= 0.5 s cold on the shipped example.

Usage: python scripts/bench_vectorize_cold.py [--image sketchkit/examples/cat.png] [--runs 7] [--primitives]
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# what the installed `sketchkit` console script runs (`python -m sketchkit.cli.app` would run the
# app module twice: once as a submodule, once as __main__)
ENTRY = "import sys; from sketchkit.cli.app import main; sys.exit(main())"


def cold_runs(image: Path, runs: int) -> list[float]:
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.svg"
        for _ in range(runs):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", ENTRY, "vectorize", str(image), "-o", str(out)],
                           check=True, capture_output=True, cwd=REPO)
            times.append(time.perf_counter() - start)
    return times


def import_profile(image: Path, top: int = 8) -> tuple[float, list[tuple[float, str]], list[str]]:
    """(total self import ms, largest top-level imports (ms, name), heavy modules loaded)."""
    probe = ("import sys; from sketchkit.cli.app import main; code = main(sys.argv[1:]); "
             "heavy = ('scipy', 'scipy.ndimage', 'skimage', 'torch', 'numpy.ma', 'numba'); "
             "print('HEAVY=' + ','.join(m for m in heavy if m in sys.modules)); "
             "sys.exit(code)")
    with tempfile.TemporaryDirectory() as tmp:
        res = subprocess.run([sys.executable, "-X", "importtime", "-c", probe, "vectorize", str(image), "-o",
                              str(Path(tmp) / "out.svg")], check=True, capture_output=True, text=True, cwd=REPO)
    total, tops = 0, []
    for line in res.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if not m:
            continue
        total += int(m.group(1))
        if len(m.group(3)) == 1:
            tops.append((int(m.group(2)) / 1000.0, m.group(4)))
    heavy = next((ln[6:] for ln in res.stdout.splitlines() if ln.startswith("HEAVY=")), "")
    return total / 1000.0, sorted(tops, reverse=True)[:top], [h for h in heavy.split(",") if h]


def primitives() -> None:
    import numpy as np
    from scipy import ndimage as ndi
    from skimage.filters import threshold_otsu
    from skimage.morphology import skeletonize as sk_skeletonize

    from sketchkit.geometry import morphology as M

    def best_ms(fn, *args, n: int = 3) -> float:
        best = float("inf")
        for _ in range(n):
            t = time.perf_counter()
            fn(*args)
            best = min(best, time.perf_counter() - t)
        return best * 1000.0

    yy, xx = np.mgrid[:1024, :1024]
    # a brush-like drawing: rings and bars of 3 and 24 px width
    art = ((np.abs(np.hypot(yy - 400, xx - 500) - 300) < 12) | (np.abs(yy - xx) < 2)
           | (np.abs(np.hypot(yy - 700, xx - 300) - 150) < 1.5))
    for name, mask in (("256 px", art[::4, ::4]), ("1024 px", art)):
        ink = mask.astype(np.float64) * 0.9 + 0.05
        rows = [("otsu", M.otsu_threshold, lambda v: threshold_otsu(v), ink),
                ("label", M.label_components, lambda m: ndi.label(m, structure=np.ones((3, 3))), mask),
                ("distance", M.distance_to_background, lambda m: ndi.distance_transform_edt(np.pad(m, 1)), mask),
                ("skeleton", M.skeletonize, sk_skeletonize, mask)]
        cells = [f"{label} {best_ms(ours, arg):.1f} ms (lib {best_ms(lib, arg):.1f})" for label, ours, lib, arg in rows]
        print(f"{name} ({int(mask.sum())} ink px): " + ", ".join(cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--image", type=Path, default=REPO / "sketchkit" / "examples" / "cat.png")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--primitives", action="store_true", help="also time the numpy primitives vs the libraries")
    args = parser.parse_args()
    times = cold_runs(args.image, args.runs)
    print(f"sketchkit vectorize {args.image.name} (cold): median {statistics.median(times) * 1000:.0f} ms, "
          f"min {min(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms over {args.runs} runs")
    total, tops, heavy = import_profile(args.image)
    print(f"-X importtime: {total:.0f} ms of imports (self times summed); heavy modules loaded: "
          f"{', '.join(heavy) or 'none'}")
    print("largest top-level imports: " + ", ".join(f"{name} {ms:.0f} ms" for ms, name in tops))
    if args.primitives:
        primitives()


if __name__ == "__main__":
    main()
