"""In-process speed and fidelity of :func:`sketchkit.vectorize.vectorize` on the Quick, Draw! bench set.

The set is the Quick, Draw! one of ``scripts/bench_vectorize.py``: simplified ndjson lines
``20..24`` of each of the 8 categories in ``../shared/data``, rendered at 256 px with 3 px
round-capped lines by cairosvg; the true strokes are the ndjson polylines. Each image is
vectorised ``--repeat`` times in this one process after a warm-up (imports and the shipped model
loaded), so the time is what a folder-mode worker pays per image, on one core: wall and CPU
time per image, and the CPU time inside the curve fitter (``_fit_pieces_batched``) alone.
``--fitter compiled`` switches on the numba-compiled loops first (as folder mode does:
:mod:`sketchkit.geometry.compiled`); the default is the numpy path a single image takes.
Fidelity as in the main bench: each SVG rendered back, its ink skeletonised, the symmetric
Chamfer distance (px) to the true strokes (sampled every 0.25 px); compactness as control points
per SVG (coordinate pairs in the path data).

Usage::

    OMP_NUM_THREADS=1 python scripts/bench_vectorize_speed.py [--repeat 3] [--profile 30] [--model none] [--fitter compiled]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
CATEGORIES = ("apple", "bicycle", "bird", "cat", "face", "house", "pig", "sheep")


def render(strokes: list[np.ndarray], size: int = 256, width: float = 3.0) -> np.ndarray:
    """Grey ``(size, size)`` uint8 image of polylines (black round-capped lines on white)."""
    import cairosvg
    from PIL import Image

    paths = []
    for s in strokes:
        s = np.concatenate([s, s]) if len(s) == 1 else s
        paths.append('<path d="M ' + " L ".join(f"{x:.3f} {y:.3f}" for x, y in s) + '"/>')
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" viewBox="0 0 {size} {size}">'
           f'<rect width="{size}" height="{size}" fill="white"/><g fill="none" stroke="black" '
           f'stroke-width="{width}" stroke-linecap="round" stroke-linejoin="round">{"".join(paths)}</g></svg>')
    png = cairosvg.svg2png(bytestring=svg.encode(), output_width=size, output_height=size, background_color="white")
    return np.asarray(Image.open(io.BytesIO(png)).convert("L"))


def quickdraw_set(folder: Path) -> list[dict]:
    from PIL import Image

    items = []
    for cat in CATEGORIES:
        lines = (DATA / "quickdraw" / "simplified" / f"{cat}.ndjson").read_text().splitlines()
        for i in range(20, 25):
            strokes = [np.array(s[:2], dtype=np.float64).T for s in json.loads(lines[i])["drawing"]]
            path = folder / f"{cat}_{i:02d}.png"
            Image.fromarray(render(strokes)).save(path)
            items.append({"png": path, "strokes": strokes})
    return items


def _dense(strokes: list[np.ndarray], step: float = 0.25) -> np.ndarray:
    out = []
    for s in strokes:
        for a, b in zip(s[:-1], s[1:]):
            n = max(1, int(np.ceil(np.linalg.norm(b - a) / step)))
            out.append(a + np.linspace(0.0, 1.0, n, endpoint=False)[:, None] * (b - a))
        out.append(s[-1:])
    return np.concatenate(out)


def fidelity(svg: str, strokes: list[np.ndarray], size: int = 256) -> tuple[float, int]:
    """(Chamfer distance px of the rendered SVG's skeleton to the true strokes, control points)."""
    import cairosvg
    from PIL import Image
    from scipy.spatial import cKDTree
    from skimage.morphology import skeletonize

    png = cairosvg.svg2png(bytestring=svg.encode(), output_width=size, output_height=size, background_color="white")
    grey = np.asarray(Image.open(io.BytesIO(png)).convert("L"))
    rows, cols = np.nonzero(skeletonize(grey < 128))
    a = np.stack([cols + 0.5, rows + 0.5], axis=1)
    b = _dense(strokes)
    chamfer = float("nan") if len(a) == 0 else (cKDTree(b).query(a)[0].mean() + cKDTree(a).query(b)[0].mean()) / 2
    pairs = 0
    for d in re.findall(r'<path[^>]*?\sd="([^"]*)"', svg, flags=re.S):
        pairs += len(re.findall(r"-?\d*\.?\d+(?:[eE][-+]?\d+)?", d)) // 2
    return float(chamfer), pairs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3, help="passes over the set (the median per-image time is kept)")
    ap.add_argument("--profile", type=int, default=0, metavar="N", help="also print the top N cProfile rows")
    ap.add_argument("--model", default=None, help="'none' for least squares only")
    ap.add_argument("--fitter", choices=("numpy", "compiled"), default="numpy",
                    help="the curve fitter: numpy (single images) or compiled with numba (folder mode)")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    if args.fitter == "compiled":
        from sketchkit.geometry import compiled

        if not compiled.enable():
            raise SystemExit("--fitter compiled: numba is not available")

    import sketchkit  # noqa: F401  (binds sketchkit.vectorize to the function; the module is in sys.modules)

    V = sys.modules["sketchkit.vectorize"]
    from sketchkit.vectorize import pipeline  # vectorize() looks up _fit_pieces_batched there
    items = quickdraw_set(Path(tempfile.mkdtemp(prefix="bench_vectorize_speed_")))
    model = False if (args.model or "").lower() == "none" else args.model
    V.vectorize(items[0]["png"], model=model)  # warm-up: imports, model load
    fit_cpu = [0.0]
    real_fit = pipeline._fit_pieces_batched

    def timed_fit(*a, **k):
        t = time.process_time()
        try:
            return real_fit(*a, **k)
        finally:
            fit_cpu[0] += time.process_time() - t

    pipeline._fit_pieces_batched = timed_fit
    wall = np.zeros((args.repeat, len(items)))
    cpu = np.zeros_like(wall)
    fits = np.zeros(args.repeat)
    sketches = []
    for r in range(args.repeat):
        fit_cpu[0] = 0.0
        for k, it in enumerate(items):
            t, c = time.perf_counter(), time.process_time()
            sk = V.vectorize(it["png"], model=model)
            wall[r, k], cpu[r, k] = time.perf_counter() - t, time.process_time() - c
            if r == 0:
                sketches.append(sk)
        fits[r] = fit_cpu[0] / len(items)
    pipeline._fit_pieces_batched = real_fit
    rows = [fidelity(V.to_svg(sk), it["strokes"]) for sk, it in zip(sketches, items)]
    chamfer, cps = np.array([r[0] for r in rows]), np.array([r[1] for r in rows])
    res = {
        "images": len(items),
        "ms_per_image_wall": round(1000 * float(np.median(wall, axis=0).mean()), 2),
        "ms_per_image_cpu": round(1000 * float(np.median(cpu, axis=0).mean()), 2),
        "ms_per_image_fit_cpu": round(1000 * float(np.median(fits)), 2),
        "chamfer_true_mean": round(float(np.nanmean(chamfer)), 4),
        "chamfer_true_median": round(float(np.nanmedian(chamfer)), 4),
        "control_points_mean": round(float(cps.mean()), 2),
        "control_points_median": float(np.median(cps)),
        "curves_from_model": int(sum(s.meta.get("curves_started_from_model", 0) for s in sketches)),
    }
    print(json.dumps(res, indent=2))
    if args.json:
        args.json.write_text(json.dumps(res, indent=2) + "\n")
    if args.profile:
        prof = cProfile.Profile()
        prof.enable()
        for it in items:
            V.vectorize(it["png"], model=model)
        prof.disable()
        s = io.StringIO()
        pstats.Stats(prof, stream=s).sort_stats("cumulative").print_stats(args.profile)
        pstats.Stats(prof, stream=s).sort_stats("tottime").print_stats(args.profile)
        print(s.getvalue())


if __name__ == "__main__":
    main()
