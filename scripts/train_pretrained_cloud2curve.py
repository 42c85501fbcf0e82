"""Train the stroke stage of the shipped ``sketchkit/pretrained/cloud2curve`` (the stroke net that
``sketchkit vectorize`` uses), and optionally a token-likelihood sketch stage.

The shipped model's generator no longer comes from here: it is trained from point clouds of MNIST
rasters alone by ``scripts/train_pretrained_cloud2curve_clouds.py --stroke-from`` (which copies this
script's stroke stage unchanged; see the model card). The sketch stage below is the earlier design,
a GRU decoder fitted to curve tokens of pen strokes (``--install`` would ship it again).

Data (all from ``../shared/data`` through ``sketchkit.data``; licences allow shipping the weights):

* Quick, Draw! raw ndjson (CC BY 4.0), 8 categories, minus the held-out drawings used by
  ``scripts/bench_vectorize.py`` (simplified lines 20..24 of every category, matched by key_id);
* VectorMNIST substitute: MNIST pen-stroke sequences (CC BY-SA 3.0), first ``--digits`` digits;
* K-MNIST test images (CC BY-SA 4.0) as ink-pixel point clouds, first ``--kmnist`` images (the
  stroke stage traces their centrelines into strokes, see ``cloud_to_strokes``);
* ``--sketch-data mnist-clouds``: MNIST test images 0..3999 as ink-pixel point clouds only, so the
  sketch stage learns from clouds alone (its curve tokens come from the tracer).

Stages: ``stroke`` (the stroke-level net that ``sketchkit vectorize`` uses) then ``sketch``
(generation), through the shared engine :func:`sketchkit.train.train`.

Usage::

    python scripts/train_pretrained_cloud2curve.py --out /tmp/c2c_run \
        --stroke-steps 3000 --sketch-steps 250 --install
    # only the sketch stage, keeping the shipped stroke stage (vectorize output unchanged):
    python scripts/train_pretrained_cloud2curve.py --out /tmp/c2c_sk \
        --stroke-from sketchkit/pretrained/cloud2curve --sketch-steps 5000 --batch 64 --install
    # after a stop: the same command with --resume
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import torch

from sketchkit.data import read_all
from sketchkit.models.cloud2curve import Cloud2CurveConfig, Cloud2CurveModel
from sketchkit.sketch import Sketch
from sketchkit.train import TrainConfig, train

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
CATEGORIES = ("apple", "bicycle", "bird", "cat", "face", "house", "pig", "sheep")
HELD_OUT_LINES = range(20, 25)  # simplified lines kept out of training (the benchmark uses them)
VECTOR_MNIST = ("vectormnist", "mnist-stroke-sequences-train-first5000.npz")
MNIST_IMAGES = ("mnist", "t10k-images-idx3-ubyte.gz")


def held_out_keys(data: Path = DATA) -> set[str]:
    """key_ids of the benchmark's held-out Quick, Draw! drawings."""
    keys = set()
    for cat in CATEGORIES:
        lines = (data / "quickdraw" / "simplified" / f"{cat}.ndjson").read_text().splitlines()
        for i in HELD_OUT_LINES:
            keys.add(json.loads(lines[i])["key_id"])
    return keys


