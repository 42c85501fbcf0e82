"""Folder-mode throughput of ``sketchkit vectorize DIR`` against ``potrace -s`` on many images.

``scripts/bench_vectorize.py`` times 40 images per set, where a worker's start-up (imports, the
shipped stroke model) is a large share. This script renders ``--n`` Quick, Draw! drawings
(the SPG files in ``../shared/data/quickdraw/spg``, taken round-robin over the categories, each
scaled into 236 px and drawn at 256 px with 3 px round-capped lines, as in the main bench), then
times, interleaved for ``--repeats`` rounds:

* ``sketchkit vectorize DIR -o OUT --jobs J --quiet`` (a new process: start-up included);
* ``potrace -s`` over the same images as PBMs (ink = grey < 128) in one call, one core.

It prints the median wall milliseconds per image of each and their ratio (the issue's target:
sketchkit <= 10x potrace). Timings depend on the machine and its load; quote them with it.

Usage::

    python scripts/bench_vectorize_folder.py [--n 1000] [--jobs 2] [--repeats 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
from pathlib import Path

import numpy as np
from bench_vectorize import DATA, polyline_svg, run_potrace, run_sketchkit, svg_to_grey

SPG = DATA / "quickdraw" / "spg"


def make_folder(folder: Path, n: int) -> list[dict]:
    """Render ``n`` SPG drawings (categories in turn) into ``folder``; items as the main bench's."""
    from PIL import Image

    files = sorted(SPG.glob("*.ndjson"))
    if not files:
        raise SystemExit(f"no SPG files in {SPG}")
    lines = [f.read_text().splitlines() for f in files]
    items = []
    for k in range(n):
        cat, i = k % len(files), k // len(files)
        if i >= len(lines[cat]):
            raise SystemExit(f"--n {n}: more than the {sum(map(len, lines))} drawings in {SPG}")
        strokes = [np.array(s[:2], dtype=np.float64).T for s in json.loads(lines[cat][i])["drawing"]]
        pts = np.concatenate(strokes)
        lo, span = pts.min(0), max(float(np.ptp(pts, 0).max()), 1.0)
        strokes = [(s - lo) * (236.0 / span) + 10.0 for s in strokes]
        grey = svg_to_grey(polyline_svg(strokes, 256, 3.0), 256, 256)
        path = folder / f"{files[cat].stem}_{i:03d}.png"
        Image.fromarray(grey).save(path)
        items.append({"png": path, "grey": grey})
    return items


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000, help="images in the folder")
    ap.add_argument("--jobs", type=int, default=2, help="sketchkit worker processes")
    ap.add_argument("--repeats", type=int, default=3, help="interleaved timing rounds (median reported)")
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = ap.parse_args()
    if shutil.which("potrace") is None:
        print("potrace: not installed (apt-get install -y potrace); timing sketchkit alone")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "png").mkdir()
        items = make_folder(tmp / "png", args.n)
        times: dict[str, list[float]] = {"sketchkit": [], "potrace": []}
        for _ in range(args.repeats):
            times["sketchkit"].append(run_sketchkit(tmp / "png", tmp / "svg", args.jobs))
            t = run_potrace(items, tmp / "pbm")
            if t is not None:
                times["potrace"].append(t)
        written = len(list((tmp / "svg").glob("*.svg")))
    ms = {k: 1000.0 * statistics.median(v) / args.n for k, v in times.items() if v}
    result = {"images": args.n, "jobs": args.jobs, "repeats": args.repeats, "svgs_written": written,
              "ms_per_image": {k: round(v, 3) for k, v in ms.items()},
              "ratio_to_potrace": round(ms["sketchkit"] / ms["potrace"], 1) if "potrace" in ms else None}
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
