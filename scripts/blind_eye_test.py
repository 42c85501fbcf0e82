"""A blind look: real held-out drawings and a model's samples, shuffled, to be judged by eye.

The judge's numbers can be kinder than a person (it reads 32 px rasters); this is the check a
person makes, without knowing which drawing is which. Two steps:

1. ``make``: per class, ``--n`` real test drawings and ``--n`` class-conditional samples, shuffled
   into one numbered grid (``DIR/NN_class.png``). Real drawings are drawn as the model's own
   stroke fits where it has them (BézierSketch: degree-5 pieces), so smooth curves are no cue.
   The key goes to ``DIR/key.json`` (do not open it before scoring) and an empty
   ``DIR/judged.json`` is written: for each class, list the cell numbers you recognise as that
   class.
2. ``score``: unblinds ``judged.json`` with the key and prints, per class and in all, how many
   real drawings and how many samples were recognised (also ``DIR/score.json``).

``--arms`` puts several sample settings into the same grids (each its own draws), so that they
are judged against each other under one standard, with the same real drawings.

Usage::

    python scripts/blind_eye_test.py make --model bezier --out DIR --temperature 0.15 \\
        --min-class-posterior 0.999 --best-of 8
    # ... look at DIR/*.png, fill in DIR/judged.json ...
    python scripts/blind_eye_test.py score --out DIR
"""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SPG = REPO.parent / "shared" / "data" / "quickdraw" / "spg"


def _arms(text: str | None) -> dict[str, dict]:
    """``--arms`` JSON -> arm name -> extra ``sample()`` keywords; one arm ``"sample"`` when not given."""
    try:
        arms = json.loads(text) if text else {"sample": {}}
    except json.JSONDecodeError as exc:
        raise SystemExit(f"--arms: not JSON ({exc})") from None
    if not isinstance(arms, dict) or not arms or "real" in arms or not all(isinstance(v, dict) for v in arms.values()):
        raise SystemExit('--arms: expected a JSON object of arm name -> sample() keywords, e.g. '
                         '\'{"plain": {}, "careful": {"max_overdraw": 0.3}}\' (no arm named "real")')
    return arms


