"""Brush-stroke fidelity of ``sketchkit vectorize`` on K-MNIST characters (thick, blurred strokes).

Each K-MNIST test image (``--start`` onwards; the first 1000 are used in training) is upscaled
from 28 to 256 px (bicubic), vectorised in-process, and the SVG (with its own stroke widths) is
rendered back at 256 px with cairosvg. Both ink masks (grey ink > 127) are skeletonised and
compared:

* **F-score at 2 px**: precision = share of output-skeleton pixels within 2 px of an input-skeleton
  pixel, recall = the reverse; F = 2PR / (P + R).
* **HD95**: the larger of the two directed 95th-percentile nearest-neighbour distances (px).
* **width ratio**: ink area of the re-render / ink area of the input (1 = same thickness).
* **ink IoU**: intersection over union of the two ink masks. The skeleton measures reward a
  re-render drawn thinner than the ink (fewer blots at junctions: all widths x 0.9 gave F +0.006
  and HD95 -0.18 px on ``--start 2000`` while the IoU fell 0.78 -> 0.74); this says whether the
  ink itself is reproduced.
* **centreline F / HD95** (``c_`` keys): the same two measures between the output's curves
  themselves (points every 0.5 px) and the input's skeleton, with no re-render. The re-render
  draws a tapered brush stroke with round caps, at one width per SVG path (thick strokes are cut
  into runs of their local width where the ink narrows), which blots junctions and ends; this
  measure says whether the centrelines are where the strokes are.

Also: median seconds per image (warm, in-process); the images ``vectorize`` refuses (listed, not
scored); with ``--n`` above 100, the means of each run of 100 images. ``--png DIR`` writes
overlays (input grey, re-render in red) for looking at.

Usage::

    python scripts/bench_vectorize_brush.py [--n 100] [--start 4000] [--png /tmp/brush] [--compiled]
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"


def render(svg: str, w: int, h: int) -> np.ndarray:
    """SVG -> (H, W) ink intensity in [0, 1] (1 = full ink), on white."""
    import cairosvg
    from PIL import Image

    png = cairosvg.svg2png(bytestring=svg.encode(), output_width=w, output_height=h, background_color="white")
    return 1.0 - np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=np.float64) / 255.0


def skeleton_xy(mask: np.ndarray) -> np.ndarray:
    from skimage.morphology import skeletonize

    rows, cols = np.nonzero(skeletonize(mask))
    return np.stack([cols + 0.5, rows + 0.5], axis=1).astype(np.float64)


def compare(sk_in: np.ndarray, sk_out: np.ndarray, tol: float = 2.0) -> dict[str, float]:
    from scipy.spatial import cKDTree

    if len(sk_in) == 0 or len(sk_out) == 0:
        return {"f2": 0.0, "precision": 0.0, "recall": 0.0, "hd95": float("inf")}
    d_out = cKDTree(sk_in).query(sk_out)[0]
    d_in = cKDTree(sk_out).query(sk_in)[0]
    p = float(np.mean(d_out <= tol))
    r = float(np.mean(d_in <= tol))
    f = 2 * p * r / (p + r) if p + r > 0 else 0.0
    hd95 = float(max(np.percentile(d_out, 95), np.percentile(d_in, 95)))
    return {"f2": f, "precision": p, "recall": r, "hd95": hd95}


def curve_points(sketch, step: float = 0.5) -> np.ndarray:
    """Points every ~``step`` px along every curve of a ``BezierSketch`` ``(n, 2)``."""
    from sketchkit.geometry.bezier import evaluate

    out = [np.zeros((0, 2))]
    for c in sketch.curves:
        c = np.asarray(c, dtype=np.float64)
        length = float(np.linalg.norm(np.diff(c, axis=0), axis=1).sum())  # control polygon >= arc length
        out.append(evaluate(c, np.linspace(0.0, 1.0, max(2, int(np.ceil(length / step)) + 1))))
    return np.concatenate(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--start", type=int, default=4000)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--png", type=Path, default=None, help="write overlays here")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--compiled", action="store_true",
                    help="use the numba-compiled loops (as folder mode does) instead of numpy")
    args = ap.parse_args()
    if args.compiled:
        from sketchkit.geometry import compiled

        if not compiled.enable():
            raise SystemExit("--compiled: numba is not available")
    from PIL import Image

    from sketchkit.errors import InputError
    from sketchkit.vectorize import to_svg, vectorize

    imgs = np.load(DATA / "kmnist" / "kmnist-test-imgs.npz")["arr_0"]
    if args.png is not None:
        args.png.mkdir(parents=True, exist_ok=True)
    rows, times, refused = [], [], []
    vectorize(np.asarray(Image.fromarray(imgs[args.start]).resize((args.size,) * 2, Image.BICUBIC)))  # warm-up
    for i in range(args.start, args.start + args.n):
        big = np.asarray(Image.fromarray(imgs[i]).resize((args.size, args.size), Image.BICUBIC))
        t = time.perf_counter()
        try:
            sk = vectorize(big)
        except InputError as exc:  # e.g. a blot with more ink than a line drawing has: counted, not scored
            refused.append({"index": i, "reason": str(exc)})
            continue
        times.append(time.perf_counter() - t)
        out = render(to_svg(sk), args.size, args.size)
        m_in, m_out = big > 127, out > 0.5
        sk_in = skeleton_xy(m_in)
        row = compare(sk_in, skeleton_xy(m_out))
        row.update({f"c_{k}": v for k, v in compare(sk_in, curve_points(sk)).items()})
        row["width_ratio"] = float(m_out.sum() / max(1, m_in.sum()))
        row["iou"] = float((m_in & m_out).sum() / max(1, (m_in | m_out).sum()))
        row["index"] = i
        row["strokes"] = int(sk.meta.get("num_strokes", 0))
        rows.append(row)
        if args.png is not None:
            rgb = np.stack([255 - big] * 3, axis=2).astype(np.float64)
            rgb[..., 1] *= 1 - 0.6 * out
            rgb[..., 2] *= 1 - 0.6 * out
            Image.fromarray(rgb.astype(np.uint8)).save(args.png / f"kmnist_{i:05d}.png")
    f = np.array([r["f2"] for r in rows])
    hd = np.array([r["hd95"] for r in rows])
    summary = {
        "images": len(rows), "start": args.start,
        "f2_mean": float(f.mean()), "f2_median": float(np.median(f)), "f2_min": float(f.min()),
        "hd95_mean": float(hd.mean()), "hd95_median": float(np.median(hd)), "hd95_max": float(hd.max()),
        "c_f2_mean": float(np.mean([r["c_f2"] for r in rows])),
        "c_hd95_mean": float(np.mean([r["c_hd95"] for r in rows])),
        "c_hd95_median": float(np.median([r["c_hd95"] for r in rows])),
        "width_ratio_median": float(np.median([r["width_ratio"] for r in rows])),
        "iou_mean": float(np.mean([r["iou"] for r in rows])),
        "seconds_per_image_median": float(np.median(times)),
        "refused": refused,
        "worst": sorted(rows, key=lambda r: r["f2"])[:5],
    }
    if len(rows) > 100:  # each run of 100 images, as the slices (F >= 0.97, HD95 <= 2 px)
        summary["slices"] = [{"first": rows[k]["index"], "images": len(f[k: k + 100]),
                              "f2_mean": round(float(f[k: k + 100].mean()), 4),
                              "hd95_mean": round(float(hd[k: k + 100].mean()), 3)}
                             for k in range(0, len(rows), 100)]
        summary["slices_meeting_both"] = sum(r["f2_mean"] >= 0.97 and r["hd95_mean"] <= 2.0 for r in summary["slices"])
    text = json.dumps(summary, indent=1)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    sys.exit(main())
