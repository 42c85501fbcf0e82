"""Train the BézierSketch model shipped in ``sketchkit/pretrained/bezier/``.

Data: the Omniglot handwriting set in sketch-rnn stroke-3 format (MIT licence, Copyright 2015
Brenden Lake), ``../shared/data/sketchrnn/omniglot.npz``: ``train`` split for training, ``valid``
for validation. (``aaron_sheep`` is CC BY-NC and is never used here.)

Usage::

    python scripts/train_pretrained_bezier.py --run-dir RUN    # both stages (~25 min, 1 busy thread)
    python scripts/train_pretrained_bezier.py --embedder-from RUN --run-dir RUN2   # generator only
    python scripts/train_pretrained_bezier.py --embedder-steps 50 --generator-steps 50 --limit 300 \
        --run-dir /tmp/bz_smoke --out /tmp/bz_model                # smoke test

The shipped model was made by the first command followed by the second (the generator was
retrained once, after its KL term was changed to sketch-rnn's per-dimension form, on top of the
first run's embedder); the model card names both runs.

Training goes through :func:`sketchkit.train.train` (embedder stage, then generator stage); the
final checkpoint is copied into ``--out`` with a ``MODEL_CARD.md`` that records the data, the
steps, the losses from ``metrics.jsonl`` and the held-out metrics.
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import numpy as np
import torch

import sketchkit.data
from sketchkit.models.base import atomic_write_bytes, load_model
from sketchkit.models.bezier_sketch import BezierSketchConfig, BezierSketchModel, estimate_token_scales
from sketchkit.train import TrainConfig, read_metrics, train

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "sketchrnn" / "omniglot.npz"


def _model_config(train_sketches, args) -> BezierSketchConfig:
    base = BezierSketchConfig(
        min_degree=2,  # multi-degree: embed_strokes picks the lowest adequate degree per stroke
        max_degree=args.degree,  # generator tokens: degree offsets + start point per stroke
        split_angle=args.split_angle,  # cut strokes at sharp corners (Omniglot strokes have many)
        max_strokes=args.max_strokes,
        kl_anneal_steps=3000,
    )
    return estimate_token_scales(train_sketches, base)


def _losses(run_dir: Path) -> dict:
    """Last logged train loss per stage, best validation loss per stage, final metrics."""
    out: dict = {"train": {}, "val": {}, "final": {}}
    for rec in read_metrics(run_dir):
        kind, stage = rec.get("type"), rec.get("stage")
        if kind == "train":
            out["train"][stage] = {k: v for k, v in rec.items() if isinstance(v, (int, float))}
        elif kind == "val":
            rec = {k.removeprefix("val_"): v for k, v in rec.items() if isinstance(v, (int, float))}
            best = out["val"].get(stage)
            if best is None or rec.get("loss", np.inf) < best.get("loss", np.inf):
                out["val"][stage] = rec
        elif kind == "final":
            out["final"] = {k: v for k, v in rec.items() if isinstance(v, (int, float))}
    return out


def _fmt(d: dict, keys: tuple[str, ...]) -> str:
    return ", ".join(f"{k} {d[k]:.4g}" for k in keys if k in d)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--run-dir", type=Path, default=Path("/tmp/sketchkit_bezier_pretrained_run"))
    ap.add_argument("--out", type=Path, default=REPO / "sketchkit" / "pretrained" / "bezier")
    ap.add_argument("--embedder-steps", type=int, default=3000)
    ap.add_argument("--generator-steps", type=int, default=6000)
    ap.add_argument("--batch-size", type=int, default=48)
    ap.add_argument("--degree", type=int, default=5, help="max degree (generator token degree)")
    ap.add_argument("--split-angle", type=float, default=0.0, help="split strokes at corners sharper than this")
    ap.add_argument("--max-strokes", type=int, default=16, help="longest token sequence")
    ap.add_argument("--limit", type=int, default=None, help="use only the first N training sketches")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--card-only", action="store_true", help="skip training: export --run-dir and write the card")
    ap.add_argument("--embedder-from", type=Path, default=None,
                    help="copy the embedder weights from this model/run dir and train only the generator")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    train_sk = list(sketchkit.data.read(args.data, split="train", limit=args.limit))
    val_sk = list(sketchkit.data.read(args.data, split="valid", limit=500))
    config = _model_config(train_sk, args)
    model = BezierSketchModel(config)
    stages = None
    if args.embedder_from is not None:
        donor = load_model(args.embedder_from)
        embedder = {id(p) for p in model.stage_parameters("embedder")}
        own = dict(model.named_parameters())
        with torch.no_grad():
            for name, p in donor.named_parameters():
                if name in own and id(own[name]) in embedder:
                    own[name].copy_(p)  # same shapes: the embedder fields of both configs agree
        stages = ["generator"]
    tcfg = TrainConfig(
        stage_steps={"embedder": args.embedder_steps, "generator": args.generator_steps},
        batch_size=args.batch_size,
        lr=1e-3,  # sketch-rnn's rate; Adam
        schedule="cosine", min_lr_ratio=0.05, warmup_steps=100,
        grad_clip=1.0,  # sketch-rnn
        val_every=500, val_batches=4, checkpoint_every=1000, log_every=50,
        num_samples=16, sample_temperature=0.4, seed=0, device="cpu",
    )
    data_info = {"path": str(args.data), "train": len(train_sk), "valid": len(val_sk),
                 "embedder_from": None if args.embedder_from is None else str(args.embedder_from)}
    if not args.card_only:
        t0 = time.time()
        train(model, train_sk, val_sketches=val_sk, config=tcfg, run_dir=args.run_dir, resume=args.resume,
              stages=stages, data_info=data_info)
        (args.run_dir / "wall_seconds.txt").write_text(f"{time.time() - t0:.1f}\n")
    load_model(args.run_dir / "last").save_pretrained(args.out)
    card = _card(args, tcfg, len(train_sk), len(val_sk))
    atomic_write_bytes(args.out / "MODEL_CARD.md", card.encode())
    print(card)


def _wall_seconds(run_dir: Path) -> float:
    """Training wall time: recorded by this script, else the span of the run's file times."""
    rec = run_dir / "wall_seconds.txt"
    if rec.is_file():
        return float(rec.read_text())
    return (run_dir / "metrics.jsonl").stat().st_mtime - (run_dir / "run.json").stat().st_mtime


