"""Benchmark the BézierSketch stroke embedder against the least-squares Bézier fit.

On held-out strokes, both methods fit the same points (each stroke translated to start at the
origin and divided by its largest point norm, long strokes resampled to the embedder's
``max_stroke_points``) with curves of the same degree. Reported per data set, as a table over
the embedder's inference-time refinement rounds (0 = the raw network; 1 = least-squares control
points for the predicted t; each further round = one batched Levenberg-Marquardt step on control
points and t, see ``BezierSketchModel._refine_chunk``):

* ``ratio``: mean MSE(embedder) / mean MSE(reference) (MSE = mean squared point distance per
  stroke, in those stroke units) against two references, both
  ``sketchkit.geometry.bezier.fit_least_squares`` called once per stroke:
  ``lsq5`` (its default, chord-length t + 5 refinement steps; not converged) and ``lsq50``
  (50 steps, close to the converged optimum);
* ``strokes/s`` of the embedder (batched on CPU, network + refinement) and its speed-up over
  each reference; the references' own strokes/s are printed above the table, with the batched
  numpy ``fit_least_squares_batch`` (5 steps, grouped by stroke length) for context.

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

STEPS = (0, 1, 2, 3, 4, 5, 6, 8)  # refinement rounds measured (0 = the raw network)
REF_STEPS = {"lsq5": 5, "lsq50": 50}  # reference least-squares fits: default and (nearly) converged
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


def bench(model, strokes: list[np.ndarray], *, batch: int = 1024, repeats: int = 3) -> dict:
    degree = model.config.max_degree
    pts, lengths, _, _ = model._prepare_strokes(strokes)
    pts_t, len_t = torch.from_numpy(pts), torch.from_numpy(lengths)
    result: dict = {"strokes": len(strokes), "degree": degree, "mean_points": float(lengths.mean())}

    # References: least squares per stroke (what a user would call), on the same prepared points.
    prepared = [pts[i, : lengths[i]].astype(np.float64) for i in range(len(strokes))]
    ref_mse = {}
    for name, k in REF_STEPS.items():
        sec, fits = _time(lambda: [fit_least_squares(p, degree, refine_steps=k) for p in prepared])
        ref_mse[name] = np.array([f.mse for f in fits])
        result[name] = {"refine_steps": k, "mse": float(ref_mse[name].mean()), "strokes_per_s": len(strokes) / sec,
                        "seconds": sec}

    # Context: the batched numpy fit (5 steps), grouped by stroke length.
    def batched_lsq():
        mse = np.zeros(len(strokes))
        for n in np.unique(lengths):
            rows = np.flatnonzero(lengths == n)
            fit = fit_least_squares_batch(pts[rows, :n].astype(np.float64), degree, refine_steps=REF_STEPS["lsq5"])
            mse[rows] = fit.mse
        return mse

    sec_b, mse_b = _time(batched_lsq)
    result["lsq5_batched"] = {"mse": float(mse_b.mean()), "strokes_per_s": len(strokes) / sec_b, "seconds": sec_b}

    for steps in STEPS:
        def run():
            out = []
            for s in range(0, len(strokes), batch):
                emb = model.embed_batch(pts_t[s:s + batch], len_t[s:s + batch], refine_steps=steps, degrees=[degree])
                out.append(emb.mse[degree])
            return torch.cat(out).double().numpy()

        sec_e, mse_e = _time(run, repeats=repeats)
        row = {"mse": float(mse_e.mean()), "strokes_per_s": len(strokes) / sec_e}
        for name in REF_STEPS:
            ref = ref_mse[name]
            row[f"ratio_{name}"] = float(mse_e.mean() / max(ref.mean(), 1e-30))
            row[f"median_stroke_ratio_{name}"] = float(np.median((mse_e + 1e-12) / (ref + 1e-12)))
            row[f"speedup_vs_{name}"] = row["strokes_per_s"] / result[name]["strokes_per_s"]
        result[f"embedder_refine{steps}"] = row
    return result


def print_table(spec: str, r: dict) -> None:
    print(f"\n{spec}: {r['strokes']} strokes, {r['mean_points']:.1f} points/stroke (mean), degree {r['degree']}")
    for name in REF_STEPS:
        print(f"  {name:6s} fit_least_squares, {r[name]['refine_steps']:2d} steps, per stroke: mse {r[name]['mse']:.3e}"
              f"  {r[name]['strokes_per_s']:7.0f} strokes/s")
    print(f"  lsq5 batched numpy (context):              mse {r['lsq5_batched']['mse']:.3e}"
          f"  {r['lsq5_batched']['strokes_per_s']:7.0f} strokes/s")
    print("  | refine | mse | ratio vs lsq5 | ratio vs lsq50 | strokes/s | x lsq5 | x lsq50 |")
    print("  |---:|---:|---:|---:|---:|---:|---:|")
    for steps in STEPS:
        e = r[f"embedder_refine{steps}"]
        print(f"  | {steps} | {e['mse']:.3e} | {e['ratio_lsq5']:.3f} | {e['ratio_lsq50']:.3f} | "
              f"{e['strokes_per_s']:.0f} | {e['speedup_vs_lsq5']:.1f} | {e['speedup_vs_lsq50']:.1f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="bezier", help="shipped model name, model dir or run dir")
    ap.add_argument("--data", nargs="*", default=[
        f"{SHARED}/sketchrnn/omniglot.npz:test",  # in-domain held out (the shipped model trains on 'train')
        f"{SHARED}/quickdraw/simplified",  # out of domain: never seen in training
        f"{SHARED}/quickdraw/raw",
    ], help="PATH[:SPLIT] (npz split or ndjson file/folder)")
    ap.add_argument("--max-strokes", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=3, help="embedder timings: best of this many runs")
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = ap.parse_args()

    torch.set_num_threads(1)
    model = load_model(args.model).eval()
    report = {"model": str(args.model), "threads": 1, "torch": torch.__version__, "results": {}}
    for spec in args.data:
        strokes = _strokes(spec, args.max_strokes)
        r = bench(model, strokes, repeats=args.repeats)
        report["results"][spec] = r
        print_table(spec, r)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