def make(args: argparse.Namespace) -> None:
    arms = _arms(args.arms)
    import torch
    from PIL import Image, ImageDraw

    import sketchkit
    import sketchkit.data
    from sketchkit.data.splits import split_sketches
    from sketchkit.models.base import load_model
    from sketchkit.render import grid_svg

    torch.set_num_threads(1)
    model = load_model(args.model)
    model.eval()
    labels = list(getattr(model, "labels", ()) or ())
    if not labels:
        raise SystemExit(f"{args.model}: not a class-conditional model (no labels)")
    data = [s for s in sketchkit.data.read_all(args.data) if s.label is not None and s.num_strokes]
    test = split_sketches(data)["test"]
    kw = {k: v for k, v in (("min_class_posterior", args.min_class_posterior), ("best_of", args.best_of),
                            ("max_overdraw", args.max_overdraw)) if v is not None}
    rng = np.random.default_rng(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    key: dict[str, list[str]] = {}
    cell, cols = 110, 8 if len(arms) == 1 else 9
    for ci, name in enumerate(labels):
        pool = [s for s in test if str(s.label) == name]
        if len(pool) < args.n:
            raise SystemExit(f"{args.data}: only {len(pool)} test drawings of {name!r} (--n {args.n})")
        real = [pool[i] for i in rng.choice(len(pool), args.n, replace=False)]
        if hasattr(model, "embed_strokes"):
            real = [model.embed_strokes(s, degree=model.config.max_degree) for s in real]
        items = [("real", s) for s in real]
        for ai, (arm, arm_kw) in enumerate(arms.items()):
            # each arm its own draws: arms sharing a seed would share strokes and give each other away
            g = torch.Generator().manual_seed((args.seed * 1000 + ci) * 16 + ai if len(arms) > 1 else args.seed * 1000 + ci)
            samples = model.sample(args.n, generator=g, temperature=args.temperature, label=name, **{**kw, **arm_kw})
            items += [(arm, s) for s in samples]
        items = [items[i] for i in rng.permutation(len(items))]
        key[name] = [kind for kind, _ in items]
        png = sketchkit.to_png(grid_svg([s for _, s in items], columns=cols, cell=cell, stroke_width=2.0))
        img = Image.open(io.BytesIO(png)).convert("RGB")
        draw = ImageDraw.Draw(img)
        for i in range(len(items)):
            draw.text(((i % cols) * cell + 3, (i // cols) * cell + 2), str(i), fill=(200, 0, 0))
        img.save(args.out / f"{ci:02d}_{name}.png")
        print(f"{name}: {args.out / f'{ci:02d}_{name}.png'}", flush=True)
    (args.out / "key.json").write_text(json.dumps({"model": str(args.model), "seed": args.seed, "key": key}))
    judged = args.out / "judged.json"
    if not judged.exists():
        judged.write_text(json.dumps({name: [] for name in labels}, indent=1) + "\n")
    print(f"now list the recognised cells per class in {judged}, then run: score --out {args.out}")


def score(args: argparse.Namespace) -> dict:
    """Per class and in all: recognised / shown, for real drawings and each arm of samples
    (``"sample"`` when there was one); each arm's rate over the real rate is its ``ratio``."""
    key = json.loads((args.out / "key.json").read_text())["key"]
    judged = json.loads((args.out / "judged.json").read_text())
    kinds = ["real"] + sorted({k for kinds in key.values() for k in kinds} - {"real"})
    per, total = {}, {k: [0, 0] for k in kinds}
    for name, shown in key.items():
        seen = {int(i) for i in judged.get(name, [])}
        counts = {k: [0, 0] for k in kinds}
        for i, kind in enumerate(shown):
            counts[kind][0] += i in seen
            counts[kind][1] += 1
        for kind in kinds:
            total[kind][0] += counts[kind][0]
            total[kind][1] += counts[kind][1]
        per[name] = {k: f"{a}/{b}" for k, (a, b) in counts.items()}
        print(f"{name:14s} " + "   ".join(f"{k} {per[name][k]:>6s}" for k in kinds))
    share = {k: a / b if b else float("nan") for k, (a, b) in total.items()}
    ratios = {k: share[k] / share["real"] if share["real"] else float("nan") for k in kinds[1:]}
    print("all: " + ", ".join(f"{k} {share[k]:.3f}" for k in kinds) + "; "
          + ", ".join(f"{k} / real {r:.2f}" for k, r in ratios.items()))
    result: dict = {"per_class": per, "real": share["real"]}
    if kinds[1:] == ["sample"]:
        result.update(samples=share["sample"], ratio=ratios["sample"])
    else:
        result.update(arms={k: {"recognised": share[k], "ratio": ratios[k]} for k in kinds[1:]})
    (args.out / "score.json").write_text(json.dumps(result, indent=1) + "\n")
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="step", required=True)
    mk = sub.add_parser("make", help="write the shuffled grids and the key")
    mk.add_argument("--model", default="bezier", help="shipped model name or model directory")
    mk.add_argument("--data", type=Path, default=SPG, help="labelled stroke data (its test split is used)")
    mk.add_argument("--out", type=Path, required=True)
    mk.add_argument("--n", type=int, default=12, help="real drawings and samples per class (each)")
    mk.add_argument("--seed", type=int, default=0)
    mk.add_argument("--temperature", type=float, default=0.15)
    mk.add_argument("--min-class-posterior", type=float, default=None)
    mk.add_argument("--best-of", type=int, default=None)
    mk.add_argument("--max-overdraw", type=float, default=None)
    mk.add_argument("--arms", default=None,
                    help='several sample settings in one blind test: JSON of arm name -> sample() keywords, '
                         'e.g. \'{"plain": {}, "careful": {"max_overdraw": 0.3}}\'; each arm draws --n per class')
    sc = sub.add_parser("score", help="unblind DIR/judged.json")
    sc.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    make(args) if args.step == "make" else score(args)


if __name__ == "__main__":
    main()
