"""Check SVG import on real files: the imported sketch, drawn by sketchkit's rasteriser, against
cairosvg's render of the file itself.

For each file: the sketch from :func:`sketchkit.data.svg_import.svg_to_sketch` is mapped into
the pixel frame of the root ``viewBox`` (uniform scale, centred: SVG's default
``xMidYMid meet``) and drawn with :func:`sketchkit.render.rasterize` with each stroke's own width
(``meta["stroke_widths"]``, scaled to pixels; round caps and joins); cairosvg renders the file
at the same size on a transparent background. Ink is coverage >= 0.5 (rasteriser) and
alpha >= 128 (cairosvg). The score is the IoU of the two masks after a 1 px dilation (3 x 3
square), so anti-aliasing differences of a pixel do not count. ``<text>`` elements are
removed before cairosvg renders: they are labels (KanjiVG's stroke numbers), not line art, and
the importer leaves them out.

A file fails when its IoU is below ``--min-iou`` (default 0.9); the failure names the element
with the worst IoU when drawn alone (every other drawable element hidden in both renders).

``--thin PX`` adds a sharper check: every element's stroke width is set to ``PX`` pixels in
both renders, and the score is the smaller of the two one-sided fractions "ink of one render
within 1 px of the other's" (filled shapes, which the importer keeps as outlines, score low).

Usage::

    python scripts/check_svg_import.py                  # every file of ../shared/data/{lucide,kanjivg}
    python scripts/check_svg_import.py FILE_OR_DIR ... [--size 256] [--thin 2] [--json out.json]
"""

from __future__ import annotations

import argparse
import copy
import io
import json
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
DRAWABLE = ("path", "line", "polyline", "polygon", "rect", "circle", "ellipse")
SVG_NS = "http://www.w3.org/2000/svg"


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _strip_text(root: ET.Element) -> None:
    for parent in root.iter():
        for child in list(parent):
            if _local(child.tag) == "text":
                parent.remove(child)


def _drawables(root: ET.Element) -> list[ET.Element]:
    return [el for el in root.iter() if _local(el.tag) in DRAWABLE]


def _frame(meta: dict, size: int) -> tuple[float, np.ndarray, int, int]:
    """(scale, offset, width px, height px) of the root viewBox drawn ``size`` px wide."""
    vx, vy, vw, vh = meta.get("view_box") or (0.0, 0.0, float(size), float(size))
    width, height = size, max(1, int(round(size * vh / vw)))
    scale = min(width / vw, height / vh)
    offset = np.array([(width - vw * scale) / 2.0 - vx * scale, (height - vh * scale) / 2.0 - vy * scale])
    return scale, offset, width, height


def sketch_mask(svg: bytes, size: int, thin: float | None = None) -> tuple[np.ndarray, int]:
    """Ink mask ``(H, W)`` bool of the imported sketch drawn by sketchkit, and its stroke count."""
    from sketchkit.data.svg_import import svg_to_sketch
    from sketchkit.render import rasterize
    from sketchkit.sketch import Sketch

    sk = svg_to_sketch(svg)
    scale, offset, w, h = _frame(sk.meta, size)
    mask = np.zeros((h, w), dtype=bool)
    widths = np.asarray(sk.meta.get("stroke_widths", []), dtype=np.float64) * scale
    if thin is not None:
        widths[:] = thin
    for width in np.unique(widths):
        strokes = [s * scale + offset for s, sw in zip(sk.strokes, widths) if sw == width]
        mask |= rasterize(Sketch(strokes), (h, w), stroke_width=float(max(width, 1e-3)), fit=False) >= 0.5
    return mask, sk.num_strokes


def cairo_mask(svg: bytes, width: int, height: int) -> np.ndarray:
    """Ink mask ``(H, W)`` bool (alpha >= 128) of cairosvg's render of ``svg``."""
    import cairosvg
    from PIL import Image

    png = cairosvg.svg2png(bytestring=svg, output_width=width, output_height=height)
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))[..., 3] >= 128


def dilated_iou(a: np.ndarray, b: np.ndarray) -> float:
    """IoU of two masks after a 1 px (3 x 3) dilation; 1.0 when both are empty."""
    from scipy import ndimage

    st = np.ones((3, 3), dtype=bool)
    da, db = ndimage.binary_dilation(a, st), ndimage.binary_dilation(b, st)
    union = int((da | db).sum())
    return 1.0 if union == 0 else float((da & db).sum()) / union


def near_fraction(a: np.ndarray, b: np.ndarray) -> float:
    """min over the two directions of the fraction of one mask's ink within 1 px of the other's."""
    from scipy import ndimage

    st = np.ones((3, 3), dtype=bool)
    da, db = ndimage.binary_dilation(a, st), ndimage.binary_dilation(b, st)
    fa = float((a & db).sum()) / max(1, int(a.sum()))
    fb = float((b & da).sum()) / max(1, int(b.sum()))
    return min(fa, fb)