def _card(args, tcfg: TrainConfig, n_train: int, n_val: int) -> str:
    final = load_model(args.out)
    config = final.config
    losses = _losses(args.run_dir)
    seconds = _wall_seconds(args.run_dir)
    emb_note = ""
    if args.embedder_from is not None:
        # The embedder was trained by an earlier run of this script; its log sits in that run folder.
        src = args.embedder_from
        emb_run = src if (src / "metrics.jsonl").is_file() else src.parent
        if (emb_run / "metrics.jsonl").is_file():
            e = _losses(emb_run)
            losses["train"]["embedder"] = e["train"].get("embedder", {})
            losses["val"]["embedder"] = e["val"].get("embedder", {})
            seconds += _wall_seconds(emb_run) if (emb_run / "run.json").is_file() else 0.0
        emb_note = (f" (embedder weights from an earlier run of this script with the same embedder "
                    f"settings and no stroke splitting, `--embedder-from {src}`; times and losses of both runs)")
    # Throughput of sampling (sketches/s, 1 thread, batch of 64, temperature 0.4).
    t1 = time.time()
    final.sample(64, generator=torch.Generator().manual_seed(0), temperature=0.4)
    sample_rate = 64 / (time.time() - t1)
    n_params = sum(p.numel() for p in final.parameters())
    size_mb = (args.out / "model.safetensors").stat().st_size / 1e6
    emb, gen = losses["train"].get("embedder", {}), losses["train"].get("generator", {})
    vemb, vgen = losses["val"].get("embedder", {}), losses["val"].get("generator", {})
    split = (f"Strokes are cut at corners turning more than {config.split_angle:g} degrees before embedding, "
             "so one stroke may become several curves.") if config.split_angle > 0 else ""
    return f"""# BézierSketch (sketchkit shipped model `bezier`)

BézierSketch (Das et al., ECCV 2020): a BiLSTM stroke embedder that turns each stroke into one
Bézier curve (degrees {config.min_degree}-{config.max_degree}), and a stroke-token seq2seq VAE
that generates sketches as sequences of degree-{config.max_degree} curves. {split}

## Data
Omniglot handwritten characters (Lake et al.), sketch-rnn stroke-3 version
(`omniglot.npz` from github.com/hardmaru/sketch-rnn-datasets): {n_train} training sketches
(`train` split), {n_val} validation sketches (first {n_val} of `valid`).
License of the data: MIT (Copyright 2015 Brenden Lake). No other data was used.

## Training
`python scripts/train_pretrained_bezier.py` through `sketchkit.train.train`, CPU, {args.threads} thread(s),
{platform.python_implementation()} {platform.python_version()}, torch {torch.__version__}{emb_note}.
- embedder stage: {tcfg.steps_for('embedder', n_train)} steps, batch {tcfg.batch_size} sketches (all their strokes)
- generator stage: {tcfg.steps_for('generator', n_train)} steps, batch {tcfg.batch_size} sketches
- Adam, lr {tcfg.lr} cosine to {tcfg.lr * tcfg.min_lr_ratio:g}, {tcfg.warmup_steps} warm-up steps, grad clip {tcfg.grad_clip}, seed {tcfg.seed}
- wall time: {seconds / 60:.1f} min (both stages, including validation; shared, busy 2-core machine)
- token scales from the training data: offset_scale {config.offset_scale:.4f}, start_scale {config.start_scale:.4f}

## Losses (from metrics.jsonl)
- embedder, last logged train window: {_fmt(emb, ('loss', 'mse', 'smooth'))}
- embedder, best validation: {_fmt(vemb, ('loss', 'mse'))}
- generator, last logged train window: {_fmt(gen, ('loss', 'nll', 'stop', 'kl'))}
- generator, best validation: {_fmt(vgen, ('loss', 'nll', 'stop', 'kl'))}
- held-out (validation sketches): {_fmt(losses['final'], ('embed_mse', 'chamfer'))}
  (`embed_mse`: mean squared error of the degree-{config.max_degree} stroke fit in stroke units, largest
  point norm 1; `chamfer`: symmetric mean Chamfer distance of greedy reconstructions, sketch
  unit box with the larger side spanning 2)

## Model
{n_params:,} parameters, {size_mb:.1f} MB (float32 safetensors). Sampling: {sample_rate:.0f} sketches/s
(batch 64, temperature 0.4, 1 CPU thread). Samples are in the unit-box frame (y down).

## License
Weights: MIT, like the training data and sketchkit. Attribution for the data: Omniglot,
Brenden M. Lake, Ruslan Salakhutdinov, Joshua B. Tenenbaum, "Human-level concept learning
through probabilistic program induction", Science 2015.
"""


if __name__ == "__main__":
    main()