def load_quickdraw_raw(data: Path, exclude: set[str]) -> list[Sketch]:
    """The raw Quick, Draw! drawings whose key_id is not in ``exclude``."""
    sketches = read_all([data / "quickdraw" / "raw" / f"{cat}.ndjson" for cat in CATEGORIES])
    return [s for s in sketches if str(s.meta.get("key_id")) not in exclude]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("/tmp/c2c_run"))
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--stroke-steps", type=int, default=3000)
    ap.add_argument("--sketch-steps", type=int, default=250)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--digits", type=int, default=2000)
    ap.add_argument("--kmnist", type=int, default=1000)
    ap.add_argument("--loss", choices=["chamfer", "sinkhorn"], default="chamfer")
    ap.add_argument("--stroke-from", type=Path, default=None,
                    help="copy the stroke stage from this model directory (e.g. sketchkit/pretrained/cloud2curve) "
                         "and train only the sketch stage")
    ap.add_argument("--sketch-data", choices=["mixed", "digits", "mnist-clouds"], default="digits",
                    help="sketch-stage data: 'digits' = VectorMNIST digits 0..3999 (ordered strokes), "
                         "'mnist-clouds' = MNIST test images 0..3999 as point clouds only, "
                         "'mixed' = the stroke stage's mix")
    ap.add_argument("--kl-weight", type=float, default=0.5, help="sketch stage: KL weight (after warm-up)")
    ap.add_argument("--kl-free", type=float, default=20.0, help="sketch stage: free nats of KL per sketch")
    ap.add_argument("--ot-weight", type=float, default=0.0, help="sketch stage: auxiliary OT weight")
    ap.add_argument("--resume", action="store_true",
                    help="continue the run in --out from its last checkpoint (same settings; steps may grow)")
    ap.add_argument("--install", action="store_true", help="copy the result into sketchkit/pretrained/cloud2curve")
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)

    exclude = held_out_keys(args.data)
    digits = read_all([args.data.joinpath(*VECTOR_MNIST)], limit=4100)
    sketches = load_quickdraw_raw(args.data, exclude) + digits[: args.digits]
    sketches += read_all([args.data / "kmnist" / "kmnist-test-imgs.npz"], limit=args.kmnist)
    # validation: 4000..4099 of the VectorMNIST substitute (not in training when --digits <= 4000)
    val = digits[4000:4100]

    config = Cloud2CurveConfig(loss_type=args.loss, max_strokes=10, sketch_max_degree=3, sketch_curve_samples=10,
                               latent_dim=64, decoder_hidden=256, sketch_mixtures=10, token_tolerance=0.08,
                               kl_weight=args.kl_weight, kl_free=args.kl_free, kl_anneal_steps=1000,
                               stop_weight=1.0, ot_weight=args.ot_weight)
    model = Cloud2CurveModel(config)
    stages = list(model.stages)
    if args.stroke_from is not None:
        from train_pretrained_cloud2curve_clouds import copy_stroke_net

        copy_stroke_net(model, args.stroke_from)
        stages = ["sketch"]
        print(f"stroke stage copied from {args.stroke_from}; training only the sketch stage", flush=True)
    if args.sketch_data == "digits" and stages == ["sketch"]:
        sketches = digits[:4000]
    elif args.sketch_data == "mnist-clouds" and stages == ["sketch"]:
        clouds = read_all([args.data.joinpath(*MNIST_IMAGES)], limit=4100)
        sketches, val = clouds[:4000], clouds[4000:4100]
    print(f"{len(sketches)} training sketches ({len(exclude)} Quick, Draw! drawings held out), "
          f"{len(val)} validation sketches", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    steps = {"stroke": args.stroke_steps, "sketch": args.sketch_steps}
    t0 = time.time()
    tc = TrainConfig(steps=max(steps.values()), stage_steps=steps, batch_size=args.batch, lr=args.lr,
                     schedule="cosine", min_lr_ratio=0.05, seed=args.seed, device="cpu",
                     val_every=1000, checkpoint_every=500, num_samples=8, log_every=50, quiet=True,
                     sample_temperature=0.5)
    run = train(model, sketches, val_sketches=val, config=tc, run_dir=args.out, stages=stages, resume=args.resume,
                data_info={"quickdraw_raw": "../shared/data/quickdraw/raw (8 categories, held-out removed)",
                           "vectormnist_digits": args.digits, "kmnist_clouds": args.kmnist,
                           "sketch_data": args.sketch_data,
                           "train_sketches": len(sketches), "val_sketches": len(val)})
    best = run / "best" if (run / "best").is_dir() else run / "last"
    print(f"trained in {time.time() - t0:.0f} s -> {best}", flush=True)
    if args.install:
        dest = REPO / "sketchkit" / "pretrained" / "cloud2curve"
        dest.mkdir(parents=True, exist_ok=True)
        for name in ("config.json", "model.safetensors"):
            shutil.copyfile(best / name, dest / name)
        print(f"installed into {dest}", flush=True)


if __name__ == "__main__":
    main()
