"""Judge generated sketches against held-out real ones (issue "Sample quality I/II").

A CNN judge is trained on the training split of a labelled data set (rasters from the one
rasteriser used for every row), its held-out accuracy is reported, and then every row — real
held-out drawings (the ceiling), the same drawings as the model's Bézier fits (the rendering /
representation confound), random smooth Bézier scribbles (the floor), and each model at each
temperature — is scored on:

* ``acc``: fraction the judge assigns to the class the row asked for (class-conditional rows;
  real rows: their true class; unconditional rows: "-");
* ``conf``: fraction recognised as that class with probability >= 0.9 (unconditional rows: max
  probability >= 0.9);
* ``H``: entropy (bits) of the judge's predicted-class histogram;
* ``FD``: Fréchet distance to the held-out test drawings in the judge's feature space;
* ``prec`` / ``rec``: k-NN precision / recall (k = 3) against the test drawings;
* ``C2ST``: held-out accuracy of a fresh CNN telling the row from the test drawings (0.5 = the
  same distribution);
* ``strokes``: mean strokes (curves) per sketch, with the histogram in the JSON;
* ``doubled``: mean share of a sketch's line length lying within 4 % of its size of another of
  its strokes (:func:`sketchkit.quality.doubled_share`): curves drawn over each other, which a
  raster judge cannot see (real drawings overlap only where strokes meet or cross);
* ``NN-train``: median distance in the judge's features from an item to its nearest training
  item; real held-out items set the reference, and a model far below it copies its training set.

``--reconstruct N`` also encodes and decodes N held-out items and reports the judge's accuracy on
the results. For a class-conditional model that number can owe much to the label the model is
given, so two more are reported: ``judge_acc_wrong_label`` (each item reconstructed under another
class; the share still read as its own class) and, for a model trained to read unlabelled input,
``judge_acc_unlabelled`` (no label given).

Reproducible: the split, the judge, the samples and the two-sample tests are seeded.

Usage::

    python scripts/bench_quality.py                                 # shipped bezier, SPG, T 0.2/0.4/0.6
    python scripts/bench_quality.py --model RUN/last --temperatures 0.3 0.5 --n 1000
    python scripts/bench_quality.py --test-data ../shared/data/quickdraw/excerpts \
        ../shared/data/quickdraw/simplified ../shared/data/quickdraw/raw   # against drawings from outside SPG
    python scripts/bench_quality.py --data ../shared/data/vectormnist --model sketchode   # digits
    python scripts/bench_quality.py --data ../shared/data/kmnist/kmnist-test-imgs.npz \
        --model cloud2curve_kmnist --temperatures 0.5 1.0                                 # K-MNIST

Raster data (K-MNIST: images, no strokes) is judged on its real rasters. Every item, real or
generated, goes through :func:`sketchkit.quality.centreline_images` (ink -> skeleton -> redrawn
with a thin pen), so brush width and blur are no cue; the second reference row is then the real
characters vectorised by ``sketchkit.vectorize`` (what any curve output costs), and reconstructions
read the characters as ``--cloud`` point clouds.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import json
import time
from collections import Counter
from pathlib import Path

import numpy as np
import torch

import sketchkit.data
from sketchkit.data.splits import split_sketches
from sketchkit.models.base import load_model
from sketchkit.quality import (SketchJudge, centreline_images, class_entropy, classifier_two_sample_test, doubled_share,
                               frechet_distance, nearest_distances, precision_recall, random_scribbles, rasterize_batch,
                               train_judge)
from sketchkit.sketch import BezierSketch, Sketch

REPO = Path(__file__).resolve().parents[1]
SPG = REPO.parent / "shared" / "data" / "quickdraw" / "spg"


def external_test(paths: list[Path], names: list[str], known_keys: set) -> list[Sketch]:
    """Labelled drawings from ``paths`` of the judge's classes (``names``; a label's spaces read as
    underscores) whose ``key_id`` is not in ``known_keys`` (the judged data set), each ``key_id``
    once (raw and simplified files hold the same drawings): an unseen reference set from outside
    the data set's split. Prints the count per class."""
    out, seen = [], set(known_keys)
    for s in sketchkit.data.read_all(paths):
        label = str(s.label).replace(" ", "_") if s.label is not None else None
        key = s.meta.get("key_id")
        if label in names and s.num_strokes and key not in seen:
            out.append(dataclasses.replace(s, label=label))
            if key is not None:
                seen.add(key)
    if len(out) < 16:
        raise SystemExit(f"--test-data: only {len(out)} drawings of the judged classes not in the data set")
    per = Counter(str(s.label) for s in out)
    print(f"test data: {len(out)} drawings outside the data set, per class: "
          + ", ".join(f"{c} {per.get(c, 0)}" for c in names))
    return out


