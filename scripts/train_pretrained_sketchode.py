"""Train the shipped SketchODE model on VectorMNIST and write sketchkit/pretrained/sketchode/.

Data: the MNIST pen-stroke sequences (E. D. de Jong, CC BY-SA 3.0) in
``../shared/data/vectormnist/mnist-stroke-sequences-train-first5000.npz``, split by
:func:`sketchkit.data.splits.split_sketches` (hash of each digit's key: ~80 % train, 10 % valid
for the validation curve and the reported Chamfer, 10 % test, which the digit judge of
``scripts/bench_quality.py`` scores against). The model is class-conditional and, after training,
fits a Gaussian mixture per digit (``--prior-components``) to the training codes to sample from. Training goes through the
shared engine :func:`sketchkit.train.train`; the *last* checkpoint is shipped (the held-out
digits are not used to pick it), and MODEL_CARD.md is written from the measured numbers.

Usage::

    python scripts/train_pretrained_sketchode.py [--steps 6000] [--solver dopri5|rk4] [--n-points 64]
        [--kl-weight 2e-3] [--kl-anneal-steps 600] [--val-every 500] [--run-dir runs/sketchode_pretrained]
        [--init-from DIR] [--prior-components 16] [--out DIR]
        [--dynamics periodic_mlp|fourier|legendre] [--n-basis 8] [--frequency 3.0] [--learn-frequency]
        [--augment-level 0.2] [--augment-prob 0.5] [--chamfer-weight 1.0]
    python scripts/train_pretrained_sketchode.py ... --run-dir RUN --resume      # the same command, after a stop
    python scripts/train_pretrained_sketchode.py --refit-prior-from DIR --prior-components 16 --out DIR2

The shipped weights: ``--steps 18000 --kl-weight 1e-4 --chamfer-weight 1.0 --val-every 1000
--run-dir RUN --out sketchkit/pretrained/sketchode``, one run with the time-free shape term from the
first step (the 16-Gaussian prior is fitted at the end; see the model card for times and numbers).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import torch
from _fitted_prior_args import add_prior_arguments, refit_prior

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "vectormnist" / "mnist-stroke-sequences-train-first5000.npz"
OUT = REPO / "sketchkit" / "pretrained" / "sketchode"


def read_digits(path: Path) -> list:
    """All sketches of the VectorMNIST npz, through the shared reader when it is available."""
    try:
        from sketchkit.data import read
    except ImportError:  # the registry is not importable yet: use the format's adapter directly
        from sketchkit.data.vectormnist import read_vectormnist_npz as read
    return list(read(path))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--steps", type=int, default=6000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--run-dir", type=Path, default=REPO / "runs" / "sketchode_pretrained")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--solver", choices=("rk4", "dopri5"), default="dopri5",
                        help="decoder ODE solver (dopri5: adaptive, rtol 1e-3 / atol 1e-4)")
    parser.add_argument("--n-points", type=int, default=64, help="resampling resolution of each curve")
    parser.add_argument("--ode-dim", type=int, default=32, help="decoder ODE state size (position part)")
    parser.add_argument("--dynamics-hidden", type=int, default=128, help="width of the decoder's dynamics MLP")
    from sketchkit.models.ode_parts import DYNAMICS

    parser.add_argument("--dynamics", choices=sorted(DYNAMICS), default="periodic_mlp",
                        help="decoder dynamics family")
    parser.add_argument("--frequency", type=float, default=3.0, help="periodic_mlp: the cos activations' w")
    parser.add_argument("--learn-frequency", action="store_true", help="periodic_mlp: learn w")
    parser.add_argument("--n-basis", type=int, default=8, help="fourier / legendre: basis functions of time")
    parser.add_argument("--augment-level", type=float, default=0.2,
                        help="continuous-time augmentation: Perlin noise amplitude (normalised units; 0 = off)")
    parser.add_argument("--augment-prob", type=float, default=0.5, help="fraction of training curves augmented")
    parser.add_argument("--kl-weight", type=float, default=2e-3)
    parser.add_argument("--chamfer-weight", type=float, default=0.0,
                        help="weight of the time-free shape term (symmetric Chamfer of the decoded points)")
    parser.add_argument("--kl-anneal-steps", type=int, default=600)
    parser.add_argument("--warmup-steps", type=int, default=100)
    parser.add_argument("--min-lr-ratio", type=float, default=0.05, help="cosine schedule: final lr / peak lr")
    parser.add_argument("--val-every", type=int, default=500)
    parser.add_argument("--init-from", type=Path, default=None,
                        help="start from this model/checkpoint dir's weights (same model settings): a warm restart")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in --run-dir from its last checkpoint (same settings; --steps may grow)")
    parser.add_argument("--unconditional", action="store_true",
                        help="ignore the digit labels (default: condition on them; sample(label=...))")
    add_prior_arguments(parser, group="digit")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    from sketchkit.models.base import load_model
    from sketchkit.models.sketch_ode import SketchODEConfig, SketchODEModel
    from sketchkit.train import TrainConfig, read_metrics, train

    from sketchkit.data.splits import split_sketches

    # the split every judge script uses (hash of each digit's key): ~80 % train, 10 % valid, 10 % test
    split = split_sketches(read_digits(args.data))
    train_set, held_out = split["train"], split["valid"]
    if args.refit_prior_from is not None:
        refit_prior(args.refit_prior_from, args.out, args.prior_components, train_set, group="digit")
        return
    config = SketchODEConfig(n_points=args.n_points, ode_dim=args.ode_dim, dynamics_hidden=args.dynamics_hidden,
                             dynamics=args.dynamics, frequency=args.frequency, learn_frequency=args.learn_frequency,
                             n_basis=args.n_basis, augment_level=args.augment_level, augment_prob=args.augment_prob,
                             kl_weight=args.kl_weight, kl_anneal_steps=args.kl_anneal_steps, solver=args.solver,
                             chamfer_weight=args.chamfer_weight,
                             conditional=not args.unconditional, fitted_prior=not args.standard_prior,
                             prior_components=args.prior_components)
    config = SketchODEModel.config_for_data(config, train_set)  # digit labels -> a class-conditional model
    torch.manual_seed(0)
    model = SketchODEModel(config)
    if args.init_from is not None:
        donor = load_model(args.init_from)
        model.load_state_dict(donor.state_dict())
    tconf = TrainConfig(steps=args.steps, batch_size=args.batch_size, lr=args.lr, schedule="cosine",
                        warmup_steps=args.warmup_steps, min_lr_ratio=args.min_lr_ratio, grad_clip=1.0,
                        val_every=args.val_every, val_batches=8, checkpoint_every=args.val_every, num_samples=16, sample_temperature=0.8, seed=0, device="cpu",
                        log_every=20, quiet=False)
    start = time.time()
    train(model, train_set, val_sketches=held_out, config=tconf, run_dir=args.run_dir, resume=args.resume)
    minutes = (time.time() - start) / 60

    shipped = load_model(args.run_dir / "last")
    shipped.save_pretrained(args.out)
    metrics = shipped.evaluate(held_out)
    rows = read_metrics(args.run_dir)
    train_rows = [r for r in rows if r.get("type") == "train"]
    val_rows = [r for r in rows if r.get("type") == "val"]
    summary = {
        "train_minutes": round(minutes, 1),
        "steps": args.steps,
        "first_train": {k: round(train_rows[0][k], 4) for k in ("loss", "recon", "pen_nll", "kl")},
        "last_train": {k: round(train_rows[-1][k], 4) for k in ("loss", "recon", "pen_nll", "kl")},
        "last_val": {k: round(v, 4) for k, v in val_rows[-1].items() if k.startswith("val_")} if val_rows else {},
        "held_out": {k: round(v, 4) for k, v in metrics.items()},
        "params": sum(p.numel() for p in shipped.parameters()),
        "weights_bytes": (args.out / "model.safetensors").stat().st_size,
    }
    summary["command"] = "python scripts/train_pretrained_sketchode.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    print(json.dumps(summary, indent=2))
    (args.out / "MODEL_CARD.md").write_text(model_card(config, tconf, summary))


def last_val_text(s: dict) -> str:
    v = s.get("last_val") or {}
    if not v:
        return "none"
    return (f"loss {v['val_loss']}, recon {v['val_recon']}, pen NLL {v['val_pen_nll']}, "
            f"KL {v['val_kl']}")


def dynamics_text(config) -> str:
    if config.dynamics == "periodic_mlp":
        return f"w = {config.frequency}" + (" (learned)" if config.learn_frequency else "")
    return f"{config.n_basis} basis functions of time"


def solver_text(config) -> str:
    if config.solver == "rk4":
        return "rk4 with one step per training sample spacing"
    return f"{config.solver} adaptive solver, rtol {config.rtol}, atol {config.atol}"


def model_card(config, tconf, s: dict) -> str:
    return f"""# SketchODE on VectorMNIST (de Jong MNIST pen-stroke sequences)

