"""Subprocess worker for tests/test_resume_sigkill.py: train a tiny model of one family.

    python _sigkill_worker.py FAMILY RUN_DIR [--resume] [--kill-at STAGE:STEP]

``--kill-at`` sends SIGKILL to this very process when the loss of that stage's step is computed:
a real kill -9 at a known point, after the checkpoint of an earlier step and mid-step.
"""

from __future__ import annotations

import math
import os
import signal
import sys

import numpy as np
import torch

from sketchkit.models.bezier_sketch import BezierSketchConfig, BezierSketchModel
from sketchkit.models.cloud2curve import Cloud2CurveConfig, Cloud2CurveModel
from sketchkit.models.sketch_ode import SketchODEConfig, SketchODEModel
from sketchkit.sketch import Sketch
from sketchkit.train import TrainConfig, train

STEPS = {"bezier": {"embedder": 6, "generator": 10}, "sketchode": {"main": 10},
         "cloud2curve": {"stroke": 6, "sketch": 10}, "cloud2curve_clouds": {"stroke": 2, "sketch": 10}}


def sketches() -> list[Sketch]:
    rng = np.random.default_rng(0)
    out = []
    for k in range(24):
        t = np.linspace(0, math.pi * rng.uniform(0.5, 1.5), int(rng.integers(8, 20)))
        arc = np.stack([50 + 30 * np.cos(t), 60 - 30 * np.sin(t)], 1) + rng.normal(0, 0.5, (len(t), 2))
        line = rng.uniform(0, 100, (2, 2))
        out.append(Sketch([arc, line] if k % 2 else [line, arc, line + 5.0], label=("odd", "even")[k % 2]))
    return out


def model_for(family: str):
    if family == "bezier":
        cfg = BezierSketchConfig(min_degree=3, max_degree=3, embed_hidden=8, embed_latent=8, enc_hidden=8,
                                 dec_hidden=16, latent_dim=4, num_mixtures=2, max_strokes=4, dropout=0.2)
        return BezierSketchModel(BezierSketchModel.config_for_data(cfg, sketches()))
    if family == "sketchode":
        return SketchODEModel(SketchODEConfig(n_points=16, encoder_hidden=8, encoder_widths=(8,), latent_dim=4,
                                              ode_dim=4, dynamics_hidden=8))
    # clouds only, conditional, some labels hidden
    clouds = {"sketch_loss": "cloud", "class_dim": 4, "class_dropout": 0.3} if family == "cloud2curve_clouds" else {}
    cfg = Cloud2CurveConfig(max_degree=3, stroke_points=24, stroke_width=32, curve_samples=16, sketch_points=48,
                            sketch_width=16, latent_dim=8, decoder_hidden=16, max_strokes=3, sketch_max_degree=2,
                            sketch_curve_samples=6, **clouds)
    return Cloud2CurveModel(Cloud2CurveModel.config_for_data(cfg, sketches()) if clouds else cfg)


def main() -> None:
    family, run_dir = sys.argv[1], sys.argv[2]
    resume = "--resume" in sys.argv
    kill_stage, kill_step = None, -1
    if "--kill-at" in sys.argv:
        kill_stage, step = sys.argv[sys.argv.index("--kill-at") + 1].split(":")
        kill_step = int(step)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = model_for(family)
    original = model.loss

    def loss(batch, *, step=0, stage=model.stages[0]):
        if stage == kill_stage and step == kill_step and torch.is_grad_enabled():
            os.kill(os.getpid(), signal.SIGKILL)
        return original(batch, step=step, stage=stage)

    model.loss = loss
    cfg = TrainConfig(stage_steps=STEPS[family], batch_size=6, lr=3e-3, checkpoint_every=3, val_every=0,
                      log_every=1, num_samples=0, seed=0, device="cpu", quiet=True)
    train(model, sketches(), config=cfg, run_dir=run_dir, resume=resume)


if __name__ == "__main__":
    main()
