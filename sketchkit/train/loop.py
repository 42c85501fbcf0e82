"""The engine: :func:`train` runs every stage of a model (optimiser, schedule, DDP, validation, checkpoints)."""

from __future__ import annotations

import json
import math
import os
import time
import warnings
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch
from torch import nn

from sketchkit.errors import InputError
from sketchkit.models.base import SketchModel, load_model, read_config
from sketchkit.train.batches import _dist_info, _to_device, resolve_device
from sketchkit.train.checkpoints import (
    _STATE_VERSION, _is_checkpoint_file, _remove_owned, _save_checkpoint, read_trainer_state, recover_checkpoints,
)
from sketchkit.train.config import TrainConfig
from sketchkit.train.errors import NonFiniteLossError, TrainingError
from sketchkit.train.metrics import METRICS_NAME, _MetricsLog
from sketchkit.train.progress import _Progress
from sketchkit.train.rng import _mix_seed, _rng_state, _set_rng_state
from sketchkit.train.run_dir import _clear_run_dir, _write_run_info, check_run_dir
from sketchkit.train.signals import _GracefulStop, _StopFlag
from sketchkit.train.stream import MemorySource, ShardStream
from sketchkit.train.validation import _write_samples, validation_losses


def _make_optimizer(params: list[nn.Parameter], config: TrainConfig) -> torch.optim.Optimizer:
    if config.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=config.lr, momentum=0.9, weight_decay=config.weight_decay)
    return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)


def _stage_params(model: SketchModel, stage: str) -> list[nn.Parameter]:
    seen: set[int] = set()
    params = []
    for p in model.stage_parameters(stage):
        if id(p) not in seen:
            seen.add(id(p))
            params.append(p)
    if not params:
        raise TrainingError(f"stage {stage!r}: {type(model).__name__}.stage_parameters returned no parameters")
    return params


