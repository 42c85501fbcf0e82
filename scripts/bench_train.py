"""Training throughput (steps/s) through :func:`sketchkit.train.train`, per family and stage, on CPU.

Usage::

    python scripts/bench_train.py                      # toy + every registered family, default configs
    python scripts/bench_train.py --families toy --steps 200 --batch-size 32 --threads 1

Data: Quick, Draw! simplified ndjson from ``../shared/data`` (8 categories x 25 drawings).
For each family and stage it trains ``--steps`` steps (no validation, no samples, one checkpoint
at the end of the stage) and reports the median of the engine's own steps/s log records (each
averaged over ``--log-every`` steps; the first record, with warm-up, is dropped) and the wall-clock
time of the whole call. For the toy family it also times a bare loop (collate, loss, backward,
Adam step) with the same batches, to show the engine's overhead.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # the toy family lives with the tests


def _sketches(limit_per_file: int):
    from toy_model import load_quickdraw

    return load_quickdraw(limit_per_file)


def _bare_loop(model, sketches, steps: int, batch_size: int, seed: int) -> float:
    """Steps/s of a minimal loop over the same kind of batches (no engine)."""
    import torch

    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    for step in range(steps):
        idx = torch.randint(len(sketches), (batch_size,), generator=g).tolist()
        batch = model.collate([sketches[i] for i in idx], generator=g)
        opt.zero_grad()
        loss = model.loss(batch, step=step)["loss"]
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    return steps / (time.perf_counter() - start)


def bench_family(name: str, sketches, *, steps: int, batch_size: int, log_every: int, seed: int) -> list[dict]:
    import torch

    from sketchkit.models.base import model_registry
    from sketchkit.train import TrainConfig, read_metrics, train

    cls = model_registry()[name]
    rows = []
    for stage in cls.stages:
        torch.manual_seed(seed)
        model = cls(cls.config_class())
        with tempfile.TemporaryDirectory() as tmp:
            cfg = TrainConfig(steps=steps, batch_size=batch_size, lr=1e-3, seed=seed, device="cpu", quiet=True,
                              val_every=0, checkpoint_every=0, num_samples=0, log_every=log_every)
            start = time.perf_counter()
            train(model, sketches, config=cfg, run_dir=tmp, stages=[stage])
            wall = time.perf_counter() - start
            rates = [r["steps_per_s"] for r in read_metrics(tmp) if r["type"] == "train"][1:]
        n_params = sum(p.numel() for p in model.stage_parameters(stage))
        rows.append({"family": name, "stage": stage, "steps": steps, "batch_size": batch_size,
                     "trainable_params": n_params, "steps_per_s": statistics.median(rates) if rates else steps / wall,
                     "wall_s": wall})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--families", nargs="*", default=None, help="default: toy + every registered family")
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--log-every", type=int, default=10)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, default=None, help="also write the rows as JSON here")
    args = ap.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    torch.optim.Adam([torch.zeros(1, requires_grad=True)])  # the first optimiser imports torch._dynamo (seconds)
    import toy_model  # noqa: F401  (registers "toy")
    from sketchkit.models.base import model_registry

    sketches = _sketches(25)
    families = args.families or ["toy"] + sorted(n for n in model_registry() if not n.startswith("toy"))
    rows = []
    for name in families:
        try:
            rows.extend(bench_family(name, sketches, steps=args.steps, batch_size=args.batch_size,
                                     log_every=args.log_every, seed=args.seed))
        except Exception as exc:  # report and go on with the other families
            rows.append({"family": name, "error": f"{type(exc).__name__}: {exc}"})
        if name == "toy":
            torch.manual_seed(args.seed)
            bare = _bare_loop(toy_model.ToyModel(toy_model.ToyConfig()), sketches, args.steps, args.batch_size, args.seed)
            rows.append({"family": "toy (bare loop, no engine)", "stage": "main", "steps": args.steps,
                         "batch_size": args.batch_size, "steps_per_s": bare})
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), CPU, {len(sketches)} Quick, Draw! sketches")
    print(f"{'family':28s} {'stage':10s} {'params':>9s} {'steps/s':>9s} {'wall s':>8s}")
    for r in rows:
        if "error" in r:
            print(f"{r['family']:28s} error: {r['error']}")
            continue
        print(f"{r['family']:28s} {r['stage']:10s} {r.get('trainable_params', ''):>9} {r['steps_per_s']:9.1f} "
              f"{r.get('wall_s', float('nan')):8.2f}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