def _strokes(item) -> int | None:
    """Pen-down strokes: curves joined into one stroke (``meta["stroke_ids"]``) count once; None for a raster."""
    if isinstance(item, np.ndarray):
        return None
    if isinstance(item, BezierSketch):
        ids = item.meta.get("stroke_ids")
        return len(set(ids)) if ids is not None else item.num_curves
    return item.num_strokes


def _judge_for(train: list[Sketch], names: list[str], cache: Path | None, args) -> SketchJudge:
    if cache is not None and (cache / "judge.json").is_file():
        judge = SketchJudge.load(cache)
        if list(judge.config.class_names) == names and judge.config.size == args.size:
            print(f"judge: loaded from {cache}")
            return judge
    t0 = time.time()
    x = args.imager(args.items(train))
    y = np.array([names.index(str(s.label)) for s in train])
    judge = train_judge(x, y, class_names=names, epochs=args.judge_epochs, seed=args.seed)
    print(f"judge: trained on {len(train)} drawings in {time.time() - t0:.0f} s")
    if cache is not None:
        judge.save(cache)
    return judge


def score(name: str, items: list, intended: list[int] | None, judge: SketchJudge, ref_feats: np.ndarray,
          ref_images: np.ndarray, args) -> dict:
    """All metrics of one row (see the module docstring)."""
    images = args.imager(items)
    feats = judge.features(images)
    probs = judge.predict_proba(images)
    pred, pmax = probs.argmax(1), probs.max(1)
    row: dict = {"row": name, "n": len(items)}
    if intended is not None:
        hit = pred == np.asarray(intended)
        row["acc"] = float(hit.mean())
        row["conf"] = float((hit & (pmax >= 0.9)).mean())
        per = {}
        for c in sorted(set(intended)):
            m = np.asarray(intended) == c
            per[judge.config.class_names[c] if judge.config.class_names else str(c)] = float(hit[m].mean())
        row["acc_per_class"] = per
    else:
        row["conf"] = float((pmax >= 0.9).mean())
    row["H"] = class_entropy(probs)
    row["FD"] = frechet_distance(feats, ref_feats)
    row["nn_train"] = float(np.median(nearest_distances(feats, args.train_feats)))
    row["prec"], row["rec"] = precision_recall(ref_feats, feats, k=3)
    row["C2ST"] = classifier_two_sample_test(images, ref_images, seed=args.seed, epochs=args.c2st_epochs)
    counts = [c for c in (_strokes(s) for s in items) if c is not None]
    row["strokes"] = float(np.mean(counts)) if counts else float("nan")
    row["stroke_hist"] = dict(sorted(Counter(counts).items()))
    doubled = [d for d in (doubled_share(s) for s in items if not isinstance(s, np.ndarray)) if d is not None]
    row["doubled"] = float(np.mean(doubled)) if doubled else float("nan")
    return row


def _sample(model, n: int, t: float, names: list[str], seed: int, **kw) -> tuple[list, list[int] | None]:
    g = torch.Generator().manual_seed(seed)
    labels = list(getattr(model, "labels", ()) or ())
    if labels:
        per = int(np.ceil(n / len(labels)))
        intended = [i for i in range(len(labels)) for _ in range(per)][:n]
        items = []
        for i in range(len(labels)):
            k = intended.count(i)
            if k:  # a small --n leaves the last classes without samples
                items += model.sample(k, generator=g, temperature=t, label=labels[i], **kw)
        return items, [names.index(labels[i]) for i in intended]
    return model.sample(n, generator=g, temperature=t), None