def train(model: SketchModel, train_sketches: Sequence[Any] | ShardStream, *, val_sketches: Sequence[Any] | None = None,
          config: TrainConfig, run_dir: str | os.PathLike, resume: bool = False,
          stages: Sequence[str] | None = None, data_info: Mapping[str, Any] | None = None,
          overwrite: bool = False) -> Path:
    """Train ``model`` stage by stage; write checkpoints, metrics and samples into ``run_dir``.

    Args:
        model: any :class:`SketchModel`. It is trained in place (and moved to the chosen device).
        train_sketches: training items handed to ``model.collate`` (usually :class:`Sketch`), or a
            :class:`~sketchkit.train.stream.ShardStream` to stream a shard folder (see
            :mod:`sketchkit.train.stream`; its position goes into every checkpoint).
        val_sketches: held-out items; enables validation, ``best/`` and ``model.evaluate`` at the end.
        config: the run's :class:`TrainConfig`.
        run_dir: output folder (created). A new run needs a missing or empty folder (see
            :func:`check_run_dir`).
        resume: continue from ``run_dir/last/`` (weights, optimiser, stage, step, RNG states). The
            model config must equal the checkpoint's; the train config may change (e.g. more steps).
        overwrite: start a new run in a folder that is not empty: the files an earlier sketchkit
            run wrote there are deleted first; nothing else in the folder is touched.
        stages: train only these stages (a subset of ``model.stages``, in the model's order).
        data_info: JSON-friendly description of the data (paths, counts) stored in ``run.json``.

    Returns:
        ``run_dir`` as a Path.

    Raises:
        InputError: bad arguments (empty data, unknown stage, a run folder that is not empty or holds
            another run without ``resume``/``overwrite``, foreign files in sketchkit's sub-folders, a
            corrupt ``run.json``, or ``resume`` without a checkpoint).
        NonFiniteLossError: the loss or gradient became NaN/inf (and ``skip_nonfinite`` is off or
            ``max_skipped`` was exceeded); ``last/`` keeps the last good checkpoint.
        KeyboardInterrupt: after Ctrl-C, once ``last/`` has been saved (resume continues from it).
    """
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config: expected a TrainConfig, got {type(config).__name__}")
    if not isinstance(model, SketchModel):
        raise TypeError(f"model: expected a SketchModel, got {type(model).__name__}")
    source = train_sketches if isinstance(train_sketches, ShardStream) else MemorySource(train_sketches)
    if val_sketches is None and isinstance(source, ShardStream):
        val_sketches = source.val_sketches()  # the held-out val-*.tar shards (none: no validation)
    val_sketches = list(val_sketches) if val_sketches is not None else []
    if not len(source):
        raise InputError("train: no training sketches")
    all_stages = tuple(model.stages)
    if stages is None:
        run_stages = all_stages
    else:
        unknown = [s for s in stages if s not in all_stages]
        if unknown:
            raise InputError(f"unknown stage(s) {unknown} for {type(model).__name__} (stages: {list(all_stages)})")
        run_stages = tuple(s for s in all_stages if s in set(stages))

    run_dir = Path(run_dir)
    rank, world, local_rank = _dist_info()
    distributed = world > 1
    if distributed:
        import torch.distributed as dist

        if not dist.is_initialized():
            backend = "nccl" if (config.device != "cpu" and torch.cuda.is_available()) else "gloo"
            dist.init_process_group(backend=backend)
            # Kept for later train() calls in this process (re-initialising after a destroy can
            # hang on torchrun's rendezvous store); destroyed when the process exits.
            import atexit

            atexit.register(lambda: dist.is_initialized() and dist.destroy_process_group())
    device = resolve_device(config.device, local_rank=local_rank)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    is_main = rank == 0
    progress = _Progress(enabled=is_main and not config.quiet)
    log = _MetricsLog(run_dir / METRICS_NAME, enabled=is_main)

    check_run_dir(run_dir, model.config.family, resume=resume, overwrite=overwrite)  # every rank, before any change
    if distributed:
        torch.distributed.barrier()
    try:
        if is_main:
            run_dir.mkdir(parents=True, exist_ok=True)
            if overwrite and not resume:
                _clear_run_dir(run_dir)
            recover_checkpoints(run_dir)
        if distributed:
            torch.distributed.barrier()
        state = _initial_state(model, run_dir, resume=resume, run_stages=run_stages, config=config)
        model.to(device)
        if is_main:
            _write_run_info(run_dir, model, config, run_stages, data_info, world, len(source), len(val_sketches))
            if resume:
                log.truncate_after(state["stage_index"], state["step"])
                progress.print(f"resuming {run_dir} at stage {state['stage']!r} step {state['step']}")
                for done_stage, done_steps in dict(state.get("completed", {})).items():
                    wanted = config.steps_for(done_stage, len(source))
                    if run_stages.index(done_stage) < state["stage_index"] and wanted != done_steps:
                        msg = (f"note: stage {done_stage!r} already finished with {done_steps} steps; "
                               f"it is not re-trained to {wanted} (start a new run folder for that)")
                        warnings.warn(msg, stacklevel=2)
        if config.amp and device.type != "cuda":
            progress.print("amp requested but the device is not CUDA: training in float32")

        for stage_index, stage in enumerate(run_stages):
            if stage_index < state["stage_index"]:
                continue
            _train_stage(model, stage, stage_index, source, val_sketches, config, run_dir, state,
                         device=device, rank=rank, world=world, progress=progress, log=log)
        if is_main and isinstance(source, MemorySource):
            _after_training(model, source.sketches, run_dir, log, progress)
        if is_main and val_sketches:
            model.eval()
            with torch.no_grad():
                final = model.evaluate(val_sketches)
            if final:
                log.write({"type": "final", "stage_index": len(run_stages), "step": 0, **{k: float(v) for k, v in final.items()}})
                progress.print("final: " + ", ".join(f"{k}={float(v):.4g}" for k, v in final.items()))
        if distributed:
            torch.distributed.barrier()  # every rank returns once rank 0 has written everything
    finally:
        progress.stop()
    model.eval()
    return run_dir


