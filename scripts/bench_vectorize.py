"""Benchmark ``sketchkit vectorize`` against potrace and vtracer (each when installed).

Image sets (written to a temp folder as PNG):

* ``quickdraw``: held-out Quick, Draw! drawings (simplified ndjson lines 20..24 of each of the 8
  categories in ``../shared/data``; ``scripts/train_pretrained_cloud2curve.py`` leaves them out of
  training) rendered at 256 x 256 with 3 px round-capped lines by cairosvg; the true strokes are
  the ndjson polylines in the same pixel frame.
* ``kmnist``: K-MNIST test images ``--kmnist-start ..`` (after the 1000 used in training),
  upscaled from 28 to 256 px (bicubic).

Per tool and set: fidelity — each output SVG is rendered back at the input size with cairosvg,
its ink (grey < 128) skeletonised, and the symmetric Chamfer distance in px (mean of the two
directed mean nearest-neighbour distances) is measured to the true strokes (Quick, Draw!; the
polylines sampled every 0.25 px) and to the skeleton of the input image; compactness — SVG
``<path>`` elements and control points (coordinate pairs in the path data, i.e. 1 per ``M``/``L``,
2 per ``Q``, 3 per ``C``); speed — amortised wall time per image for a whole folder in one
process call (``sketchkit vectorize DIR -o OUT``, which uses every core; ``potrace -s`` over all PBMs in one call;
vtracer in one Python loop), and one cold single-image ``sketchkit vectorize`` subprocess.

Usage::

    python scripts/bench_vectorize.py [--n-kmnist 40] [--json results.json]
"""

from __future__ import annotations

import argparse
import io
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
CATEGORIES = ("apple", "bicycle", "bird", "cat", "face", "house", "pig", "sheep")


def polyline_svg(strokes: list[np.ndarray], size: int, width: float) -> str:
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" viewBox="0 0 {size} {size}">'
             f'<rect width="{size}" height="{size}" fill="white"/>'
             f'<g fill="none" stroke="black" stroke-width="{width}" stroke-linecap="round" stroke-linejoin="round">']
    for s in strokes:
        if len(s) == 1:
            s = np.concatenate([s, s])
        parts.append('<path d="M ' + " L ".join(f"{x:.3f} {y:.3f}" for x, y in s) + '"/>')
    parts.append("</g></svg>")
    return "".join(parts)


def svg_to_grey(svg: str | bytes, w: int, h: int) -> np.ndarray:
    import cairosvg
    from PIL import Image

    data = svg.encode() if isinstance(svg, str) else svg
    png = cairosvg.svg2png(bytestring=data, output_width=w, output_height=h, background_color="white")
    return np.asarray(Image.open(io.BytesIO(png)).convert("L"))


def skeleton_points(grey: np.ndarray) -> np.ndarray:
    from skimage.morphology import skeletonize

    mask = grey < 128
    rows, cols = np.nonzero(skeletonize(mask))
    return np.stack([cols + 0.5, rows + 0.5], axis=1).astype(np.float64)


def dense(strokes: list[np.ndarray], step: float = 0.25) -> np.ndarray:
    out = []
    for s in strokes:
        if len(s) == 1:
            out.append(s)
            continue
        for a, b in zip(s[:-1], s[1:]):
            n = max(1, int(np.ceil(np.linalg.norm(b - a) / step)))
            t = np.linspace(0.0, 1.0, n, endpoint=False)[:, None]
            out.append(a + t * (b - a))
        out.append(s[-1:])
    return np.concatenate(out)


def chamfer(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.spatial import cKDTree

    if len(a) == 0 or len(b) == 0:
        return float("nan")
    da = cKDTree(b).query(a)[0].mean()
    db = cKDTree(a).query(b)[0].mean()
    return float((da + db) / 2.0)


def count_svg(svg: str) -> tuple[int, int]:
    """(path elements, control points = coordinate pairs in path data)."""
    ds = re.findall(r'<path[^>]*?\sd="([^"]*)"', svg, flags=re.S)
    pairs = 0
    for d in ds:
        nums = re.findall(r"-?\d*\.?\d+(?:[eE][-+]?\d+)?", d)
        # H/V take one number (rare in these outputs): count them as one point each
        hv = len(re.findall(r"[HhVv]", d))
        pairs += (len(nums) - hv) // 2 + hv
    return len(ds), pairs


def make_sets(tmp: Path, n_kmnist: int, kmnist_start: int) -> dict[str, list[dict]]:
    from PIL import Image

    sets: dict[str, list[dict]] = {"quickdraw": [], "kmnist": []}
    qd = tmp / "quickdraw"
    qd.mkdir()
    for cat in CATEGORIES:
        lines = (DATA / "quickdraw" / "simplified" / f"{cat}.ndjson").read_text().splitlines()
        for i in range(20, 25):
            d = json.loads(lines[i])
            strokes = [np.array(s[:2], dtype=np.float64).T for s in d["drawing"]]
            grey = svg_to_grey(polyline_svg(strokes, 256, 3.0), 256, 256)
            path = qd / f"{cat}_{i:02d}.png"
            Image.fromarray(grey).save(path)
            sets["quickdraw"].append({"png": path, "strokes": strokes, "grey": grey})
    km = tmp / "kmnist"
    km.mkdir()
    imgs = np.load(DATA / "kmnist" / "kmnist-test-imgs.npz")["arr_0"]
    for i in range(kmnist_start, kmnist_start + n_kmnist):
        big = Image.fromarray(imgs[i]).resize((256, 256), Image.BICUBIC)
        path = km / f"kmnist_{i:05d}.png"
        big.save(path)
        sets["kmnist"].append({"png": path, "strokes": None, "grey": 255 - np.asarray(big)})
    return sets


def run_sketchkit(folder: Path, out: Path) -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "sketchkit.cli.app", "vectorize", str(folder), "-o", str(out)],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


