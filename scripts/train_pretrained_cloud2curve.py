"""Train the Cloud2Curve model shipped in ``sketchkit/pretrained/cloud2curve``.

Data (all from ``../shared/data``, licences allow shipping the weights):

* Quick, Draw! raw ndjson (CC BY 4.0), 8 categories, minus the held-out drawings used by
  ``scripts/bench_vectorize.py`` (simplified lines 20..24 of every category, matched by key_id);
* VectorMNIST substitute: MNIST pen-stroke sequences (CC BY-SA 3.0), first ``--digits`` digits;
* K-MNIST test images (CC BY-SA 4.0) as ink-pixel point clouds, first ``--kmnist`` images (the
  stroke stage traces their centrelines into strokes, see ``cloud_to_strokes``).

Stages: ``stroke`` (the stroke-level net that ``sketchkit vectorize`` uses) then ``sketch``
(generation). Runs through the shared engine :func:`sketchkit.train.train`; a minimal
Adam loop is used only when that module is missing (``--fallback`` forces it).

Usage::

    python scripts/train_pretrained_cloud2curve.py --out /tmp/c2c_run \
        --stroke-steps 3000 --sketch-steps 250 --install
"""

from __future__ import annotations

import argparse
import gzip  # noqa: F401  (kept for users extending the loaders)
import json
import shutil
import time
from pathlib import Path

import numpy as np
import torch

from sketchkit.models.cloud2curve import Cloud2CurveConfig, Cloud2CurveModel
from sketchkit.sketch import Sketch

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
CATEGORIES = ("apple", "bicycle", "bird", "cat", "face", "house", "pig", "sheep")
HELD_OUT_LINES = range(20, 25)  # simplified lines kept out of training (the benchmark uses them)


def held_out_keys(data: Path = DATA) -> set[str]:
    """key_ids of the benchmark's held-out Quick, Draw! drawings."""
    keys = set()
    for cat in CATEGORIES:
        lines = (data / "quickdraw" / "simplified" / f"{cat}.ndjson").read_text().splitlines()
        for i in HELD_OUT_LINES:
            keys.add(json.loads(lines[i])["key_id"])
    return keys


def load_quickdraw_raw(data: Path, exclude: set[str]) -> list[Sketch]:
    out = []
    for cat in CATEGORIES:
        for line in (data / "quickdraw" / "raw" / f"{cat}.ndjson").read_text().splitlines():
            d = json.loads(line)
            if d["key_id"] in exclude:
                continue
            strokes = [np.array(s[:2], dtype=np.float64).T for s in d["drawing"]]
            out.append(Sketch(strokes, label=cat))
    return out


def load_vectormnist(data: Path, limit: int) -> list[Sketch]:
    z = np.load(data / "vectormnist" / "mnist-stroke-sequences-train-first5000.npz")
    seqs, labels = z["sequences"], z["labels"]
    out = []
    for seq, lab in zip(seqs[:limit], labels[:limit]):
        pos = np.cumsum(seq[:, :2], axis=0)
        strokes, cur = [], []
        for row, p in zip(seq, pos):
            cur.append(p)
            if row[2] == 1 or row[3] == 1:
                strokes.append(np.array(cur))
                cur = []
            if row[3] == 1:
                break
        strokes = [s for s in strokes if len(s) >= 2]
        if strokes:
            out.append(Sketch(strokes, label=str(int(lab))))
    return out


def load_kmnist_clouds(data: Path, limit: int) -> list[Sketch]:
    imgs = np.load(data / "kmnist" / "kmnist-test-imgs.npz")["arr_0"][:limit]
    out = []
    for img in imgs:
        ys, xs = np.nonzero(img > 127)
        if xs.size < 5:
            continue
        out.append(Sketch.from_point_cloud(np.stack([xs + 0.5, ys + 0.5], axis=1)))
    return out


