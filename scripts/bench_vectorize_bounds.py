"""Time and peak memory of ``sketchkit.vectorize`` on images that are not line drawings (and some that are).

Cases (written to a temp folder): uniform noise JPEGs at 256, 512 and 1024 px; smooth blobs
(Gaussian-filtered noise) at 1024 px; a filled, photo-like gradient with shapes at 1024 px (JPEG);
a filled disc; and real line drawings for contrast: ``sketchkit/examples/cat.png`` (256 px), a
Quick, Draw! cat rendered at 1024 px with 3 px lines, and a 1024 px grid of 16 Quick, Draw!
drawings (the last two need ``../shared/data``; otherwise the cat is upscaled).

Variants run some images again with one rule switched off (``max_ink_fraction=1.0``) or a forced
threshold, so the next rule has to answer. Each case runs in a fresh subprocess (so its peak RSS is its own): the time is the
``vectorize()`` call alone (imports excluded), the peak RSS the child's whole life. The goal is
every case under 5 s, refused or vectorised. A case still running after ``--timeout`` seconds is
killed and reported as such.

Usage::

    python scripts/bench_vectorize_bounds.py [--timeout 120] [--json out.json] [--only noise_256 ...] [--compiled]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"

CHILD = r"""
import json, resource, sys, time, warnings
import sketchkit  # noqa: F401
from sketchkit.errors import InputError
V = sys.modules["sketchkit.vectorize"]
if sys.argv[3] == "compiled":  # loaded before the clock starts, as folder mode loads it before its workers
    from sketchkit.geometry import compiled
    assert compiled.enable(), "numba is not available"
t = time.perf_counter()
try:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = V.vectorize(sys.argv[1], **json.loads(sys.argv[2]))
    result = f"vectorised: {len(set(s.meta['curve_stroke']))} strokes, {s.num_curves} curves"
except InputError as exc:
    result = "refused: " + str(exc).split(": ", 1)[-1]