def _with_width(root: ET.Element, user_width: float) -> ET.Element:
    root = copy.deepcopy(root)
    for el in _drawables(root):
        el.set("style", el.get("style", "").rstrip("; ") + f";stroke-width:{user_width!r}")
    return root


def _serialise(root: ET.Element) -> bytes:
    return ET.tostring(root, encoding="utf-8")


def compare(path: Path, size: int = 256, thin: float | None = None) -> dict:
    """Scores of one file: ``iou`` (file's stroke widths), ``near`` (with ``thin``), ``strokes``,
    ``paths`` (``<path>`` elements) and ``element`` (the worst element, when asked for)."""
    ET.register_namespace("", SVG_NS)
    root = ET.parse(path).getroot()
    _strip_text(root)
    svg = _serialise(root)
    mine, n = sketch_mask(svg, size)
    ref = cairo_mask(svg, mine.shape[1], mine.shape[0])
    out = {"file": str(path), "iou": dilated_iou(mine, ref), "strokes": n,
           "paths": sum(1 for el in _drawables(root) if _local(el.tag) == "path")}
    if thin is not None:
        from sketchkit.data.svg_import import svg_to_sketch

        scale = _frame(svg_to_sketch(svg).meta, size)[0]
        thin_svg = _serialise(_with_width(root, thin / scale))
        mine_t, _ = sketch_mask(thin_svg, size, thin=thin)
        out["near"] = near_fraction(mine_t, cairo_mask(thin_svg, mine_t.shape[1], mine_t.shape[0]))
    return out


def worst_element(path: Path, size: int = 256) -> str:
    """``"<tag> element k (id=...): IoU x"`` of the drawable element that matches worst alone."""
    ET.register_namespace("", SVG_NS)
    root = ET.parse(path).getroot()
    _strip_text(root)
    els = _drawables(root)
    worst = (2.0, "")
    for k in range(len(els)):
        alone = copy.deepcopy(root)
        for j, el in enumerate(_drawables(alone)):
            if j != k:
                el.set("display", "none")
        svg = _serialise(alone)
        try:
            mine, _ = sketch_mask(svg, size)
            iou = dilated_iou(mine, cairo_mask(svg, mine.shape[1], mine.shape[0]))
        except Exception as exc:  # noqa: BLE001 - a diagnostic: report what broke
            iou, note = 0.0, f" ({type(exc).__name__}: {exc})"
        else:
            note = ""
        el = els[k]
        name = f"<{_local(el.tag)}> element {k + 1}" + (f" (id={el.get('id')})" if el.get("id") else "")
        if iou < worst[0]:
            worst = (iou, f"{name}: IoU {iou:.3f}{note}")
    return worst[1] or "no drawable element"


def files_of(args: list[str]) -> list[Path]:
    if not args:
        args = [str(DATA / "lucide"), str(DATA / "kanjivg")]
    out: list[Path] = []
    for a in args:
        p = Path(a)
        out.extend(sorted(p.glob("*.svg")) if p.is_dir() else [p])
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("inputs", nargs="*", help="SVG files or folders (default: ../shared/data/lucide and kanjivg)")
    ap.add_argument("--size", type=int, default=256, help="render width in px (default 256)")
    ap.add_argument("--min-iou", type=float, default=0.9)
    ap.add_argument("--thin", type=float, default=None, metavar="PX",
                    help="also score every file with all strokes PX pixels wide (near-fraction)")
    ap.add_argument("--json", type=Path, default=None, help="write every file's scores here")
    args = ap.parse_args()
    files = files_of(args.inputs)
    if not files:
        print("no SVG files found", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    rows, failures = [], []
    for path in files:
        try:
            row = compare(path, args.size, args.thin)
        except Exception as exc:  # noqa: BLE001 - every file is checked; errors are failures
            row = {"file": str(path), "iou": 0.0, "error": f"{type(exc).__name__}: {exc}"}
        rows.append(row)
        if row["iou"] < args.min_iou:
            where = row.get("error") or worst_element(path, args.size)
            failures.append(f"{path}: IoU {row['iou']:.3f}; worst element {where}")
            print("FAIL", failures[-1], flush=True)
    by_set: dict[str, list[dict]] = {}
    for r in rows:
        by_set.setdefault(Path(r["file"]).parent.name, []).append(r)
    for name, rs in by_set.items():
        iou = np.array([r["iou"] for r in rs])
        line = (f"{name}: {len(rs)} files, IoU min {iou.min():.4f} mean {iou.mean():.4f}, "
                f"{int((iou < args.min_iou).sum())} below {args.min_iou}")
        if args.thin is not None:
            near = np.array([r.get("near", 0.0) for r in rs])
            line += (f"; thin {args.thin:g} px near-fraction min {near.min():.4f} mean {near.mean():.4f}, "
                     f"{int((near < 0.98).sum())} below 0.98")
        print(line)
    print(f"{len(files)} files in {time.perf_counter() - t0:.1f} s; {len(failures)} failures")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