def _after_training(model: SketchModel, sketches: Sequence[Any], run_dir: Path, log: _MetricsLog,
                    progress: _Progress) -> None:
    """Run the model's :meth:`~SketchModel.after_training` hook on ``last/`` and ``best/`` and
    re-save both; a no-op for models whose hook does nothing."""
    info = model.after_training(sketches)
    if not info:
        return
    for name in ("last", "best"):
        folder = run_dir / name
        if not (folder / "trainer_state.pt").is_file():
            continue
        target = model
        if name == "best":
            target = load_model(folder).to(next(model.parameters()).device)
            target.after_training(sketches)
        _save_checkpoint(run_dir, name, target, read_trainer_state(folder))
    log.write({"type": "after_training", "stage_index": -1, "step": 0, **{k: float(v) for k, v in info.items()}})
    progress.print("after training: " + ", ".join(f"{k}={float(v):.4g}" for k, v in info.items()))


def _initial_state(model: SketchModel, run_dir: Path, *, resume: bool, run_stages: tuple[str, ...],
                   config: TrainConfig) -> dict[str, Any]:
    last = run_dir / "last"
    if resume:
        if not (last / "config.json").is_file():
            raise InputError(f"{run_dir}: nothing to resume (no last/ checkpoint)")
        saved = read_config(last)
        if saved != json.loads(json.dumps(model.config.to_dict())):
            raise InputError(f"{last}/config.json: model config differs from the model being resumed "
                             f"(build the model from this checkpoint, e.g. load_model('{last}'))")
        loaded = type(model).from_pretrained(last)
        model.load_state_dict(loaded.state_dict())
        state = read_trainer_state(last)
        if tuple(state.get("stages", run_stages)) != run_stages:
            raise InputError(f"{last}: checkpoint trained stages {list(state.get('stages', []))}, "
                             f"but this run trains {list(run_stages)}")
        _set_rng_state(state["rng"])
        state["resumed"] = True
        return state
    if (last / "config.json").is_file():  # check_run_dir refuses such folders; kept as a last guard
        raise InputError(f"{run_dir}: already holds a checkpoint (last/); resume it or choose a new run folder")
    torch.manual_seed(config.seed)
    return {"format_version": _STATE_VERSION, "stages": list(run_stages), "stage_index": 0, "stage": run_stages[0],
            "step": 0, "global_step": 0, "skipped": 0, "best_val": float("inf"), "best_stage_index": -1,
            "completed": {}, "resumed": False}


