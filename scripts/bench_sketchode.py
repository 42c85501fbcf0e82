"""Benchmark SketchODE: training throughput, function evaluations per forward pass, held-out Chamfer.

For each solver (``rk4`` fixed step, ``dopri5`` adaptive) this measures, on the chosen device:

* training throughput in sequences/s (collate + forward + backward + Adam step, after warm-up),
* function evaluations (NFE) of the decoder dynamics and of the CDE encoder vector field in one
  forward pass, counted by the counters in the fields,
* reconstruction Chamfer (normalised units) of a trained model on held-out VectorMNIST digits
  (4500..4999 of the shared npz, never trained on by the shipped model).

Usage::

    python scripts/bench_sketchode.py                       # CPU, 1 thread, shipped model
    python scripts/bench_sketchode.py --device cuda --threads 16   # same on a GPU, when one exists

Prints one JSON object per measurement, then a summary table.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "vectormnist" / "mnist-stroke-sequences-train-first5000.npz"


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def read_digits(path: Path) -> list:
    try:
        from sketchkit.data import read
    except ImportError:
        from sketchkit.data.vectormnist import read_vectormnist_npz as read
    return list(read(path))


def throughput(model, sketches, *, batch_size: int, steps: int, device: torch.device) -> dict:
    """Train steps on ``sketches``; returns seq/s and NFE per forward (decoder, encoder)."""
    model = model.to(device).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    gen = torch.Generator().manual_seed(0)
    times, nfe_dec, nfe_enc = [], [], []
    for step in range(steps + 1):
        idx = torch.randint(0, len(sketches), (batch_size,), generator=gen).tolist()
        _sync(device)
        t0 = time.perf_counter()
        batch = model.collate([sketches[i] for i in idx], generator=gen)
        batch = {k: v.to(device) for k, v in batch.items()}
        model.field.nfe = 0
        enc_field = getattr(model.encoder, "field", None)
        if enc_field is not None:
            enc_field.nfe = 0
        out = model.loss(batch, step=step)
        nfe_dec.append(model.field.nfe)
        nfe_enc.append(enc_field.nfe if enc_field is not None else 0)
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        _sync(device)
        if step > 0:  # step 0 is warm-up
            times.append(time.perf_counter() - t0)
    return {
        "seq_per_s": batch_size * len(times) / sum(times),
        "s_per_step": sum(times) / len(times),
        "nfe_decoder_forward": sum(nfe_dec[1:]) / steps,
        "nfe_encoder_forward": sum(nfe_enc[1:]) / steps,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="sketchode", help="model dir or shipped name (for config and Chamfer)")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=5, help="timed training steps per solver")
    parser.add_argument("--held-out", type=int, default=500, help="held-out digits (from index 4500) for Chamfer")
    parser.add_argument("--solvers", default="rk4,dopri5")
    parser.add_argument("--default-config", action="store_true",
                        help="time the default SketchODEConfig (n_points 100, random weights) instead; no Chamfer")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    from sketchkit.models.base import load_model
    from sketchkit.models.sketch_ode import SketchODEModel

    device = torch.device(args.device)
    digits = read_digits(args.data)
    train_set, held_out = digits[:4500], digits[4500:4500 + args.held_out]
    from sketchkit.models.sketch_ode import SketchODEConfig

    torch.manual_seed(0)
    trained = SketchODEModel(SketchODEConfig()) if args.default_config else load_model(args.model)
    results = []
    for solver in args.solvers.split(","):
        config = dataclasses.replace(trained.config, solver=solver)
        fresh = SketchODEModel(config)
        fresh.load_state_dict(trained.state_dict())  # trained weights: realistic dopri5 step counts
        row = {"device": str(device), "solver": solver, "batch_size": args.batch_size, "n_points": config.n_points,
               "threads": args.threads}
        row.update(throughput(fresh, train_set, batch_size=args.batch_size, steps=args.steps, device=device))
        fresh.load_state_dict(trained.state_dict())  # undo the timed training steps before evaluating
        fresh.eval()
        _sync(device)
        t0 = time.perf_counter()
        metrics = fresh.evaluate(held_out)
        _sync(device)
        row["eval_seq_per_s"] = len(held_out) / (time.perf_counter() - t0)
        if not args.default_config:  # an untrained model's Chamfer means nothing
            row.update({f"held_out_{k}": v for k, v in metrics.items()})
        print(json.dumps(row), flush=True)
        results.append(row)
    print(f"\n{'device':8} {'solver':7} {'train seq/s':>11} {'NFE dec':>8} {'NFE enc':>8} {'chamfer':>8} {'eval seq/s':>10}")
    for r in results:
        print(f"{r['device']:8} {r['solver']:7} {r['seq_per_s']:11.1f} {r['nfe_decoder_forward']:8.0f} "
              f"{r['nfe_encoder_forward']:8.0f} {r.get('held_out_chamfer', float('nan')):8.4f} {r['eval_seq_per_s']:10.1f}")


if __name__ == "__main__":
    main()
