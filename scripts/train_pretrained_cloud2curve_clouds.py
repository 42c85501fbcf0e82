"""Train a Cloud2Curve generator from point clouds of rasters alone (no stroke data, no tracing).

Data: a labelled raster set, ``--data`` (default: ``../shared/data/kmnist/kmnist-test-imgs.npz``
with its labels file; also ``../shared/data/mnist/t10k-images-idx3-ubyte.gz``).
``sketchkit.data.read(..., cloud="centreline")`` turns every 28 x 28 image into a point cloud on
the skeleton of its ink (``--cloud ink``: on every ink pixel), labelled with its class. The
images are split by :func:`sketchkit.data.splits.split_sketches` (the split that
``scripts/bench_quality.py`` uses, so the judge's test characters are never trained on): train
for training, valid for the validation curve, test for the reported numbers. Licences: K-MNIST
(Clanuwat et al. 2018) CC BY-SA 4.0; MNIST (LeCun, Cortes, Burges) CC BY-SA 3.0; weights trained
on them follow the data's licence.

Model: ``Cloud2CurveConfig(sketch_loss="cloud")``: the sketch stage is trained only against the
clouds (Chamfer between the cloud and points on the drawn curves, expected-curve-count penalty,
KL; see :mod:`sketchkit.models.cloud2curve`). Defaults: a CNN on the cloud's occupancy grid
(``--encoder grid``), a slot decoder that emits all curves at once from spread-out starting
segments (``--decoder slots``), each slot drawn or not with 0/1 presences in the loss
(straight-through; ``--soft-presence`` for expected presences), class-conditional unless
``--unconditional`` (``--class-dropout P`` hides the class of a fraction P of the training
clouds, so the model also reconstructs unlabelled clouds), and a 16-component fitted prior per
class. ``--stroke-steps`` (default 0) also trains the stroke net used by ``sketchkit vectorize``
on centrelines traced through the clouds; ``--stroke-from DIR`` instead copies the stroke net of
a trained Cloud2Curve model (the sketch stage never changes it), as the shipped ``cloud2curve`` does.

Usage::

    python scripts/train_pretrained_cloud2curve_clouds.py --run-dir runs/c2k --steps 24000 --kl-weight 1e-5 \
        --max-strokes 12 --hidden 512                                  # the shipped K-MNIST model's run
    python scripts/train_pretrained_cloud2curve_clouds.py --run-dir runs/c2k --steps 24000 --resume
    python scripts/train_pretrained_cloud2curve_clouds.py --refit-prior-from runs/c2k/last \
        --prior-components 16 --out sketchkit/pretrained/cloud2curve_kmnist
    # the shipped digit model (see sketchkit/pretrained/cloud2curve/MODEL_CARD.md):
    python scripts/train_pretrained_cloud2curve_clouds.py --data ../shared/data/mnist/t10k-images-idx3-ubyte.gz \
        --run-dir runs/c2d --steps 24000 --kl-weight 1e-5 --max-strokes 8 --hidden 512 --class-dropout 0.2 \
        --stroke-from sketchkit/pretrained/cloud2curve
    # smoke run (minutes): --steps 300 --batch 32 --val-every 100

Prints the loss curve (every ``--log-every`` steps), held-out metrics (``model.evaluate`` on the
test split: cloud Chamfer terms, greedy reconstruction Chamfer in the bounding-box frame, curve
count) and writes ``samples.png`` (4 samples per class, one row per class) into the run folder.
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
DATA = REPO.parent / "shared" / "data" / "kmnist" / "kmnist-test-imgs.npz"


def data_source(path: Path) -> tuple[str, str]:
    """(name, licence) of a raster set, from its file name; the licence the weights follow."""
    name = path.name.lower()
    if "kmnist" in name:
        return "K-MNIST (Clanuwat et al. 2018)", "CC BY-SA 4.0"
    if "idx3" in name or "mnist" in name:
        return "MNIST (LeCun, Cortes, Burges)", "CC BY-SA 3.0"
    return path.name, "the data's own licence (see its source)"


def copy_stroke_net(model, source: Path) -> None:
    """Copy the stroke net (``sketchkit vectorize``'s stroke model) of the Cloud2Curve model in
    ``source`` into ``model``; the sketch stage never trains it."""
    from sketchkit.models.base import load_model
    from sketchkit.models.cloud2curve import Cloud2CurveModel

    donor = load_model(source)
    if not isinstance(donor, Cloud2CurveModel):
        raise SystemExit(f"--stroke-from {source}: a {donor.config.family} model, not cloud2curve")
    keys = ("max_degree", "stroke_width")
    if any(getattr(donor.config, k) != getattr(model.config, k) for k in keys):
        raise SystemExit(f"--stroke-from {source}: its stroke net has another shape ({', '.join(keys)} differ)")
    model.stroke_net.load_state_dict(donor.stroke_net.state_dict())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA, help="labelled raster images (K-MNIST npz, MNIST idx; labels file beside it)")
    ap.add_argument("--run-dir", type=Path, default=REPO / "runs" / "cloud2curve_kmnist")
    ap.add_argument("--out", type=Path, default=None, help="also write the last model (+ MODEL_CARD.md) here")
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--steps", type=int, default=6000, help="sketch-stage steps")
    ap.add_argument("--stroke-steps", type=int, default=0, help="stroke-stage steps (vectorize's stroke net)")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--latent-dim", type=int, default=32)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--max-strokes", type=int, default=8)
    ap.add_argument("--degree", type=int, default=3, help="degree of every decoded curve")
    ap.add_argument("--kl-weight", type=float, default=5e-4)
    ap.add_argument("--kl-anneal-steps", type=int, default=1000)
    ap.add_argument("--count-weight", type=float, default=1e-3, help="cost per expected curve (squared unit frame)")
    ap.add_argument("--ot-weight", type=float, default=0.0, help="weight of the mass term (0: Chamfer only)")
    ap.add_argument("--ot-kind", choices=("sinkhorn", "energy"), default="sinkhorn",
                    help="the mass term: Sinkhorn OT or energy distance (cheaper)")
    ap.add_argument("--unconditional", action="store_true")
    ap.add_argument("--class-dropout", type=float, default=0.0,
                    help="chance that a training cloud's class is hidden (the model then also reconstructs unlabelled clouds)")
    ap.add_argument("--stroke-from", type=Path, default=None,
                    help="copy the stroke net of this trained Cloud2Curve model (e.g. sketchkit/pretrained/cloud2curve)")
    ap.add_argument("--soft-presence", action="store_true",
                    help="expected Chamfer over soft curve presences (default: 0/1 presences, straight-through)")
    ap.add_argument("--encoder", choices=("grid", "pointnet"), default="grid",
                    help="CNN on the cloud's occupancy grid, or PointNet over its points")
    ap.add_argument("--decoder", choices=("slots", "gru"), default="slots",
                    help="all curves at once from spread-out starting slots, or one after another")
    ap.add_argument("--cloud", choices=("centreline", "ink"), default="centreline",
                    help="points on the ink's skeleton (thin, even clouds) or on every ink pixel")
    ap.add_argument("--val-every", type=int, default=500)
    ap.add_argument("--log-every", type=int, default=50)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    add_prior_arguments(ap, group="class")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    import sketchkit
    from sketchkit.data.splits import split_sketches
    from sketchkit.models.base import load_model
    from sketchkit.models.cloud2curve import Cloud2CurveConfig, Cloud2CurveModel
    from sketchkit.train import TrainConfig, read_metrics, train

    chars = [s for s in sketchkit.data.read(args.data, cloud=args.cloud) if s.num_points > 0]
    splits = split_sketches(chars)
    train_set, valid, test = splits["train"], splits["valid"], splits["test"]
    print(f"data: {args.data}: train {len(train_set)}, valid {len(valid)}, test {len(test)}", flush=True)
    if args.refit_prior_from is not None:
        refit_prior(args.refit_prior_from, args.out, args.prior_components, train_set, group="class")
        return

    config = Cloud2CurveConfig(
        sketch_loss="cloud", sketch_points=256, sketch_width=128, latent_dim=args.latent_dim,
        decoder_hidden=args.hidden, max_strokes=args.max_strokes, sketch_max_degree=args.degree,
        sketch_curve_samples=24, sketch_mixtures=1, kl_weight=args.kl_weight, kl_anneal_steps=args.kl_anneal_steps,
        count_weight=args.count_weight, ot_weight=args.ot_weight, ot_kind=args.ot_kind, conditional=not args.unconditional,
        fitted_prior=not args.standard_prior, prior_components=args.prior_components, sketch_decoder=args.decoder, sketch_encoder=args.encoder, hard_presence=not args.soft_presence,
        class_dropout=args.class_dropout,
    )
    config = Cloud2CurveModel.config_for_data(config, train_set)
    torch.manual_seed(args.seed)
    model = Cloud2CurveModel(config)
    if args.stroke_from is not None:
        copy_stroke_net(model, args.stroke_from)
    stages = (["stroke"] if args.stroke_steps > 0 else []) + ["sketch"]
    tconf = TrainConfig(stage_steps={"stroke": args.stroke_steps, "sketch": args.steps}, batch_size=args.batch,
                        lr=args.lr, schedule="cosine", warmup_steps=100, min_lr_ratio=0.05, grad_clip=1.0,
                        val_every=args.val_every, val_batches=4, checkpoint_every=args.val_every, num_samples=16,
                        sample_temperature=0.8, seed=args.seed, device="cpu", log_every=args.log_every, quiet=False)
    start = time.time()
    train(model, train_set, val_sketches=valid, config=tconf, run_dir=args.run_dir, resume=args.resume,
          stages=stages, data_info={"data": str(args.data), "train": len(train_set), "licence": data_source(args.data)[1]})
    minutes = (time.time() - start) / 60

    model = load_model(args.run_dir / "last").eval()
    metrics = model.evaluate(test)
    curve = [{k: r[k] for k in ("stage", "step", "loss", "chamfer", "count", "kl") if k in r}
             for r in read_metrics(args.run_dir) if r.get("stage") == "sketch" and "chamfer" in r]
    print("loss curve (sketch stage):")
    for r in curve[:: max(1, len(curve) // 12)] + curve[-1:]:
        print("  " + "  ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in r.items()))
    print(f"held-out test ({len(test)}): " + json.dumps({k: round(v, 5) for k, v in metrics.items()}))
    print(f"trained {minutes:.1f} min this session")

    labels = list(model.labels) or [None]
    g = torch.Generator().manual_seed(0)
    items = [s for lab in labels for s in (model.sample(4, generator=g, temperature=0.8, label=lab)
                                           if lab is not None else model.sample(40, generator=g, temperature=0.8))]
    rec = model.reconstruct(test[:12])
    png = sketchkit.to_png(sketchkit.grid_svg(items, columns=8))
    (args.run_dir / "samples.png").write_bytes(png)
    (args.run_dir / "reconstructions.png").write_bytes(sketchkit.to_png(sketchkit.grid_svg(test[:12] + rec, columns=12)))
    print(f"wrote {args.run_dir / 'samples.png'} and reconstructions.png (row 1 inputs, row 2 curves)")

    if args.out is not None:
        model.save_pretrained(args.out)
        n_params = sum(p.numel() for p in model.parameters())
        source, licence = data_source(args.data)
        mass = f", {config.ot_kind} mass term x {config.ot_weight}" if config.ot_weight > 0 else ""
        command = " ".join(shlex.quote(a) for a in sys.argv[1:])
        card = f"""# Cloud2Curve from point clouds alone: {source}

Generator trained only on point clouds of {source} images ({args.cloud} clouds; no strokes, no
tracing): Chamfer between each cloud and points on up to {config.max_strokes} decoded degree-{config.sketch_max_degree}
Bézier curves ({config.sketch_encoder} encoder, {config.sketch_decoder} decoder, {"0/1" if config.hard_presence else "soft"} presences),
expected-curve-count penalty {config.count_weight}{mass}, KL weight {config.kl_weight}, class dropout {config.class_dropout}.
Classes: {', '.join(model.labels) or 'none (unconditional)'}. {n_params} parameters.

## Data and licence
{source}, `{args.data.name}`, train split of `split_sketches` ({len(train_set)} images),
**{licence}**; these weights follow that licence.

## Training
`python scripts/train_pretrained_cloud2curve_clouds.py {command}`
({minutes:.1f} min in the last session, {args.threads} CPU thread(s)).

## Held-out test split ({len(test)} images)
{json.dumps({k: round(v, 5) for k, v in metrics.items()}, indent=2)}
"""
        (args.out / "MODEL_CARD.md").write_text(card)
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
