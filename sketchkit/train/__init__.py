"""One training engine for every model family: stages, resume, atomic checkpoints, torchrun.

Any :class:`~sketchkit.models.base.SketchModel` trains through :func:`train`::

    from sketchkit.train import TrainConfig, train
    run = train(model, sketches, val_sketches=held_out,
                config=TrainConfig(steps=2000, batch_size=64, lr=1e-3), run_dir="runs/bezier")

The engine trains each stage in ``model.stages`` in order. Per stage it builds a fresh optimiser
over ``model.stage_parameters(stage)`` (every other parameter is frozen for that stage), draws
batches of sketches, turns them into tensors with ``model.collate(..., stage, generator)`` and
minimises ``model.loss(batch, step, stage)["loss"]`` (``step`` counts from 0 within the stage).

Run directory layout::

    run.json                train config, model config, data description, stages, world size
    metrics.jsonl           one JSON object per line: {"type": "train"|"val"|"skip"|"stage_end"|"final", ...}
    last/                   newest checkpoint: config.json + model.safetensors + trainer_state.pt
    best/                   lowest validation loss of the current (finally: last) stage, same files
    samples/step_XXXXXXX.svg  sample grids (families that can ``sample``, when the renderer exists)

Determinism and resume: which sketches form batch ``k`` of a stage, and the generator passed to
``collate``, are pure functions of ``(seed, stage index, k)``; the optimiser state, the step, the
stage and the global torch/numpy/python RNG states (for dropout and the like) are saved in
``trainer_state.pt``. So ``N`` steps in one go and ``N/2`` + resume + ``N/2`` give the same weights
on CPU. ``trainer_state.pt`` holds only tensors, numbers, strings, lists and dicts and loads with
``torch.load(weights_only=True)``.

Atomicity: a checkpoint is written into a fresh temporary folder (every file temp + fsync + rename)
which then replaces ``last/`` by two renames (``last`` -> ``last.old``, temp -> ``last``); a crash
between those renames leaves ``last.old/`` intact, which :func:`recover_checkpoints` (run at every
start and load through this module) moves back. No moment leaves a half-written ``last/``.

Distributed: under ``torchrun --nproc_per_node=N`` (``WORLD_SIZE`` > 1) the model is wrapped in
``DistributedDataParallel`` (gloo on CPU, nccl on CUDA). Each global batch of ``batch_size``
sketches is split across ranks (rank ``r`` takes every N-th sketch starting at ``r``), gradients
are averaged, and only rank 0 writes checkpoints, metrics, samples and the progress bar.

Streaming: ``train(model, ShardStream("shards/"), ...)`` reads a shard folder (``sketchkit data
shard``) instead of a list: ranks and DataLoader workers read disjoint pieces of each epoch, a
seeded window shuffles them, validation uses the folder's ``val-*.tar`` shards, and the stream
position is saved in ``trainer_state.pt`` (``"data"``); see :mod:`sketchkit.train.stream`.

Package layout (one job per module): ``config`` (TrainConfig, overrides, config files), ``checkpoints``
(atomic save/recover, trainer state), ``run_dir`` (run-folder guards, ``run.json``), ``metrics``,
``rng``, ``batches`` (batch plans, devices), ``stream`` (data sources: in memory or shards),
``progress``, ``signals``, ``validation``, ``loop`` (:func:`train`).
"""

from __future__ import annotations

# private names stay importable from here as they were from the single-module engine
from sketchkit.train.batches import _BatchPlan, _dist_info, _to_device, resolve_device
from sketchkit.train.checkpoints import (
    _CHECKPOINT_FILES, _STATE_VERSION, TRAINER_STATE_NAME, _save_checkpoint, read_trainer_state, recover_checkpoints,
)
from sketchkit.train.config import (
    _TRAIN_RANGES, TrainConfig, _convert, apply_overrides, build_configs, load_config_file, parse_overrides,
)
from sketchkit.train.errors import NonFiniteLossError, TrainingError
from sketchkit.train.loop import train
from sketchkit.train.metrics import METRICS_NAME, read_metrics
from sketchkit.train.rng import _mix_seed, _rng_state, _set_rng_state
from sketchkit.train.run_dir import RUN_INFO_NAME, check_run_dir, config_from_run, read_run_info
from sketchkit.train.stream import ShardStream
from sketchkit.train.validation import validation_losses

__all__ = [
    "TrainConfig",
    "train",
    "ShardStream",
    "TrainingError",
    "NonFiniteLossError",
    "validation_losses",
    "resolve_device",
    "apply_overrides",
    "parse_overrides",
    "load_config_file",
    "build_configs",
    "config_from_run",
    "read_run_info",
    "check_run_dir",
    "recover_checkpoints",
    "read_trainer_state",
    "read_metrics",
    "TRAINER_STATE_NAME",
    "RUN_INFO_NAME",
    "METRICS_NAME",
]