def _fallback_train(model: Cloud2CurveModel, sketches: list[Sketch], steps: dict[str, int], batch: int,
                    lr: float, seed: int, out: Path, stages: list[str] | None = None) -> Path:
    g = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    log = open(out / "metrics.jsonl", "w")
    for stage in stages or model.stages:
        pool = sketches
        opt = torch.optim.Adam(model.stage_parameters(stage), lr=lr)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(steps[stage], 1))
        t0 = time.time()
        for step in range(steps[stage]):
            idx = rng.choice(len(pool), batch, replace=False)
            b = model.collate([pool[i] for i in idx], stage=stage, generator=g)
            o = model.loss(b, step=step, stage=stage)
            opt.zero_grad()
            o["loss"].backward()
            torch.nn.utils.clip_grad_norm_(model.stage_parameters(stage), 1.0)
            opt.step()
            sched.step()
            if step % 50 == 0 or step == steps[stage] - 1:
                rec = {"stage": stage, "step": step, "time": round(time.time() - t0, 1),
                       **{k: round(float(v), 6) for k, v in o.items()}}
                log.write(json.dumps(rec) + "\n")
                log.flush()
                print(rec, flush=True)
    model.save_pretrained(out / "best")
    return out


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
    ap.add_argument("--sketch-data", choices=["mixed", "digits"], default="digits",
                    help="sketch-stage data: 'digits' = VectorMNIST digits 0..3999 only (the shipped generator), "
                         "'mixed' = the stroke stage's mix")
    ap.add_argument("--kl-weight", type=float, default=0.5, help="sketch stage: KL weight (after warm-up)")
    ap.add_argument("--kl-free", type=float, default=20.0, help="sketch stage: free nats of KL per sketch")
    ap.add_argument("--ot-weight", type=float, default=0.0, help="sketch stage: auxiliary OT weight")
    ap.add_argument("--fallback", action="store_true", help="use the minimal loop, not sketchkit.train")
    ap.add_argument("--install", action="store_true", help="copy the result into sketchkit/pretrained/cloud2curve")
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)

    exclude = held_out_keys(args.data)
    sketches = load_quickdraw_raw(args.data, exclude) + load_vectormnist(args.data, args.digits)
    sketches += load_kmnist_clouds(args.data, args.kmnist)
    # validation: 4000..4099 of the VectorMNIST substitute (not in training when --digits <= 4000)
    val = load_vectormnist(args.data, 4100)[4000:]

    config = Cloud2CurveConfig(loss_type=args.loss, max_strokes=10, sketch_max_degree=3, sketch_curve_samples=10,
                               latent_dim=64, decoder_hidden=256, sketch_mixtures=10, token_tolerance=0.08,
                               kl_weight=args.kl_weight, kl_free=args.kl_free, kl_anneal_steps=1000,
                               stop_weight=1.0, ot_weight=args.ot_weight)
    model = Cloud2CurveModel(config)
    stages = list(model.stages)
    if args.stroke_from is not None:
        from safetensors.torch import load_file

        tensors = load_file(str(args.stroke_from / "model.safetensors"))
        stroke = {k[len("stroke_net."):]: v for k, v in tensors.items() if k.startswith("stroke_net.")}
        model.stroke_net.load_state_dict(stroke)
        stages = ["sketch"]
        print(f"stroke stage copied from {args.stroke_from}; training only the sketch stage", flush=True)
    if args.sketch_data == "digits" and stages == ["sketch"]:
        sketches = load_vectormnist(args.data, 4000)
    print(f"{len(sketches)} training sketches ({len(exclude)} Quick, Draw! drawings held out), "
          f"{len(val)} validation sketches", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    steps = {"stroke": args.stroke_steps, "sketch": args.sketch_steps}
    t0 = time.time()
    try:
        if args.fallback:
            raise ImportError("forced")
        from sketchkit.train import TrainConfig, train
    except ImportError:
        run = _fallback_train(model, sketches, steps, args.batch, args.lr, args.seed, args.out, stages)
        best = run / "best"
    else:
        tc = TrainConfig(steps=max(steps.values()), stage_steps=steps, batch_size=args.batch, lr=args.lr,
                         schedule="cosine", min_lr_ratio=0.05, seed=args.seed, device="cpu",
                         val_every=1000, checkpoint_every=500, num_samples=8, log_every=50, quiet=True,
                         sample_temperature=0.5)
        run = train(model, sketches, val_sketches=val, config=tc, run_dir=args.out, stages=stages,
                    data_info={"quickdraw_raw": "../shared/data/quickdraw/raw (8 categories, held-out removed)",
                               "vectormnist_digits": args.digits, "kmnist_clouds": args.kmnist,
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