A small SketchODE (Das et al., *SketchODE: Learning neural sketch representation in continuous
time*, ICLR 2022) autoencoder with a VAE head: Neural CDE encoder over a natural cubic spline of
[x, y, pen, t], second-order Neural ODE decoder (`{config.dynamics}` dynamics, {dynamics_text(config)},
{solver_text(config)}), latent {config.latent_dim}.
Load with `sketchkit.models.load_model("sketchode")`.

## Data and license
Trained on the train split (`sketchkit.data.splits.split_sketches`) of
`mnist-stroke-sequences-train-first5000.npz`: the first 5000 MNIST
training digits as pen-stroke sequences by Edwin D. de Jong
(github.com/edwin-de-jong/mnist-digits-stroke-sequence-data), licensed **CC BY-SA 3.0**
(MNIST: LeCun, Cortes, Burges). These weights are derived from that data; share them under the
same terms with attribution. This is a substitute for the paper's VectorMNIST, which could not be
obtained. The valid and test splits are held out (never trained on; the shipped weights are the
last checkpoint, not one selected on them).

## Training
`{s['command']}` through `sketchkit.train.train`:
Adam, lr {tconf.lr} (warm-up {tconf.warmup_steps}, cosine to {tconf.lr * tconf.min_lr_ratio:g}), batch
{tconf.batch_size}, grad clip {tconf.grad_clip}, {s['steps']} steps, seed {tconf.seed}, 1 CPU thread:
{s['train_minutes']} min on a shared 2-core machine. Curves resampled to {config.n_points} points,
continuous-time augmentation (Perlin noise, level {config.augment_level}) on {config.augment_prob:.0%} of
the training curves, KL weight {config.kl_weight} annealed over {config.kl_anneal_steps} steps.
{s['params']} parameters, {s['weights_bytes'] / 1e6:.2f} MB of weights.

| | loss | recon (smooth-L1) | pen NLL | KL |
| --- | --- | --- | --- | --- |
| train, first logged line (mean of the first log_every steps) | {s['first_train']['loss']} | {s['first_train']['recon']} | {s['first_train']['pen_nll']} | {s['first_train']['kl']} |
| train, last logged line | {s['last_train']['loss']} | {s['last_train']['recon']} | {s['last_train']['pen_nll']} | {s['last_train']['kl']} |

Last validation (valid split, engine): {last_val_text(s)}.

## Held-out quality (valid split, normalised units: largest point norm = 1)
Reconstruction Chamfer {s['held_out']['chamfer']}, mean |x/y error| at equal times {s['held_out']['l1']},
pen-state accuracy {s['held_out']['pen_accuracy']} (`model.evaluate`).

## Limits
A small model trained for minutes on CPU on ~4000 digits; it is a demonstration of the family,
not a state-of-the-art digit model. Inputs must be ordered strokes (not point clouds).
`decode`, `sample`, `sample_around` and `interpolate` return normalised units (first point at
the origin, largest point norm 1); `reconstruct` maps back to each input's frame.
"""


if __name__ == "__main__":
    main()
