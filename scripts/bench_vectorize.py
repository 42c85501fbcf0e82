"""Benchmark ``sketchkit vectorize`` against potrace and vtracer (each when installed).

Image sets (written to a temp folder as PNG; ``--n-<set>`` images each, 40 by default):

* ``quickdraw``: held-out Quick, Draw! drawings (simplified ndjson lines 20..24 of each of the 8
  categories in ``../shared/data``; ``scripts/train_pretrained_cloud2curve.py`` leaves them out of
  training; ``--quickdraw-lines 0-4`` picks another slice, seen in the stroke model's training) rendered at 256 x 256 with 3 px round-capped lines by cairosvg; the true strokes are
  the ndjson polylines in the same pixel frame.
* ``kmnist``: K-MNIST test images ``--kmnist-start ..`` (after the 1000 used in training),
  upscaled from 28 to 256 px (bicubic). No true strokes: compared to the input's skeleton only.
* ``lucide``, ``kanjivg``: real SVG files (Lucide icons, KanjiVG characters; ``<text>`` stroke
  numbers removed), evenly spaced through the sorted folders (``--offset K`` shifts the first pick by K
  files, for a second, disjoint slice), each rendered by cairosvg at
  128 or 256 px with every stroke 1.5, 2, 3 or 4 px wide (the i-th file gets size
  ``(128, 256)[i % 2]`` and width ``(1.5, 2, 3, 4)[(i // 2) % 4]``); the true strokes are the
  file's imported polylines (:func:`sketchkit.data.svg_import.svg_to_sketch`) in the same pixel
  frame (root ``viewBox``, as cairosvg maps it), flattened within 0.01 px.

Per tool and set: fidelity — each output SVG is rendered back at the input size with cairosvg
(``--render-scale S``: at S times the input size, skeleton coordinates divided by S), its ink
(grey < 128) skeletonised, and the symmetric Chamfer distance in px (mean of the two directed
mean nearest-neighbour distances) is measured to the true strokes (sampled every 0.25 px) and to
the skeleton of the input image. The skeleton of a raster line is off its true centre by up to
half a pixel (a 2 px line centred on a pixel edge has no centre pixel), so at scale 1 even a
re-render of the true strokes themselves scores 0.35-0.55 px: the table's ``input skeleton``
row (the input image's own skeleton against the true strokes) gives that floor per set, and a
centreline off by e px adds only about e^2 on top of it. ``--render-scale 4`` lowers the floor
and shows the tools' geometric error; stroke count — the fraction of images whose
``<path>`` count is within one of the true stroke count (meaningful for centreline tools only:
potrace and vtracer trace outlines); compactness — SVG ``<path>`` elements and control points
(coordinate pairs in the path data: 1 per ``M``/``L``, 2 per ``Q``, 3 per ``C``); speed —
amortised wall time per image for a whole folder in one process call (``sketchkit vectorize DIR
-o OUT --jobs J``, start-up and model load included; ``potrace -s`` over all PBMs in one call;
vtracer in one Python loop), and one cold single-image ``sketchkit vectorize`` subprocess.
Images a tool refuses or fails on are counted (``failed``) and left out of its means.

The tools run interleaved per set (sketchkit, potrace, vtracer; ``--repeats R`` repeats that
round R times and reports the median time), so a change in machine load hits all of them alike.

Usage::

    python scripts/bench_vectorize.py [--sets quickdraw,kmnist,lucide,kanjivg] [--n 40]
        [--jobs 1] [--json results.json]

``--json FILE`` writes the results (with per-image rows) to FILE and the table to FILE's ``.md``.
vtracer is optional (``pip install -e .[bench]``); without it its rows say "not installed".
The default run (4 sets x 40 images, ``--jobs 1``) takes well under 10 minutes on one core.
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
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
CATEGORIES = ("apple", "bicycle", "bird", "cat", "face", "house", "pig", "sheep")
SETS = ("quickdraw", "kmnist", "lucide", "kanjivg")
SVG_SIZES = (128, 256)
SVG_WIDTHS = (1.5, 2.0, 3.0, 4.0)
TRUE_TOLERANCE_PX = 0.01  # flattening of the true SVG strokes, px


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


def skeleton_points(grey: np.ndarray, scale: int = 1) -> np.ndarray:
    """(n, 2) x, y pixel-centre coordinates of the skeleton of ``grey < 128``, divided by ``scale``
    (the render's size over the input's)."""
    from skimage.morphology import skeletonize

    mask = grey < 128
    rows, cols = np.nonzero(skeletonize(mask))
    return np.stack([cols + 0.5, rows + 0.5], axis=1).astype(np.float64) / scale


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


# ------------------------------------------------------------------------------------ image sets
def _save(grey: np.ndarray, path: Path) -> None:
    from PIL import Image

    Image.fromarray(grey).save(path)


def make_quickdraw(folder: Path, n: int, lines: range = range(20, 25)) -> list[dict]:
    items = []
    for i in lines:  # 20..24: held out of training; interleave categories so any n is balanced
        for cat in CATEGORIES:
            if len(items) == n:
                return items
            line = (DATA / "quickdraw" / "simplified" / f"{cat}.ndjson").read_text().splitlines()[i]
            strokes = [np.array(s[:2], dtype=np.float64).T for s in json.loads(line)["drawing"]]
            grey = svg_to_grey(polyline_svg(strokes, 256, 3.0), 256, 256)
            path = folder / f"{cat}_{i:02d}.png"
            _save(grey, path)
            items.append({"png": path, "strokes": strokes, "grey": grey})
    return items


def make_kmnist(folder: Path, n: int, start: int) -> list[dict]:
    from PIL import Image

    items = []
    imgs = np.load(DATA / "kmnist" / "kmnist-test-imgs.npz")["arr_0"]
    for i in range(start, start + n):
        big = Image.fromarray(imgs[i]).resize((256, 256), Image.BICUBIC)
        path = folder / f"kmnist_{i:05d}.png"
        big.save(path)
        items.append({"png": path, "strokes": None, "grey": 255 - np.asarray(big)})
    return items


def _check_module():
    """``scripts/check_svg_import.py`` (its SVG frame and text/width helpers), loaded by path."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("check_svg_import", REPO / "scripts" / "check_svg_import.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def make_svg_set(folder: Path, source: Path, n: int, offset: int = 0) -> list[dict]:
    """Render ``n`` files of ``source`` (evenly spaced, sorted, from the ``offset``-th) at the
    sizes/widths of the docstring."""
    from sketchkit.data.svg_import import svg_to_sketch

    check = _check_module()
    ET.register_namespace("", check.SVG_NS)
    files = sorted(source.glob("*.svg"))
    picked = files[offset % len(files) :: max(1, len(files) // max(1, n))][:n]
    items = []
    for i, path in enumerate(picked):
        size, width = SVG_SIZES[i % 2], SVG_WIDTHS[(i // 2) % len(SVG_WIDTHS)]
        root = ET.parse(path).getroot()
        check._strip_text(root)
        text = ET.tostring(root, encoding="utf-8")
        scale, offset, w, h = check._frame(svg_to_sketch(text).meta, size)
        # flatten the true curves within TRUE_TOLERANCE_PX in the pixel frame (the importer's
        # default 0.1 user units is 1.07 px on a 24-unit Lucide icon drawn at 256 px: chords cut
        # inside every arc)
        sk = svg_to_sketch(text, tolerance=TRUE_TOLERANCE_PX / scale)
        svg = ET.tostring(check._with_width(root, width / scale), encoding="utf-8")
        grey = svg_to_grey(svg, w, h)
        png = folder / f"{path.stem}_{size}_{width:g}px.png"
        _save(grey, png)
        items.append({"png": png, "strokes": [s * scale + offset for s in sk.strokes], "grey": grey,
                      "size": size, "width": width})
    return items


def make_set(name: str, folder: Path, n: int, args: argparse.Namespace) -> list[dict]:
    folder.mkdir(parents=True, exist_ok=True)
    if name == "quickdraw":
        return make_quickdraw(folder, n, getattr(args, "quickdraw_lines", range(20, 25)))
    if name == "kmnist":
        return make_kmnist(folder, n, args.kmnist_start)
    return make_svg_set(folder, DATA / name, n, getattr(args, "offset", 0))


# ------------------------------------------------------------------------------------ tools
def run_sketchkit(folder: Path, out: Path, jobs: int) -> float:
    shutil.rmtree(out, ignore_errors=True)
    t = time.perf_counter()
    # folder mode lists refused images and still writes the others; a non-zero exit is not fatal
    subprocess.run([sys.executable, "-m", "sketchkit.cli.app", "vectorize", str(folder), "-o", str(out),
                    "--jobs", str(jobs), "--quiet"],
                   check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


def run_potrace(items: list[dict], out: Path) -> float | None:
    if shutil.which("potrace") is None:
        return None
    from PIL import Image

    shutil.rmtree(out, ignore_errors=True)
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
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    t = time.perf_counter()
    for it in items:
        vtracer.convert_image_to_svg_py(str(it["png"]), str(out / (it["png"].stem + ".svg")),
                                        colormode="binary", mode="spline")
    return time.perf_counter() - t


NOT_INSTALLED = {"potrace": "not installed (apt-get install -y potrace)",
                 "vtracer": "not installed (pip install vtracer, or pip install -e .[bench])"}


# ------------------------------------------------------------------------------------ scoring
def evaluate(items: list[dict], folder: Path, scale: int = 1) -> dict:
    from PIL import Image

    rows, failed = [], 0
    for it in items:
        svg_path = folder / (it["png"].stem + ".svg")
        if not svg_path.exists():
            failed += 1
            continue
        svg = svg_path.read_text()
        h, w = it["grey"].shape
        grey_in = np.asarray(Image.open(it["png"]).convert("L"))
        if grey_in.mean() < 128:  # light-on-dark input: its ink is bright
            grey_in = 255 - grey_in
        rendered = svg_to_grey(svg, w * scale, h * scale)
        if rendered.mean() < 128:
            rendered = 255 - rendered
        sk_out = skeleton_points(rendered, scale)
        sk_in = skeleton_points(grey_in)
        paths, cps = count_svg(svg)
        row = {"image": it["png"].name, "paths": paths, "control_points": cps,
               "chamfer_input_skeleton": chamfer(sk_out, sk_in)}
        if it["strokes"] is not None:
            row["chamfer_true"] = chamfer(sk_out, dense(it["strokes"]))
            row["true_strokes"] = len(it["strokes"])
            row["paths_within_one"] = abs(paths - len(it["strokes"])) <= 1
        rows.append(row)
    summary: dict = {"failed": failed}
    if not rows:
        return summary
    for key in rows[0]:
        if key == "image":
            continue
        vals = np.array([r[key] for r in rows], dtype=np.float64)
        summary[key] = float(np.nanmean(vals))
        if key in ("chamfer_true", "chamfer_input_skeleton", "control_points", "paths"):
            summary[key + "_median"] = float(np.nanmedian(vals))
    summary["per_image"] = [{k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()} for r in rows]
    return summary


def input_floor(items: list[dict]) -> dict:
    """Chamfer (px) of each input image's own skeleton to its true strokes: what a perfect re-render
    of the input scores at render scale 1 (the raster skeleton's floor)."""
    vals = [chamfer(skeleton_points(it["grey"]), dense(it["strokes"])) for it in items if it["strokes"] is not None]
    if not vals:
        return {}
    return {"chamfer_true": float(np.mean(vals)), "chamfer_true_median": float(np.median(vals))}


def bench_set(name: str, items: list[dict], tmp: Path, jobs: int, repeats: int, scale: int = 1) -> dict:
    times: dict[str, list[float]] = {"sketchkit": [], "potrace": [], "vtracer": []}
    for _ in range(repeats):
        times["sketchkit"].append(run_sketchkit(tmp / name, tmp / f"{name}_sketchkit", jobs))
        for tool, run in (("potrace", run_potrace), ("vtracer", run_vtracer)):
            t = run(items, tmp / f"{name}_{tool}")
            if t is not None:
                times[tool].append(t)
    res: dict = {"images": len(items), "render_scale": scale, "input_skeleton": input_floor(items)}
    for tool, ts in times.items():
        if not ts:
            res[tool] = NOT_INSTALLED[tool]
            continue
        sec = float(np.median(ts)) / len(items)
        res[tool] = {"seconds_per_image": sec, "images_per_second": 1.0 / sec,
                     **evaluate(items, tmp / f"{name}_{tool}", scale)}
    return res


def cold_start(png: Path, out: Path, runs: int = 3) -> dict:
    colds = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "sketchkit.cli.app", "vectorize", str(png), "-o", str(out)],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        colds.append(time.perf_counter() - t)
    return {"runs": [round(c, 3) for c in colds], "median": float(np.median(colds))}


def table(results: dict) -> str:
    """Markdown table of the results (medians where the key has one)."""
    head = ("| set | tool | ms/img | img/s | Chamfer true px | Chamfer input skel. px | strokes within 1 "
            "| paths | ctrl pts | failed |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]

    def f(v, fmt):
        return "-" if v is None or (isinstance(v, float) and np.isnan(v)) else format(v, fmt)

    for name in SETS:
        if name not in results:
            continue
        for tool in ("sketchkit", "potrace", "vtracer"):
            r = results[name][tool]
            if isinstance(r, str):
                lines.append(f"| {name} | {tool} | {r} | | | | | | | |")
                continue
            within = r.get("paths_within_one")
            lines.append(
                f"| {name} ({results[name]['images']}) | {tool} | {f(1000 * r['seconds_per_image'], '.1f')} "
                f"| {f(r['images_per_second'], '.1f')} | {f(r.get('chamfer_true_median'), '.2f')} "
                f"| {f(r.get('chamfer_input_skeleton_median'), '.2f')} | {f(within, '.2f')} "
                f"| {f(r.get('paths_median'), '.0f')} | {f(r.get('control_points_median'), '.0f')} | {r['failed']} |")
        floor = results[name].get("input_skeleton")
        if floor:
            lines.append(f"| {name} | input skeleton (floor at scale 1) | | | {f(floor['chamfer_true_median'], '.2f')} "
                         "| | | | | |")
    cold = results.get("cold_single_image_seconds")
    if cold:
        lines.append(f"\ncold single image (sketchkit vectorize one PNG, new process): median {cold['median']:.2f} s "
                     f"(runs {cold['runs']})")
    return "\n".join(lines)


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


def _line_range(text: str) -> range:
    a, _, b = text.partition("-")
    lo, hi = int(a), int(b or a)
    if not 0 <= lo <= hi <= 24:
        raise argparse.ArgumentTypeError("expected A-B with 0 <= A <= B <= 24")
    return range(lo, hi + 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sets", default=",".join(SETS), help=f"comma-separated, from {', '.join(SETS)}")
    ap.add_argument("--n", type=int, default=40, help="images per set (default 40; quickdraw at most 40)")
    for name in SETS:
        ap.add_argument(f"--n-{name}", type=int, default=None, help=f"images in the {name} set (default --n)")
    ap.add_argument("--kmnist-start", type=int, default=4000)
    ap.add_argument("--quickdraw-lines", type=_line_range, default=range(20, 25), metavar="A-B",
                    help="simplified ndjson lines of the quickdraw set (default 20-24, held out of training)")
    ap.add_argument("--offset", type=int, default=0,
                    help="lucide/kanjivg: start the evenly spaced picks at this file (another slice)")
    ap.add_argument("--render-scale", type=int, default=1,
                    help="re-render outputs at this multiple of the input size before skeletonising (default 1)")
    ap.add_argument("--jobs", type=int, default=1,
                    help="sketchkit folder-mode worker processes (default 1, like potrace and vtracer)")
    ap.add_argument("--repeats", type=int, default=1, help="timing rounds per set (median reported)")
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    ap.add_argument("--keep", type=Path, default=None, help="keep the images and outputs in this folder")
    ap.add_argument("--write-examples", type=Path, default=None, metavar="DIR",
                    help="only write the shipped example images into DIR (sketchkit/examples) and exit")
    args = ap.parse_args()
    if args.write_examples is not None:
        write_examples(args.write_examples)
        return
    names = [s.strip() for s in args.sets.split(",") if s.strip()]
    unknown = [s for s in names if s not in SETS]
    if unknown:
        ap.error(f"unknown set(s) {unknown}; choose from {', '.join(SETS)}")
    if not DATA.exists():
        ap.error(f"real sample data not found at {DATA}")

    tmp = Path(tempfile.mkdtemp(prefix="bench_vectorize_")) if args.keep is None else args.keep
    tmp.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    results: dict = {"command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]), "jobs": args.jobs}
    first_png = None
    for name in names:
        n = getattr(args, f"n_{name}") or args.n
        items = make_set(name, tmp / name, n, args)
        first_png = first_png or items[0]["png"]
        results[name] = bench_set(name, items, tmp, args.jobs, args.repeats, args.render_scale)
        print(f"{name}: done ({time.perf_counter() - t0:.0f} s)", file=sys.stderr, flush=True)
    if first_png is not None:
        results["cold_single_image_seconds"] = cold_start(first_png, tmp / "cold.svg")
    results["total_seconds"] = round(time.perf_counter() - t0, 1)
    text = json.dumps(results, indent=2)
    print(text)
    print()
    print(table(results))
    if args.json:
        args.json.write_text(text + "\n")
        args.json.with_suffix(".md").write_text(table(results) + "\n")
    print(f"images and outputs in {tmp}", file=sys.stderr)


if __name__ == "__main__":
    main()