def _train_stage(model: SketchModel, stage: str, stage_index: int, source: MemorySource | ShardStream,
                 val_sketches: list,
                 config: TrainConfig, run_dir: Path, state: dict[str, Any], *, device: torch.device,
                 rank: int, world: int, progress: _Progress, log: _MetricsLog) -> None:
    is_main = rank == 0
    distributed = world > 1
    total = config.steps_for(stage, len(source))
    params = _stage_params(model, stage)
    param_ids = {id(p) for p in params}
    saved_flags = {id(p): p.requires_grad for p in model.parameters()}
    for p in model.parameters():
        p.requires_grad_(id(p) in param_ids)
    optimizer = _make_optimizer(params, config)
    use_amp = config.amp and device.type == "cuda"
    amp_dtype = torch.bfloat16 if config.amp_dtype == "bfloat16" else torch.float16
    scaler = torch.amp.GradScaler("cuda") if use_amp and amp_dtype == torch.float16 else None

    resumed_here = bool(state.get("resumed")) and state["stage_index"] == stage_index
    stream_opts = dict(batch_size=config.batch_size, world=world, buffer=config.stream_buffer,
                       workers=config.loader_workers)
    if resumed_here:
        source.check_position(state.get("data"), step=int(state["step"]), **stream_opts)
        if state.get("optimizer"):
            optimizer.load_state_dict(state["optimizer"])
        if scaler is not None and state.get("scaler"):
            scaler.load_state_dict(state["scaler"])
        step = int(state["step"])
    else:
        step = 0
        state.update(stage_index=stage_index, stage=stage, step=0)
        if state.get("best_stage_index", -1) != stage_index:
            state["best_val"] = float("inf")
    state["resumed"] = False

    forward_module: nn.Module = model
    if distributed:
        from torch.nn.parallel import DistributedDataParallel as DDP

        forward_module = DDP(model, device_ids=[device.index] if device.type == "cuda" else None,
                             find_unused_parameters=config.ddp_find_unused)

    batches = source.batches(seed=config.seed, stage_index=stage_index, start_step=step, rank=rank, **stream_opts)

    def snapshot() -> dict[str, Any]:
        return {
            "format_version": _STATE_VERSION, "stages": list(state["stages"]), "stage_index": stage_index,
            "stage": stage, "step": step, "global_step": state["global_step"], "skipped": state["skipped"],
            "best_val": float(state["best_val"]), "best_stage_index": int(state.get("best_stage_index", -1)),
            "optimizer": optimizer.state_dict(),
            "scheduler": {"schedule": config.schedule, "step": step, "lr": config.lr_at(step, total) if total else config.lr},
            "scaler": scaler.state_dict() if scaler is not None else {},
            "rng": _rng_state(), "world_size": world, "seed": config.seed,
            "completed": dict(state.get("completed", {})),
            **({"data": position} if (position := source.position(step, **stream_opts)) is not None else {}),
        }

    def save(name: str) -> None:
        if is_main:
            _save_checkpoint(run_dir, name, model, snapshot())

    def validate() -> None:
        if not (is_main and val_sketches):
            return
        vals = validation_losses(model, val_sketches, stage=stage, batch_size=config.batch_size, seed=config.seed,
                                 max_batches=config.val_batches, device=device)
        log.write({"type": "val", "stage": stage, "stage_index": stage_index, "step": step,
                   "global_step": state["global_step"], **{f"val_{k}": v for k, v in vals.items()}})
        loss = vals.get("loss", float("inf"))
        if math.isfinite(loss) and loss < state["best_val"]:
            state["best_val"] = loss
            state["best_stage_index"] = stage_index
            save("best")

    def samples() -> None:
        if is_main and config.num_samples > 0 and state.get("can_sample", True):
            ok = _write_samples(model, run_dir / "samples" / f"step_{state['global_step']:07d}.svg", config,
                                state["global_step"])
            state["can_sample"] = ok

    if resumed_here and step >= total:
        # this stage was finished before the resume (nothing to add: keep its last/ and metrics)
        for p in model.parameters():
            p.requires_grad_(saved_flags.get(id(p), True))
        state["stage_index"], state["step"] = stage_index + 1, 0
        return
    progress.start(f"{stage} ({stage_index + 1}/{len(state['stages'])})", total, step)
    acc: dict[str, float] = {}
    acc_n = 0
    t_last = t_log = time.perf_counter()
    steps_since = 0
    rate = 0.0
    model.train()
    try:
        with _StopFlag() as stop:
            while step < total:
                if stop.requested:
                    raise _GracefulStop
                lr = config.lr_at(step, total)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                g = torch.Generator().manual_seed(_mix_seed("collate", config.seed, stage_index, step, rank))
                batch = _to_device(model.collate(next(batches), stage=stage, generator=g), device)
                optimizer.zero_grad(set_to_none=True)
                with torch.autocast(device_type=device.type, dtype=amp_dtype, enabled=use_amp):
                    out = forward_module(batch, step=step, stage=stage)
                loss = out["loss"]
                if scaler is not None:
                    scaler.scale(loss).backward()
                    scaler.unscale_(optimizer)
                else:
                    loss.backward()
                if config.grad_clip > 0:
                    grad_norm = torch.nn.utils.clip_grad_norm_(params, config.grad_clip)
                else:
                    grad_norm = torch.linalg.vector_norm(torch.stack(
                        [p.grad.detach().norm() for p in params if p.grad is not None] or [torch.zeros((), device=device)]))
                check = torch.stack([loss.detach().float(), grad_norm.detach().float()])
                if distributed:
                    import torch.distributed as dist

                    dist.all_reduce(check)
                    check /= world
                loss_value, norm_value = (float(v) for v in check.cpu())
                # with a float16 grad scaler, inf gradients are routine (the scaler skips the step
                # and lowers its scale); only a non-finite loss counts then
                grads_ok = math.isfinite(norm_value) or scaler is not None
                if not (math.isfinite(loss_value) and grads_ok):
                    what = "loss" if not math.isfinite(loss_value) else "gradient norm"
                    state["skipped"] += 1
                    if config.skip_nonfinite and state["skipped"] <= config.max_skipped:
                        optimizer.zero_grad(set_to_none=True)
                        log.write({"type": "skip", "stage": stage, "stage_index": stage_index, "step": step,
                                   "global_step": state["global_step"], "what": what, "skipped": state["skipped"]})
                        if scaler is not None:
                            scaler.update()
                        step += 1
                        state["global_step"] += 1
                        continue
                    extra = (f" ({state['skipped']} non-finite batches, more than max_skipped={config.max_skipped})"
                             if config.skip_nonfinite else " (set train.skip_nonfinite=true to skip such batches)")
                    raise NonFiniteLossError(
                        f"non-finite {what} ({loss_value if what == 'loss' else norm_value}) at stage {stage!r} "
                        f"step {step}{extra}; {run_dir / 'last'} keeps the last good checkpoint",
                        stage=stage, step=step)
                if scaler is not None:
                    scaler.step(optimizer)
                    scaler.update()
                else:
                    optimizer.step()
                step += 1
                state["global_step"] += 1
                steps_since += 1
                for key, value in out.items():
                    if isinstance(value, torch.Tensor) and value.numel() == 1:
                        acc[key] = acc.get(key, 0.0) + (loss_value if key == "loss" else float(value.detach()))
                acc_n += 1
                now = time.perf_counter()
                if now - t_last >= 0.5 or step == total:
                    rate = steps_since / max(now - t_last, 1e-9)
                    t_last, steps_since = now, 0
                progress.update(step, loss_value, rate)
                if step % config.log_every == 0 or step == total:
                    log.write({"type": "train", "stage": stage, "stage_index": stage_index, "step": step,
                               "global_step": state["global_step"], "lr": lr, "grad_norm": norm_value,
                               "steps_per_s": acc_n / max(now - t_log, 1e-9), **{k: v / acc_n for k, v in acc.items()}})
                    acc, acc_n, t_log = {}, 0, now
                at_end = step == total
                if config.val_every and step % config.val_every == 0 and not at_end:
                    validate()
                    if config.sample_every == 0:
                        samples()
                if config.sample_every and step % config.sample_every == 0 and not at_end:
                    samples()
                if config.checkpoint_every and step % config.checkpoint_every == 0 and not at_end:
                    save("last")
            # end of stage: validate, sample, then mark the stage done in last/
            validate()
            samples()
            progress.stop()
            log.write({"type": "stage_end", "stage": stage, "stage_index": stage_index, "step": step,
                       "global_step": state["global_step"], "skipped": state["skipped"]})
            if is_main and not val_sketches and (run_dir / "best").exists() and state.get("best_stage_index", -1) != stage_index:
                _remove_owned(run_dir / "best", _is_checkpoint_file)  # a best/ of an earlier stage would be stale
            state.setdefault("completed", {})[stage] = step
            next_index = stage_index + 1
            if next_index < len(state["stages"]):
                done = snapshot()
                done.update(stage_index=next_index, stage=state["stages"][next_index], step=0, optimizer={}, scaler={})
                if is_main:
                    _save_checkpoint(run_dir, "last", model, done)
            else:
                save("last")
    except _GracefulStop:
        # Ctrl-C between two steps: the state is consistent, so save it and stop.
        progress.stop()
        save("last")
        progress.print(f"interrupted: saved {run_dir / 'last'} at stage {stage!r} step {step}; "
                       f"continue with resume (--resume)")
        raise KeyboardInterrupt from None
    finally:
        progress.stop()
        batches.close()  # stops DataLoader workers of a stream
        for p in model.parameters():
            p.requires_grad_(saved_flags.get(id(p), True))
    state["stage_index"] = stage_index + 1
    state["step"] = 0