def run_potrace(items: list[dict], out: Path) -> float | None:
    if shutil.which("potrace") is None:
        return None
    from PIL import Image

    out.mkdir()
    pbms = []
    for it in items:
        ink = it["grey"] < 128  # potrace traces black pixels
        p = out / (it["png"].stem + ".pbm")
        Image.fromarray(np.where(ink, 0, 255).astype(np.uint8)).convert("1").save(p)
        pbms.append(str(p))
    t = time.perf_counter()
    subprocess.run(["potrace", "-s", *pbms], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


def run_vtracer(items: list[dict], out: Path) -> float | None:
    try:
        import vtracer
    except ImportError:
        return None
    out.mkdir()
    t = time.perf_counter()
    for it in items:
        vtracer.convert_image_to_svg_py(str(it["png"]), str(out / (it["png"].stem + ".svg")),
                                        colormode="binary", mode="spline")
    return time.perf_counter() - t


def evaluate(items: list[dict], folder: Path, grey_input: bool = True) -> dict:
    from PIL import Image

    rows = []
    for it in items:
        svg_path = folder / (it["png"].stem + ".svg")
        svg = svg_path.read_text()
        h, w = it["grey"].shape
        grey_in = np.asarray(Image.open(it["png"]).convert("L"))
        if grey_in.mean() < 128:  # light-on-dark input: its ink is bright
            grey_in = 255 - grey_in
        rendered = svg_to_grey(svg, w, h)
        if rendered.mean() < 128:
            rendered = 255 - rendered
        sk_out = skeleton_points(rendered)
        sk_in = skeleton_points(grey_in)
        paths, cps = count_svg(svg)
        row = {"paths": paths, "control_points": cps, "chamfer_input_skeleton": chamfer(sk_out, sk_in)}
        if it["strokes"] is not None:
            row["chamfer_true"] = chamfer(sk_out, dense(it["strokes"]))
            row["true_strokes"] = len(it["strokes"])
            row["paths_within_one"] = abs(paths - len(it["strokes"])) <= 1
        rows.append(row)
    summary = {}
    for key in rows[0]:
        vals = np.array([r[key] for r in rows], dtype=np.float64)
        summary[key] = float(np.nanmean(vals))
        if key in ("chamfer_true", "chamfer_input_skeleton", "control_points", "paths"):
            summary[key + "_median"] = float(np.nanmedian(vals))
    return summary


def write_examples(folder: Path) -> None:
    """The shipped example images: ``cat.png`` (Quick, Draw! cat, simplified line 24 — held out of
    training — at 256 px with 3 px lines) and ``kmnist.png`` (K-MNIST test image 4000, 28 x 28)."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    d = json.loads((DATA / "quickdraw" / "simplified" / "cat.ndjson").read_text().splitlines()[24])
    strokes = [np.array(s[:2], dtype=np.float64).T for s in d["drawing"]]
    Image.fromarray(svg_to_grey(polyline_svg(strokes, 256, 3.0), 256, 256)).save(folder / "cat.png", optimize=True)
    img = np.load(DATA / "kmnist" / "kmnist-test-imgs.npz")["arr_0"][4000]
    Image.fromarray(img).save(folder / "kmnist.png", optimize=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n-kmnist", type=int, default=40)
    ap.add_argument("--kmnist-start", type=int, default=4000)
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    ap.add_argument("--keep", type=Path, default=None, help="keep the images and outputs in this folder")
    ap.add_argument("--write-examples", type=Path, default=None, metavar="DIR",
                    help="only write the shipped example images into DIR (sketchkit/examples) and exit")
    args = ap.parse_args()
    if args.write_examples is not None:
        write_examples(args.write_examples)
        return

    tmp = Path(tempfile.mkdtemp(prefix="bench_vectorize_")) if args.keep is None else args.keep
    tmp.mkdir(parents=True, exist_ok=True)
    sets = make_sets(tmp, args.n_kmnist, args.kmnist_start)
    results: dict = {}
    for name, items in sets.items():
        src = tmp / name
        res = {}
        t = run_sketchkit(src, tmp / f"{name}_sketchkit")
        res["sketchkit"] = {"seconds_per_image": t / len(items), **evaluate(items, tmp / f"{name}_sketchkit")}
        t = run_potrace(items, tmp / f"{name}_potrace")
        if t is not None:
            res["potrace"] = {"seconds_per_image": t / len(items), **evaluate(items, tmp / f"{name}_potrace")}
        else:
            res["potrace"] = "not installed (apt-get install -y potrace)"
        t = run_vtracer(items, tmp / f"{name}_vtracer")
        if t is not None:
            res["vtracer"] = {"seconds_per_image": t / len(items), **evaluate(items, tmp / f"{name}_vtracer")}
        else:
            res["vtracer"] = "not installed (pip install vtracer)"
        results[name] = {"images": len(items), **res}
    # cold single image
    one = sets["quickdraw"][0]["png"]
    colds = []
    for _ in range(3):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "sketchkit.cli.app", "vectorize", str(one), "-o", str(tmp / "cold.svg")],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        colds.append(time.perf_counter() - t)
    results["cold_single_image_seconds"] = {"runs": [round(c, 3) for c in colds], "median": float(np.median(colds))}
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    print(f"images and outputs in {tmp}", file=sys.stderr)


if __name__ == "__main__":
    main()