def _fits(model, sketches: list[Sketch]) -> list[BezierSketch]:
    """The drawings as the model's own stroke fits (what a perfect generator of its tokens could draw)."""
    return [model.embed_strokes(s, degree=model.config.max_degree) for s in sketches]


def _smoothed(sketch: Sketch, window: int = 7) -> Sketch:
    """The sketch with every stroke resampled to 1 % of its box and averaged over ``window`` points
    (ends kept): pixel-grid staircases (MNIST pen strokes) become smooth curves."""
    from sketchkit.geometry.polyline import resample

    pts = sketch.points()
    side = float(np.max(pts.max(0) - pts.min(0))) or 1.0
    out = []
    for s in sketch.strokes:
        if len(s) < 3:
            out.append(np.asarray(s, float))
            continue
        r = resample(s, spacing=0.01 * side)
        pad = np.concatenate([np.repeat(r[:1], window // 2, 0), r, np.repeat(r[-1:], window // 2, 0)])
        kernel = np.ones(window) / window
        out.append(np.stack([np.convolve(pad[:, k], kernel, mode="valid") for k in range(2)], 1))
    return Sketch(out, label=sketch.label)


def _jsonable(v):
    """Paths (also in lists) as strings, for the JSON's settings."""
    if isinstance(v, Path):
        return str(v)
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    return v


def _fmt_row(r: dict) -> str:
    acc = f"{r['acc']:.3f}" if "acc" in r else "  -  "
    return (f"| {r['row']} | {acc} | {r['conf']:.3f} | {r['H']:.2f} | {r['FD']:.1f} | {r['prec']:.3f} | "
            f"{r['rec']:.3f} | {r['C2ST']:.3f} | {r['strokes']:.2f} | {r.get('doubled', float('nan')):.3f} | "
            f"{r.get('nn_train', float('nan')):.2f} |")


def _label_checks(model, held: list, names: list[str], judge, args, refine: dict) -> dict:
    """For a conditional model, how much its reconstructions owe to the label it is given.

    ``judge_acc_wrong_label``: each held-out item reconstructed under a wrong class (a seeded random
    other one); the share the judge still reads as the item's own class (a model that draws the
    input scores near ``judge_acc``; one that draws the label scores near 0).
    ``judge_acc_unlabelled``: reconstructed with no label, for a model trained to read unlabelled
    input (``unknown_class``). Empty for unconditional models.
    """
    if not getattr(model, "labels", ()):
        return {}
    truth = np.array([names.index(str(s.label)) for s in held])
    model_ids = [model.class_index(names[t]) for t in truth]
    shift = np.random.default_rng(args.seed + 1).integers(1, len(model.labels), len(held))
    wrong = [dataclasses.replace(s, label=model.labels[(i + k) % len(model.labels)]) for s, i, k in zip(held, model_ids, shift)]
    inputs = {"judge_acc_wrong_label": wrong}
    if getattr(model, "unknown_class", None) is not None:
        inputs["judge_acc_unlabelled"] = [dataclasses.replace(s, label=None) for s in held]
    return {key: float((judge.predict_proba(args.imager(model.reconstruct(items, **refine))).argmax(1) == truth).mean())
            for key, items in inputs.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=SPG, help="labelled data (a folder or file)")
    ap.add_argument("--model", action="append", default=None, help="model name or directory (repeatable)")
    ap.add_argument("--temperatures", type=float, nargs="+", default=[0.2, 0.4, 0.6])
    ap.add_argument("--n", type=int, default=1000, help="samples per row")
    ap.add_argument("--size", type=int, default=32, help="raster side in pixels")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--judge-epochs", type=int, default=6)
    ap.add_argument("--c2st-epochs", type=int, default=6)
    ap.add_argument("--judge-cache", type=Path, default=None, help="reuse / store the trained judge here")
    ap.add_argument("--test-data", type=Path, nargs="+", default=None, metavar="PATH",
                    help="score against these labelled drawings instead of the test split (stroke data: drawings "
                         "from outside --data; any whose key_id is in --data are dropped, labels match class "
                         "names with spaces as underscores, other classes are skipped)")
    ap.add_argument("--reconstruct", type=int, default=300, help="held-out drawings to reconstruct (0: skip)")
    ap.add_argument("--min-class-posterior", type=float, default=0.0,
                    help="class-conditional decoder-only models: redraw samples the model itself doubts")
    ap.add_argument("--latent-temperature", type=float, default=None,
                    help="BézierSketch VAE: scale of the latent draw (default: the model's own default)")
    ap.add_argument("--component-temperature", type=float, default=None,
                    help="BézierSketch: temperature of the mixture-component choice (default: --temperatures)")
    ap.add_argument("--best-of", type=int, default=1,
                    help="BézierSketch with a sample critic: keep the critic's best of this many draws per sample")
    ap.add_argument("--max-overdraw", type=float, default=None,
                    help="BézierSketch: redraw a curve lying more than this share on other strokes (see sample())")
    ap.add_argument("--out", type=Path, default=Path("bench_quality.json"))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--refine-steps", type=int, default=0,
                    help="reconstructions: gradient steps refining each code / curve set (models that support it)")
    ap.add_argument("--cloud", choices=("centreline", "ink"), default="centreline",
                    help="raster data: the point clouds models reconstruct from")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    models = args.model or ["bezier"]

    t_start = time.time()
    probe = sketchkit.data.read_all(args.data, limit=1)
    raster = bool(probe) and probe[0].is_point_cloud  # raster readers yield point clouds
    data = [s for s in sketchkit.data.read_all(args.data, **({"cloud": args.cloud} if raster else {}))
            if s.num_points and s.label is not None]
    if raster:  # judge the rasters themselves; models read centreline (or ink) clouds of them
        from sketchkit.data.rasters import read_images

        if not args.data.is_file():
            raise SystemExit(f"{args.data}: raster data is judged from one images file (e.g. kmnist-test-imgs.npz)")
        pixels = {i: img for i, (img, _) in enumerate(read_images(args.data))}
        args.items = lambda sketches: [pixels[s.meta["index"]] for s in sketches]
        args.imager = lambda items: centreline_images(items, size=args.size)
    else:
        data = [s for s in data if s.num_strokes]
        args.items = list
        args.imager = lambda items: rasterize_batch(items, size=args.size)
    splits = split_sketches(data)
    names = sorted({str(s.label) for s in splits["train"]})
    print(f"data: {args.data}: train {len(splits['train'])}, valid {len(splits['valid'])}, "
          f"test {len(splits['test'])}, {len(names)} classes")
    judge = _judge_for(splits["train"], names, args.judge_cache, args)
    test, valid = splits["test"], splits["valid"]
    if args.test_data:
        if raster:
            raise SystemExit("--test-data: only for stroke data (the raster sets are judged on their own test split)")
        test = external_test(args.test_data, names, {s.meta.get("key_id") for s in data} - {None})
    ref_images = args.imager(args.items(test))
    ref_feats = judge.features(ref_images)
    args.train_feats = judge.features(args.imager(args.items(splits["train"])))
    test_acc = float((judge.predict_proba(ref_images).argmax(1) == [names.index(str(s.label)) for s in test]).mean())
    ref_name = "--test-data" if args.test_data else "test split"
    print(f"judge held-out accuracy ({ref_name}): {test_acc:.3f}")

    rows = []
    rng = np.random.default_rng(args.seed)
    real = [valid[i] for i in np.sort(rng.permutation(len(valid))[: args.n])]  # every class, not the first files
    rows.append(score("real held-out (valid split)", args.items(real), [names.index(str(s.label)) for s in real],
                      judge, ref_feats, ref_images, args))
    loaded = {m: load_model(m) for m in models}  # each model read once
    first_bezier = next((m for m in models if getattr(loaded[m], "embed_strokes", None)), None)
    if raster:
        from sketchkit.vectorize import vectorize

        # light ink on dark -> dark on light; a few bold characters are more ink than a line drawing
        vec = [vectorize(255 - img, max_ink_fraction=1.0) for img in args.items(real)]
        rows.append(score("real, vectorised (sketchkit.vectorize)", vec, [names.index(str(s.label)) for s in real],
                          judge, ref_feats, ref_images, args))
    elif first_bezier is not None:
        fits = _fits(loaded[first_bezier], real)
        rows.append(score("real as degree-5 Bézier fits", fits, [names.index(str(s.label)) for s in real],
                          judge, ref_feats, ref_images, args))
    else:  # no curve model to fit with: smoothed strokes show what smooth outputs alone cost
        rows.append(score("real, strokes smoothed (7-point moving average)", [_smoothed(s) for s in real],
                          [names.index(str(s.label)) for s in real], judge, ref_feats, ref_images, args))
    scribbles = random_scribbles(args.n, rng)
    rows.append(score("random smooth Bézier scribbles", scribbles, [i % len(names) for i in range(args.n)],
                      judge, ref_feats, ref_images, args))
    recon: dict = {}
    for m in models:
        model = loaded[m]
        model.eval()
        for t in args.temperatures:
            t0 = time.time()
            kw = {"min_class_posterior": args.min_class_posterior} if args.min_class_posterior else {}
            tag = f" p>={args.min_class_posterior:g}" if args.min_class_posterior else ""
            if args.latent_temperature is not None:
                kw["latent_temperature"] = args.latent_temperature
                tag += f" Tz={args.latent_temperature:g}"
            if args.component_temperature is not None:
                kw["component_temperature"] = args.component_temperature
                tag += f" Tc={args.component_temperature:g}"
            if args.best_of > 1:
                kw["best_of"] = args.best_of
                tag += f" best-of-{args.best_of}"
            if args.max_overdraw is not None:
                kw["max_overdraw"] = args.max_overdraw
                tag += f" overdraw<={args.max_overdraw:g}"
            items, intended = _sample(model, args.n, t, names, args.seed, **kw)
            row = score(f"{m} T={t:g}{tag}", items, intended, judge, ref_feats, ref_images, args)
            row["sample_seconds"] = time.time() - t0
            rows.append(row)
            print(_fmt_row(row), flush=True)
        if args.reconstruct and hasattr(model, "reconstruct") and getattr(model.config, "latent_dim", 1):
            held = [test[i] for i in np.sort(np.random.default_rng(args.seed).permutation(len(test))[: args.reconstruct])]
            refine = {"refine_steps": args.refine_steps} if args.refine_steps else {}
            rec = model.reconstruct(held, **refine)
            imgs = args.imager(rec)
            acc = float((judge.predict_proba(imgs).argmax(1) == [names.index(str(s.label)) for s in held]).mean())
            takes_refine = "refine_steps" in inspect.signature(model.evaluate).parameters if hasattr(model, "evaluate") else False
            ev = model.evaluate(held, limit=None, **(refine if takes_refine else {})) if hasattr(model, "evaluate") else {}
            recon[m] = {"n": len(held), "refine_steps": args.refine_steps, "judge_acc": acc,
                        **_label_checks(model, held, names, judge, args, refine),
                        **{k: float(v) for k, v in ev.items()}}
            print(f"reconstruction {m}: {recon[m]}")

    result = {"data": str(args.data), "classes": names, "judge_test_accuracy": test_acc,
              "test_stroke_hist": {} if raster else dict(sorted(Counter(_strokes(s) for s in test).items())),
              "test_strokes_mean": float("nan") if raster else float(np.mean([_strokes(s) for s in test])),
              "rows": rows, "reconstruction": recon, "seconds": time.time() - t_start,
              "settings": {k: _jsonable(v) for k, v in vars(args).items()
                           if not callable(v) and k != "train_feats"}}
    args.out.write_text(json.dumps(result, indent=2))
    strokes = "" if raster else f"; test drawings: {result['test_strokes_mean']:.2f} strokes on average"
    print(f"\njudge held-out accuracy ({ref_name}) {test_acc:.3f}{strokes}")
    print("| row | acc | conf>=0.9 | H (bits) | FD | prec | rec | C2ST | strokes | doubled | NN-train |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(_fmt_row(r))
    print(f"\nwrote {args.out} ({time.time() - t_start:.0f} s)")


if __name__ == "__main__":
    main()
