"""Render the README's class grid: one row per class, held-out real drawings then samples.

Usage::

    python scripts/docs_class_grid.py --model bezier --temperature 0.3 -o docs/bezier_classes.png
    python scripts/docs_class_grid.py --model sketchode --data ../shared/data/vectormnist --temperature 0.5 \
        -o docs/sketchode_classes.png

Row ``c``: ``--real`` drawings of class ``c`` from the test split of ``--data`` (default: SPG) (grey, left), then
``--samples`` samples of ``model.sample(label=c)`` (black, right), seeded. Raster data (K-MNIST) shows
its real characters as the images themselves::

    python scripts/docs_class_grid.py --model cloud2curve_kmnist --data ../shared/data/kmnist/kmnist-test-imgs.npz \
        --temperature 0.5 -o docs/cloud2curve_kmnist_classes.png
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import torch
from PIL import Image

import sketchkit
from sketchkit.models.base import load_model
from sketchkit.render import grid_svg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_pretrained_bezier_quickdraw import DATA, load_splits  # noqa: E402  (the split every script uses)


def _png(svg: str) -> Image.Image:
    return Image.open(io.BytesIO(sketchkit.to_png(svg))).convert("RGB")


def _raster_grid(path: Path, items: list, *, columns: int, cell: int) -> Image.Image:
    """The source images of raster-read sketches (``meta["index"]`` into ``path``), grey ink on white."""
    from sketchkit.data.rasters import read_images

    wanted = {s.meta["index"] for s in items}
    images = {i: img for i, (img, _) in enumerate(read_images(path)) if i in wanted}
    rows = -(-len(items) // columns)
    out = Image.new("RGB", (columns * cell, rows * cell), "white")
    for k, s in enumerate(items):
        ink = Image.fromarray(images[s.meta["index"]]).resize((int(cell * 0.8),) * 2, Image.BILINEAR)
        tile = Image.eval(ink, lambda v: 255 - int(v * (255 - 0x8a) / 255)).convert("RGB")
        out.paste(tile, ((k % columns) * cell + cell // 10, (k // columns) * cell + cell // 10))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="bezier")
    ap.add_argument("--data", type=Path, default=DATA, help="labelled data whose test split gives the real rows")
    ap.add_argument("--temperature", type=float, default=0.3)
    ap.add_argument("--real", type=int, default=2)
    ap.add_argument("--samples", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--min-class-posterior", type=float, default=0.0,
                    help="bezier decoder-only models: redraw samples the model itself doubts (as sketchkit sample)")
    ap.add_argument("--best-of", type=int, default=1,
                    help="bezier models with a sample critic: keep the critic's best of this many draws (as sketchkit sample)")
    ap.add_argument("--cell", type=int, default=72)
    ap.add_argument("-o", "--out", type=Path, default=Path("docs/bezier_classes.png"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    model = load_model(args.model).eval()
    test = load_splits(args.data)["test"]
    real_items, fake_items = [], []
    g = torch.Generator().manual_seed(args.seed)
    for name in model.labels:
        real_items += [s for s in test if s.label == name][: args.real]
        extra = {"min_class_posterior": args.min_class_posterior} if args.min_class_posterior else {}
        if args.best_of > 1:
            extra["best_of"] = args.best_of
        fake_items += model.sample(args.samples, generator=g, temperature=args.temperature, label=name, **extra)
    if real_items and all(s.is_point_cloud for s in real_items):
        real = _raster_grid(args.data, real_items, columns=args.real, cell=args.cell)
    else:
        real = _png(grid_svg(real_items, columns=args.real, cell=args.cell, stroke_width=1.5, color="#8a8a8a"))
    fake = _png(grid_svg(fake_items, columns=args.samples, cell=args.cell, stroke_width=1.5))
    canvas = Image.new("RGB", (real.width + 12 + fake.width, max(real.height, fake.height)), "white")
    canvas.paste(real, (0, 0))
    canvas.paste(fake, (real.width + 12, 0))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(args.out, optimize=True)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
