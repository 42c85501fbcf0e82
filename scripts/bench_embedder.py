"""Benchmark the BézierSketch stroke embedder against the least-squares Bézier fit.

On held-out strokes, both methods fit the same points (each stroke translated to start at the
origin and divided by its largest point norm, long strokes resampled to the embedder's
``max_stroke_points``) with curves of the same degree. Reported per data set:

* ``ratio``: mean MSE(embedder) / mean MSE(least squares) (MSE = mean squared point distance
  per stroke, in those stroke units), for the raw network and for 1..8 refinement rounds
  (closed-form control points given the predicted t, then joint Gauss-Newton steps on the
  control points and t; torch, batched);
* ``strokes/s`` of the embedder (batched on CPU) and of
  ``sketchkit.geometry.bezier.fit_least_squares`` (chord-length t + 5 refinement steps, one call
  per stroke, the reference), plus the batched numpy ``fit_least_squares_batch`` grouped by
  stroke length, for context.

Usage::

    python scripts/bench_embedder.py                      # shipped model, default data sets
    python scripts/bench_embedder.py --model RUN_DIR --max-strokes 2000 --json out.json

Threads: torch and numpy are limited to one thread (set before importing numpy) so the two
methods are compared on equal terms.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

import sketchkit.data  # noqa: E402
from sketchkit.geometry.bezier import fit_least_squares, fit_least_squares_batch  # noqa: E402
from sketchkit.models.base import load_model  # noqa: E402

STEPS = (0, 1, 2, 3, 5, 8)  # refinement rounds measured (0 = the raw network)
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def _strokes(spec: str, max_strokes: int) -> list[np.ndarray]:
    """``path[:split]`` -> up to ``max_strokes`` strokes with at least 2 points, in file order."""
    path, _, split = spec.partition(":")
    paths = sorted(Path(path).glob("*.ndjson")) if Path(path).is_dir() else [Path(path)]
    out: list[np.ndarray] = []
    for p in paths:
        for sk in sketchkit.data.read(p, split=split or None):
            out.extend(s for s in sk.strokes if s.shape[0] >= 2)
    # Spread the selection over every file and category instead of taking the first ones.
    if len(out) > max_strokes:
        idx = np.linspace(0, len(out) - 1, max_strokes).round().astype(int)
        out = [out[i] for i in idx]
    return out


def _time(fn, repeats: int = 1):
    best, result = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def bench(model, strokes: list[np.ndarray], *, batch: int = 1024, lsq_steps: int = 5) -> dict:
    degree = model.config.max_degree
    pts, lengths, _, _ = model._prepare_strokes(strokes)
    pts_t, len_t = torch.from_numpy(pts), torch.from_numpy(lengths)
    result: dict = {"strokes": len(strokes), "degree": degree, "mean_points": float(lengths.mean())}

    # Reference: least squares per stroke (what a user would call), on the same prepared points.
    prepared = [pts[i, : lengths[i]].astype(np.float64) for i in range(len(strokes))]
    sec, fits = _time(lambda: [fit_least_squares(p, degree, refine_steps=lsq_steps) for p in prepared])
    lsq_mse = np.array([f.mse for f in fits])
    result["lsq"] = {"mse": float(lsq_mse.mean()), "strokes_per_s": len(strokes) / sec, "seconds": sec}

    # Context: the batched numpy fit, grouped by stroke length.
    def batched_lsq():
        mse = np.zeros(len(strokes))
        for n in np.unique(lengths):
            rows = np.flatnonzero(lengths == n)
            fit = fit_least_squares_batch(pts[rows, :n].astype(np.float64), degree, refine_steps=lsq_steps)
            mse[rows] = fit.mse
        return mse

    sec_b, mse_b = _time(batched_lsq)
    result["lsq_batched"] = {"mse": float(mse_b.mean()), "strokes_per_s": len(strokes) / sec_b, "seconds": sec_b}

    for steps in STEPS:
        def run():
            out = []
            for s in range(0, len(strokes), batch):
                emb = model.embed_batch(pts_t[s:s + batch], len_t[s:s + batch], refine_steps=steps, degrees=[degree])
                out.append(emb.mse[degree])
            return torch.cat(out).double().numpy()

        sec_e, mse_e = _time(run, repeats=2)
        result[f"embedder_refine{steps}"] = {
            "mse": float(mse_e.mean()),
            "ratio": float(mse_e.mean() / max(lsq_mse.mean(), 1e-30)),
            "median_stroke_ratio": float(np.median((mse_e + 1e-12) / (lsq_mse + 1e-12))),
            "strokes_per_s": len(strokes) / sec_e,
            "speedup_vs_lsq": (len(strokes) / sec_e) / result["lsq"]["strokes_per_s"],
            "speedup_vs_lsq_batched": (len(strokes) / sec_e) / result["lsq_batched"]["strokes_per_s"],
        }
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="bezier", help="shipped model name, model dir or run dir")
    ap.add_argument("--data", nargs="*", default=[
        f"{SHARED}/sketchrnn/omniglot.npz:test",  # in-domain held out (the shipped model trains on 'train')
        f"{SHARED}/quickdraw/simplified",  # out of domain: never seen in training
        f"{SHARED}/quickdraw/raw",
    ], help="PATH[:SPLIT] (npz split or ndjson file/folder)")
    ap.add_argument("--max-strokes", type=int, default=2000)
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = ap.parse_args()

    torch.set_num_threads(1)
    model = load_model(args.model).eval()
    report = {"model": str(args.model), "threads": 1, "torch": torch.__version__, "results": {}}
    for spec in args.data:
        strokes = _strokes(spec, args.max_strokes)
        r = bench(model, strokes)
        report["results"][spec] = r
        print(f"\n{spec}: {r['strokes']} strokes, {r['mean_points']:.1f} points/stroke (mean), degree {r['degree']}")
        print(f"  least squares (per stroke)   mse {r['lsq']['mse']:.3e}  {r['lsq']['strokes_per_s']:9.0f} strokes/s")
        print(f"  least squares (numpy batch)  mse {r['lsq_batched']['mse']:.3e}  "
              f"{r['lsq_batched']['strokes_per_s']:9.0f} strokes/s")
        for steps in STEPS:
            e = r[f"embedder_refine{steps}"]
            print(f"  embedder, refine {steps}          mse {e['mse']:.3e}  {e['strokes_per_s']:9.0f} strokes/s  "
                  f"ratio {e['ratio']:.3f} (median/stroke {e['median_stroke_ratio']:.3f})  "
                  f"x{e['speedup_vs_lsq']:.0f} vs per-stroke LSQ, x{e['speedup_vs_lsq_batched']:.1f} vs batched")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