seconds = time.perf_counter() - t
print(json.dumps({"seconds": seconds, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "result": result}))
"""


def _qd_strokes(category: str, line: int, scale: float = 1.0, offset=(0.0, 0.0)) -> list[np.ndarray]:
    d = json.loads((DATA / "quickdraw" / "simplified" / f"{category}.ndjson").read_text().splitlines()[line])
    return [np.array(s[:2], dtype=np.float64).T * scale + offset for s in d["drawing"]]


# the same images with one rule switched off or a forced threshold: the next rule must still
# answer quickly
VARIANTS = {
    "noise_1024 ink rule off": ("noise_1024", {"max_ink_fraction": 1.0}),
    "noise_1024 threshold 0.7": ("noise_1024", {"threshold": 0.7}),
    "photo_1024 ink rule off": ("photo_gradient_1024", {"max_ink_fraction": 1.0}),
    "blobs_1024 ink rule off": ("blobs_1024", {"max_ink_fraction": 1.0}),
}


def make_cases(folder: Path) -> dict[str, Path]:
    from PIL import Image, ImageDraw
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(0)
    cases: dict[str, Path] = {}
    for n in (256, 512, 1024):
        p = folder / f"noise_{n}.jpg"
        Image.fromarray((rng.random((n, n)) * 255).astype(np.uint8)).save(p, quality=90)
        cases[f"noise_{n}"] = p
    b = gaussian_filter(rng.random((1024, 1024)), 20)
    b = (b - b.min()) / np.ptp(b)
    cases["blobs_1024"] = folder / "blobs_1024.png"
    Image.fromarray((b * 255).astype(np.uint8)).save(cases["blobs_1024"])
    y, x = np.mgrid[0:1024, 0:1024] / 1024.0
    g = 0.3 + 0.5 * x * (1 - 0.3 * y)
    g[(x - 0.6) ** 2 + (y - 0.4) ** 2 < 0.05] = 0.15
    g[(x > 0.1) & (x < 0.35) & (y > 0.55) & (y < 0.9)] = 0.85
    g = np.clip(g + gaussian_filter(rng.normal(0, 0.04, g.shape), 1.5), 0, 1)
    cases["photo_gradient_1024"] = folder / "photo_gradient_1024.jpg"
    Image.fromarray((g * 255).astype(np.uint8)).convert("RGB").save(cases["photo_gradient_1024"], quality=90)
    disc = Image.new("L", (1024, 1024), 255)
    ImageDraw.Draw(disc).ellipse([200, 200, 800, 800], fill=0)
    cases["filled_disc_1024"] = folder / "filled_disc_1024.png"
    disc.save(cases["filled_disc_1024"])
    cases["line_cat_256"] = REPO / "sketchkit" / "examples" / "cat.png"
    if (DATA / "quickdraw" / "simplified" / "cat.ndjson").is_file():
        sys.path.insert(0, str(REPO / "scripts"))
        from bench_vectorize import polyline_svg, svg_to_grey

        cat = _qd_strokes("cat", 24, 4.0)
        cases["line_cat_1024"] = folder / "line_cat_1024.png"
        Image.fromarray(svg_to_grey(polyline_svg(cat, 1024, 3.0), 1024, 1024)).save(cases["line_cat_1024"])
        grid = []
        cats = ("apple", "bicycle", "bird", "cat", "face", "house", "pig", "sheep")
        for k in range(16):
            grid += _qd_strokes(cats[k % 8], 20 + k // 8, 1.0, ((k % 4) * 256.0, (k // 4) * 256.0))
        cases["line_grid16_1024"] = folder / "line_grid16_1024.png"
        Image.fromarray(svg_to_grey(polyline_svg(grid, 1024, 3.0), 1024, 1024)).save(cases["line_grid16_1024"])
    else:
        cases["line_cat_1024"] = folder / "line_cat_1024.png"
        Image.open(cases["line_cat_256"]).resize((1024, 1024), Image.BICUBIC).save(cases["line_cat_1024"])
    return cases


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--timeout", type=float, default=120.0, help="kill a case after this many seconds")
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    ap.add_argument("--only", nargs="*", default=None, help="run only these cases")
    ap.add_argument("--compiled", action="store_true", help="with the numba-compiled loops, as folder mode runs")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench_vectorize_bounds_"))
    cases = make_cases(tmp)
    rows = {}
    runs = [(name, path, {}) for name, path in cases.items()]
    runs += [(name, cases[base], kw) for name, (base, kw) in VARIANTS.items()]
    print(f"{'case':26s} {'seconds':>8s} {'peak MB':>8s}  result")
    for name, path, kw in runs:
        if args.only and name not in args.only:
            continue
        try:
            out = subprocess.run([sys.executable, "-c", CHILD, str(path), json.dumps(kw),
                                  "compiled" if args.compiled else "numpy"], capture_output=True, text=True,
                                 timeout=args.timeout, cwd=tmp)
            if out.returncode != 0:
                row = {"seconds": None, "peak_rss_mb": None, "result": "crashed: " + out.stderr.strip()[-300:]}
            else:
                row = json.loads(out.stdout.strip().splitlines()[-1])
        except subprocess.TimeoutExpired:
            row = {"seconds": None, "peak_rss_mb": None, "result": f"still running after {args.timeout:g} s (killed)"}
        rows[name] = row
        secs = "-" if row["seconds"] is None else f"{row['seconds']:.2f}"
        mem = "-" if row["peak_rss_mb"] is None else f"{row['peak_rss_mb']:.0f}"
        print(f"{name:26s} {secs:>8s} {mem:>8s}  {row['result'][:100]}", flush=True)
    slow = [k for k, r in rows.items() if r["seconds"] is None or r["seconds"] >= 5.0]
    print("all cases under 5 s" if not slow else f"over 5 s: {', '.join(slow)}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
