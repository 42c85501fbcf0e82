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
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import random
import shutil
import signal
import threading
import time
import types
import typing
import warnings
from pathlib import Path
from typing import Any, Iterable, Literal, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from sketchkit.errors import InputError
from sketchkit.models.base import (
    CONFIG_NAME, WEIGHTS_NAME, ConfigValueError, NumberRange, SketchModel, atomic_write_bytes, check_number, read_config,
)

__all__ = [
    "TrainConfig",
    "train",
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

TRAINER_STATE_NAME = "trainer_state.pt"
RUN_INFO_NAME = "run.json"
METRICS_NAME = "metrics.jsonl"
_STATE_VERSION = 1
_CHECKPOINT_FILES = (CONFIG_NAME, WEIGHTS_NAME, TRAINER_STATE_NAME)  # all a checkpoint folder holds


class TrainingError(RuntimeError):
    """Training cannot go on (e.g. a non-finite loss); the last good checkpoint is kept."""


class NonFiniteLossError(TrainingError):
    """The loss or the gradient norm became NaN or infinite at a given stage and step."""

    def __init__(self, message: str, *, stage: str, step: int) -> None:
        super().__init__(message)
        self.stage = stage
        self.step = step


# ------------------------------------------------------------------------------------------------
# Configuration
# ------------------------------------------------------------------------------------------------
_AT_LEAST_0 = NumberRange(0)
_AT_LEAST_1 = NumberRange(1)
_TRAIN_RANGES: dict[str, NumberRange] = {  # every numeric TrainConfig field
    "steps": _AT_LEAST_0, "epochs": _AT_LEAST_0, "batch_size": _AT_LEAST_1,
    "lr": NumberRange(0, low_open=True), "weight_decay": _AT_LEAST_0, "warmup_steps": _AT_LEAST_0,
    "min_lr_ratio": NumberRange(0, 1), "lr_step_every": _AT_LEAST_1, "lr_gamma": NumberRange(0, 1, low_open=True),
    "grad_clip": _AT_LEAST_0, "val_every": _AT_LEAST_0, "val_batches": _AT_LEAST_0, "checkpoint_every": _AT_LEAST_0,
    "sample_every": _AT_LEAST_0, "num_samples": _AT_LEAST_0, "sample_temperature": _AT_LEAST_0,
    "seed": NumberRange(0, 2**63 - 1), "max_skipped": _AT_LEAST_0, "log_every": _AT_LEAST_1,
}


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Settings of one training run (saved into ``run.json``). Every field has a comment."""

    steps: int = 1000  # optimiser steps per stage (unless stage_steps or epochs say otherwise)
    stage_steps: dict[str, int] = dataclasses.field(default_factory=dict)  # per-stage steps, e.g. {"embedder": 500}
    epochs: float = 0.0  # if > 0: steps per stage = ceil(epochs * len(train) / batch_size), overrides steps
    batch_size: int = 32  # sketches per optimiser step (global: split across ranks under torchrun)
    lr: float = 1e-3  # peak learning rate
    optimizer: Literal["adam", "adamw", "sgd"] = "adam"  # optimiser family (sgd uses momentum 0.9)
    weight_decay: float = 0.0  # L2 (adam, sgd) or decoupled (adamw) weight decay
    schedule: Literal["constant", "cosine", "step"] = "constant"  # learning-rate schedule after warm-up
    warmup_steps: int = 0  # linear warm-up from 0 to lr over this many steps (per stage)
    min_lr_ratio: float = 0.0  # cosine: final lr = lr * min_lr_ratio
    lr_step_every: int = 1000  # step schedule: multiply lr by lr_gamma every this many steps
    lr_gamma: float = 0.5  # step schedule: decay factor
    grad_clip: float = 1.0  # clip the global gradient norm to this (0 = no clipping)
    val_every: int = 200  # validate every this many steps and at the end of each stage (0 = stage ends only)
    val_batches: int = 8  # at most this many validation batches per validation (0 = all)
    checkpoint_every: int = 500  # write last/ every this many steps (0 = stage ends only)
    sample_every: int = 0  # render a sample grid every this many steps (0 = at validation time)
    num_samples: int = 16  # sketches in a sample grid (0 = no samples)
    sample_temperature: float = 1.0  # temperature passed to model.sample for the grids
    seed: int = 0  # seeds batch order, collate generators and the global torch RNG
    device: Literal["auto", "cpu", "cuda"] = "auto"  # auto = cuda when available
    amp: bool = False  # mixed precision (CUDA only; ignored with a notice on CPU)
    amp_dtype: Literal["bfloat16", "float16"] = "bfloat16"  # autocast dtype (float16 uses a grad scaler)
    skip_nonfinite: bool = False  # skip batches whose loss/gradient is NaN/inf instead of stopping
    max_skipped: int = 100  # with skip_nonfinite: stop anyway after this many skipped batches
    log_every: int = 10  # write a "train" line to metrics.jsonl every this many steps (averaged)
    quiet: bool = False  # no progress bar or messages (CI)
    ddp_find_unused: bool = False  # torchrun: let DDP tolerate stage parameters a loss does not use

    def __post_init__(self) -> None:
        object.__setattr__(self, "stage_steps", {str(k): v for k, v in dict(self.stage_steps).items()})
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):
            _check_value(getattr(self, f.name), hints[f.name], f"train.{f.name}")
        try:
            for name, allowed in _TRAIN_RANGES.items():
                check_number(name, getattr(self, name), allowed, integer=hints[name] is int)
            for stage, n in self.stage_steps.items():
                check_number(f"stage_steps[{stage!r}]", n, _AT_LEAST_0, integer=True)
        except ConfigValueError as exc:
            raise InputError(f"train.{exc}") from None

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dict of every field."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "TrainConfig":
        """Build from a dict (e.g. ``run.json["train"]``), type-checked; unknown keys are errors."""
        return apply_overrides(cls(), dict(data), prefix="train")

    def replace(self, **changes: Any) -> "TrainConfig":
        """A copy with ``changes`` applied."""
        return dataclasses.replace(self, **changes)

    def steps_for(self, stage: str, num_train: int) -> int:
        """Number of optimiser steps for ``stage`` given ``num_train`` training sketches."""
        if stage in self.stage_steps:
            return int(self.stage_steps[stage])
        if self.epochs > 0:
            return int(math.ceil(self.epochs * num_train / self.batch_size))
        return int(self.steps)

    def lr_at(self, step: int, total: int) -> float:
        """Learning rate at ``step`` (0-based, within a stage of ``total`` steps)."""
        if self.warmup_steps > 0 and step < self.warmup_steps:
            return self.lr * (step + 1) / self.warmup_steps
        if self.schedule == "constant":
            return self.lr
        if self.schedule == "step":
            return self.lr * self.lr_gamma ** ((step - self.warmup_steps) // self.lr_step_every)
        span = max(1, total - self.warmup_steps)
        progress = min(1.0, (step - self.warmup_steps) / span)
        return self.lr * (self.min_lr_ratio + (1 - self.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    if origin is Literal:
        return "one of " + "|".join(str(a) for a in typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(annotation))
    if origin is not None:
        args = ", ".join("..." if a is Ellipsis else _type_name(a) for a in typing.get_args(annotation))
        return f"{origin.__name__}[{args}]"
    if annotation is type(None):
        return "none"
    return getattr(annotation, "__name__", str(annotation))


def _check_value(value: Any, annotation: Any, key: str) -> None:
    """Raise InputError when ``value`` does not match ``annotation`` (used after construction)."""
    try:
        converted = _convert(value, annotation, key)
    except InputError:
        raise
    if converted != value:
        raise InputError(f"{key}: expected {_type_name(annotation)}, got {value!r}")


class _NonFiniteError(InputError):
    """A float setting given as nan/inf (reported as such, also inside ``float | None``)."""


_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def _convert(value: Any, annotation: Any, key: str) -> Any:
    """Convert ``value`` (a CLI string or a JSON/TOML value) to ``annotation``; no eval.

    Raises:
        InputError: naming ``key``, the expected type and the value.
    """

    def fail(extra: str = "") -> typing.NoReturn:
        raise InputError(f"{key}: expected {_type_name(annotation)}, got {value!r}{extra}")

    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if annotation is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if type(None) in args and (value is None or (isinstance(value, str) and value.lower() in ("none", "null"))):
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(value, arg, key)
            except _NonFiniteError:
                raise
            except InputError:
                continue
        fail()
    if origin is Literal:
        for choice in args:
            if value == choice or (isinstance(value, str) and str(choice) == value):
                return choice
        fail()
    if annotation is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        fail(" (use true or false)")
    if annotation is int:
        if isinstance(value, bool):
            fail()
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            fail(" (an integer, without a decimal point)")
        if isinstance(value, str):
            try:
                return int(value.strip().replace("_", ""))
            except ValueError:
                fail()
        fail()
    if annotation is float:
        if isinstance(value, bool):
            fail()
        number = None
        if isinstance(value, (int, float)):
            try:
                number = float(value)
            except OverflowError:  # an int beyond float range
                number = math.inf
        elif isinstance(value, str):
            try:
                number = float(value.strip())
            except ValueError:
                fail()
        if number is None:
            fail()
        if not math.isfinite(number):  # nan/inf would silently switch features off or fail much later
            raise _NonFiniteError(f"{key}: expected a finite number, got {value!r}")
        return number
    if annotation is str:
        if isinstance(value, str):
            return value
        fail()
    if origin is tuple or annotation is tuple:
        items = value
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                try:
                    items = json.loads(text)
                except json.JSONDecodeError:
                    fail(" (a JSON list or comma-separated values)")
            else:
                items = [] if text in ("", "()") else [part.strip() for part in text.strip("()").split(",") if part.strip()]
        if not isinstance(items, (list, tuple)):
            fail()
        if not args:
            return tuple(items)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(v, args[0], f"{key}[{i}]") for i, v in enumerate(items))
        if len(items) != len(args):
            fail(f" ({len(args)} values)")
        return tuple(_convert(v, a, f"{key}[{i}]") for i, (v, a) in enumerate(zip(items, args)))
    if origin is dict or annotation is dict:
        mapping = value
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("{"):
                try:
                    mapping = json.loads(text)
                except json.JSONDecodeError:
                    fail(" (a JSON object or name:value pairs separated by commas)")
            else:
                mapping = {}
                for part in filter(None, (p.strip() for p in text.split(","))):
                    name, sep, val = part.partition(":")
                    if not sep:
                        fail(" (name:value pairs separated by commas)")
                    mapping[name.strip()] = val.strip()
        if not isinstance(mapping, dict):
            fail()
        kt, vt = args if args else (Any, Any)
        return {_convert(k, kt, key): _convert(v, vt, f"{key}[{k!r}]") for k, v in mapping.items()}
    if dataclasses.is_dataclass(annotation):
        if dataclasses.is_dataclass(value):
            return value
        if isinstance(value, dict):
            return apply_overrides(annotation(), value, prefix=key) if _has_defaults(annotation) else fail()
        fail()
    if origin is list or annotation is list:
        return list(_convert(value, tuple[args[0], ...] if args else tuple, key))
    if isinstance(annotation, type) and isinstance(value, annotation):
        return value
    fail()


def _has_defaults(cls: type) -> bool:
    return all(f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
               for f in dataclasses.fields(cls))


def apply_overrides(config: Any, overrides: Mapping[str, Any], *, prefix: str = "") -> Any:
    """A copy of dataclass ``config`` with ``overrides`` applied, each converted to the field's type.

    Args:
        config: a (frozen) dataclass instance, e.g. ``TrainConfig()`` or a family's model config.
        overrides: field name (dotted for nested dataclass fields, e.g. ``"encoder.hidden"``) ->
            value, either a string from the command line (``"1e-3"``, ``"true"``, ``"64,64"``,
            ``"a:1,b:2"``) or a JSON/TOML value. Nested dicts are applied to nested dataclasses.
        prefix: shown before the key in error messages (``"train"`` or ``"model"``).

    Returns:
        A new dataclass instance.

    Raises:
        InputError: unknown key, or a value that does not convert to the field's type (the message
            names the key, the expected type and the value).
    """
    cls = type(config)
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    changes: dict[str, Any] = {}
    nested: dict[str, dict[str, Any]] = {}
    where = f"{prefix}." if prefix else ""
    for raw_key, value in overrides.items():
        name, dot, rest = str(raw_key).partition(".")
        if name not in fields:
            raise InputError(f"{where}{raw_key}: unknown setting for {cls.__name__} (known: {', '.join(sorted(fields))})")
        annotation = hints[name]
        if dot:
            if not dataclasses.is_dataclass(annotation):
                raise InputError(f"{where}{raw_key}: {where}{name} is a {_type_name(annotation)}, not a group of settings")
            nested.setdefault(name, {})[rest] = value
        elif dataclasses.is_dataclass(annotation) and isinstance(value, dict):
            nested.setdefault(name, {}).update(value)
        else:
            changes[name] = _convert(value, annotation, f"{where}{name}")
    for name, sub in nested.items():
        changes[name] = apply_overrides(getattr(config, name), sub, prefix=f"{where}{name}")
    try:
        return dataclasses.replace(config, **changes)
    except ConfigValueError as exc:  # a model config's range check: "field: expected ..."
        raise InputError(f"{where}{exc}") from None
    except InputError:
        raise
    except (TypeError, ValueError) as exc:
        raise InputError(f"{prefix or cls.__name__}: {exc}") from None


def parse_overrides(items: Iterable[str], *, model_config_class: type | None = None) -> tuple[dict[str, str], dict[str, str]]:
    """Split ``--set`` items (``train.lr=1e-3``, ``model.hidden=64``) into train and model overrides.

    A key without a ``train.``/``model.`` prefix goes wherever its first part names a field: in
    :class:`TrainConfig` or in ``model_config_class`` (an error if both or neither have it).

    Returns:
        ``(train_overrides, model_overrides)``: dicts of key (prefix removed) -> string value.

    Raises:
        InputError: an item without ``=``, or an ambiguous/unknown bare key.
    """
    train_over: dict[str, str] = {}
    model_over: dict[str, str] = {}
    train_fields = {f.name for f in dataclasses.fields(TrainConfig)}
    model_fields = {f.name for f in dataclasses.fields(model_config_class)} if model_config_class else set()
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise InputError(f"--set {item!r}: expected key=value, e.g. train.lr=1e-3 or model.hidden=64")
        if key.startswith("train."):
            train_over[key[6:]] = value
        elif key.startswith("model."):
            model_over[key[6:]] = value
        else:
            head = key.split(".")[0]
            in_train, in_model = head in train_fields, head in model_fields
            if in_train and in_model:
                raise InputError(f"--set {key}: ambiguous, use train.{key} or model.{key}")
            if in_train:
                train_over[key] = value
            elif in_model:
                model_over[key] = value
            else:
                raise InputError(f"--set {key}: unknown setting (prefix it with train. or model.; train settings: "
                                 f"{', '.join(sorted(train_fields))})")
    return train_over, model_over


def load_config_file(path: str | os.PathLike) -> dict[str, Any]:
    """Read a JSON or TOML run config: ``{"family": ..., "train": {...}, "model": {...}}``.

    Returns:
        The parsed dict (keys ``family``, ``train``, ``model`` all optional).

    Raises:
        InputError: missing file, unparsable content or unexpected top-level keys.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such config file")
    if path.suffix.lower() == ".toml":
        try:
            import tomllib
        except ImportError:  # Python 3.10
            try:
                import tomli as tomllib  # type: ignore[no-redef]
            except ImportError:
                raise InputError(f"{path}: reading TOML needs Python 3.11+ or the tomli package; "
                                 f"use a .json config instead") from None
    try:
        if path.suffix.lower() == ".toml":
            data = tomllib.loads(path.read_text())
        else:
            data = json.loads(path.read_text())
    except Exception as exc:  # tomllib.TOMLDecodeError, json.JSONDecodeError, UnicodeDecodeError
        raise InputError(f"{path}: not a valid {'TOML' if path.suffix.lower() == '.toml' else 'JSON'} file ({exc})") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a table/object with 'train' and/or 'model' sections")
    unknown = sorted(set(data) - {"family", "train", "model"})
    if unknown:
        raise InputError(f"{path}: unexpected top-level key(s) {unknown} (allowed: family, train, model)")
    for section in ("train", "model"):
        if section in data and not isinstance(data[section], dict):
            raise InputError(f"{path}: '{section}' must be a table/object of settings")
    return data


def build_configs(model_config_class: type, *, config_file: str | os.PathLike | None = None,
                  overrides: Sequence[str] = ()) -> tuple[TrainConfig, Any]:
    """Train and model configs from defaults, then a JSON/TOML file, then ``--set`` overrides.

    Returns:
        ``(TrainConfig, model config instance)``.

    Raises:
        InputError: bad file, unknown key or wrongly typed value.
    """
    file_data = load_config_file(config_file) if config_file else {}
    family = file_data.get("family")
    if family is not None and family != getattr(model_config_class, "family", family):
        raise InputError(f"{config_file}: config is for family {family!r}, not {model_config_class.family!r}")
    train_over, model_over = parse_overrides(overrides, model_config_class=model_config_class)
    tcfg = apply_overrides(TrainConfig(), file_data.get("train", {}), prefix="train")
    tcfg = apply_overrides(tcfg, train_over, prefix="train")
    mcfg = apply_overrides(model_config_class(), file_data.get("model", {}), prefix="model")
    mcfg = apply_overrides(mcfg, model_over, prefix="model")
    return tcfg, mcfg


def config_from_run(run_dir: str | os.PathLike, model_config_class: type) -> tuple[TrainConfig, Any]:
    """The train config (``run.json``) and model config (``last/config.json``) of an existing run.

    Raises:
        InputError: missing/unreadable files, or a run of another family.
    """
    from sketchkit.models.base import config_from_dict

    run_dir = Path(run_dir)
    info = read_run_info(run_dir)  # first: never "recover" anything in a folder that is not a run
    recover_checkpoints(run_dir)
    model_dict = read_config(run_dir / "last") if (run_dir / "last" / "config.json").is_file() else info.get("model")
    if not isinstance(model_dict, dict):
        raise InputError(f"{run_dir}: no model config (neither last/config.json nor run.json 'model')")
    return TrainConfig.from_dict(info.get("train", {})), config_from_dict(model_config_class, model_dict)


# ------------------------------------------------------------------------------------------------
# Small helpers: device, distributed, seeds, batches
# ------------------------------------------------------------------------------------------------
def resolve_device(device: str | torch.device = "auto", *, local_rank: int = 0) -> torch.device:
    """``"auto"`` -> ``cuda:<local_rank>`` when CUDA is available, else CPU.

    Raises:
        InputError: ``"cuda"`` requested on a machine without CUDA.
    """
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device(f"cuda:{local_rank}") if torch.cuda.is_available() else torch.device("cpu")
    if str(device).startswith("cuda"):
        if not torch.cuda.is_available():
            raise InputError(f"device {device!r} requested but CUDA is not available (use --device cpu or auto)")
        return torch.device(device if ":" in str(device) else f"cuda:{local_rank}")
    return torch.device(device)


def _mix_seed(*parts: Any) -> int:
    """A 63-bit seed from any tuple of ints/strings (stable across runs and machines)."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & ((1 << 63) - 1)


def _to_device(obj: Any, device: torch.device) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj.to(device, non_blocking=True)
    if isinstance(obj, dict):
        return {k: _to_device(v, device) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_device(v, device) for v in obj)
    return obj


class _BatchPlan:
    """Which training sketches make up batch ``k`` of a stage: a pure function of (seed, stage, k).

    Each epoch is a fresh permutation (seeded by seed, stage index, epoch); batches are consecutive
    slices of ``batch_size`` (the incomplete tail of an epoch is dropped, unless the whole set is
    smaller than one batch). Under DDP, rank ``r`` of ``w`` takes positions ``r, r + w, ...`` of
    the global batch.
    """

    def __init__(self, n: int, batch_size: int, seed: int, stage_index: int) -> None:
        self.n = n
        self.batch = min(batch_size, n)
        self.per_epoch = max(1, n // self.batch)
        self.seed = seed
        self.stage_index = stage_index
        self._epoch = -1
        self._perm: torch.Tensor | None = None

    def indices(self, step: int, rank: int = 0, world: int = 1) -> list[int]:
        epoch, k = divmod(step, self.per_epoch)
        if epoch != self._epoch:
            g = torch.Generator().manual_seed(_mix_seed("epoch", self.seed, self.stage_index, epoch))
            self._perm = torch.randperm(self.n, generator=g)
            self._epoch = epoch
        assert self._perm is not None
        chunk = self._perm[k * self.batch:(k + 1) * self.batch]
        return chunk[rank::world].tolist()


def _dist_info() -> tuple[int, int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    return rank, world, local


# ------------------------------------------------------------------------------------------------
# Checkpoints
# ------------------------------------------------------------------------------------------------
def recover_checkpoints(run_dir: str | os.PathLike) -> None:
    """Finish an interrupted checkpoint switch in ``run_dir`` and remove stale temp folders.

    If a crash hit between the two renames of a checkpoint switch, ``last/`` (or ``best/``) is
    missing and ``last.old/`` holds the previous good checkpoint: it is moved back.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        return
    for name in ("last", "best"):
        final, old = run_dir / name, run_dir / f"{name}.old"
        if old.is_dir():
            if final.is_dir():
                _try_remove_owned(old)
            else:
                os.replace(old, final)
    for tmp in run_dir.glob(".ckpt-*.tmp"):
        if tmp.is_dir():
            _try_remove_owned(tmp)


def _try_remove_owned(folder: Path) -> None:
    try:
        _remove_owned(folder, _is_checkpoint_file)
    except (InputError, OSError):  # foreign files stay; check_run_dir reports them before training
        pass


def _is_temp_of(name: str, targets: Iterable[str]) -> bool:
    """``name`` is a temp file of :func:`sketchkit._io.write_atomic` for one of ``targets``."""
    return name.endswith(".tmp") and any(name.startswith(f".{t}.") for t in targets)


def _is_checkpoint_file(name: str) -> bool:
    return name in _CHECKPOINT_FILES or _is_temp_of(name, _CHECKPOINT_FILES)


def _is_sample_file(name: str) -> bool:
    stem = name[1:] if name.startswith(".") and name.endswith(".tmp") else name
    return stem.startswith("step_") and (stem.endswith(".svg") or ".svg." in stem)


def _foreign_entries(folder: Path, owned: typing.Callable[[str], bool]) -> list[str]:
    """Names in ``folder`` that sketchkit does not write there (sub-folders always count)."""
    return sorted(p.name for p in folder.iterdir() if p.is_dir() or not owned(p.name))


def _remove_owned(folder: Path, owned: typing.Callable[[str], bool]) -> None:
    """Delete the files ``owned`` accepts in ``folder``, then the folder if it is empty.

    Never deletes anything else: a folder still holding other files is kept and reported.
    """
    if not folder.is_dir():
        return
    for p in folder.iterdir():
        if p.is_file() and not p.is_symlink() and owned(p.name):
            p.unlink()
    left = sorted(p.name for p in folder.iterdir())
    if left:
        raise InputError(f"{folder}: holds {', '.join(left[:5])}, which sketchkit did not write; "
                         f"kept it (move those files away)")
    folder.rmdir()


def read_run_info(run_dir: str | os.PathLike) -> dict[str, Any]:
    """``run_dir/run.json`` as a dict.

    Raises:
        InputError: the file is missing, not valid JSON, or not a sketchkit run description (one
            line naming the file).
    """
    path = Path(run_dir) / RUN_INFO_NAME
    if not path.is_file():
        raise InputError(f"{path}: no such file (not a sketchkit training run folder)")
    try:
        info = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not valid JSON ({exc}); the run description is corrupt") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if not isinstance(info, dict) or not isinstance(info.get("family"), str):
        raise InputError(f"{path}: not a sketchkit run description (no 'family' entry)")
    return info


def check_run_dir(run_dir: str | os.PathLike, family: str, *, resume: bool = False, overwrite: bool = False) -> None:
    """Refuse run folders where training would lose or mix up files; reads only, changes nothing.

    * ``resume``: ``run_dir`` must hold a readable ``run.json`` of ``family``.
    * a new run: ``run_dir`` must be missing or empty. With ``overwrite``, a folder holding other
      things is accepted; :func:`train` then deletes only what sketchkit writes there (``run.json``,
      ``metrics.jsonl``, the checkpoint folders, ``samples/step_*.svg``) and leaves the rest.
    * either way, ``last/`` and ``best/`` (and their ``.old`` copies) must not hold files sketchkit
      did not write, since each checkpoint replaces those folders.

    Raises:
        InputError: one line naming the folder (or file) and what to do instead.
    """
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise InputError(f"{run_dir}: exists and is not a folder (the run folder must be a folder)")
    if resume:
        if not (run_dir / RUN_INFO_NAME).is_file():
            raise InputError(f"{run_dir}: nothing to resume (no {RUN_INFO_NAME})")
        info = read_run_info(run_dir)
        if info["family"] != family:
            raise InputError(f"{run_dir}: the run trains {info['family']!r}, not {family!r}")
        _check_owned_subfolders(run_dir)
        return
    if not run_dir.is_dir() or not any(run_dir.iterdir()):
        return
    try:
        info: dict[str, Any] | None = read_run_info(run_dir)
    except InputError:
        info = None
    if not overwrite:
        if info is not None and info["family"] == family:
            raise InputError(f"{run_dir}: already holds a {family!r} training run; continue it (--resume) or "
                             f"start it over (--overwrite)")
        what = (f"holds a {info['family']!r} training run" if info is not None
                else "is not empty and is not a sketchkit training run")
        raise InputError(f"{run_dir}: {what}; choose a new or empty folder, or pass --overwrite to replace "
                         f"the files sketchkit writes there")
    if info is None:
        for name in (RUN_INFO_NAME, METRICS_NAME):
            if (run_dir / name).exists():
                raise InputError(f"{run_dir / name}: not written by a sketchkit run; --overwrite replaces only "
                                 f"sketchkit's files (move it away)")
    _check_owned_subfolders(run_dir)


def _check_owned_subfolders(run_dir: Path) -> None:
    temps = sorted(p.name for p in run_dir.glob(".ckpt-*.tmp"))  # interrupted checkpoint writes
    for name in ("last", "best", "last.old", "best.old", "samples", *temps):
        folder = run_dir / name
        if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
            raise InputError(f"{folder}: expected the folder sketchkit writes there, found something else (move it away)")
        if folder.is_dir() and name != "samples":  # samples/ only gains files; the others are replaced
            foreign = _foreign_entries(folder, _is_checkpoint_file)
            if foreign:
                raise InputError(f"{folder}: holds {', '.join(foreign[:5])}, which sketchkit did not write; "
                                 f"training would replace this folder (move those files away first)")


def _clear_run_dir(run_dir: Path) -> None:
    """Delete what a previous run wrote into ``run_dir`` (after :func:`check_run_dir` with overwrite)."""
    top = (RUN_INFO_NAME, METRICS_NAME)
    for p in run_dir.iterdir():
        if p.is_file() and (p.name in top or _is_temp_of(p.name, top)):
            p.unlink()
    for name in ("last", "best", "last.old", "best.old"):
        _remove_owned(run_dir / name, _is_checkpoint_file)
    for tmp in run_dir.glob(".ckpt-*.tmp"):
        if tmp.is_dir():
            _remove_owned(tmp, _is_checkpoint_file)
    samples = run_dir / "samples"
    if samples.is_dir():
        for p in samples.iterdir():
            if p.is_file() and not p.is_symlink() and _is_sample_file(p.name):
                p.unlink()
        if not any(samples.iterdir()):
            samples.rmdir()


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def _save_checkpoint(run_dir: Path, name: str, model: SketchModel, state: dict[str, Any]) -> Path:
    """Write ``run_dir/name/`` (config.json, model.safetensors, trainer_state.pt) atomically."""
    import io
    import tempfile

    tmp = Path(tempfile.mkdtemp(dir=run_dir, prefix=f".ckpt-{name}-", suffix=".tmp"))
    try:
        model.save_pretrained(tmp)
        buffer = io.BytesIO()
        torch.save(state, buffer)
        atomic_write_bytes(tmp / TRAINER_STATE_NAME, buffer.getvalue())
        _fsync_dir(tmp)
        final, old = run_dir / name, run_dir / f"{name}.old"
        _remove_owned(old, _is_checkpoint_file)  # only sketchkit's files; anything else stops the run
        if final.exists():
            os.replace(final, old)
        os.replace(tmp, final)
        _fsync_dir(run_dir)
        _remove_owned(old, _is_checkpoint_file)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return run_dir / name


def read_trainer_state(checkpoint_dir: str | os.PathLike) -> dict[str, Any]:
    """Load ``trainer_state.pt`` from a checkpoint folder with ``weights_only=True``.

    Raises:
        InputError: missing or unreadable file.
    """
    path = Path(checkpoint_dir) / TRAINER_STATE_NAME
    if not path.is_file():
        raise InputError(f"{path}: no such file (not a training checkpoint)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise InputError(f"{path}: not a readable trainer state ({exc})") from None
    if not isinstance(state, dict) or "step" not in state or "stage_index" not in state:
        raise InputError(f"{path}: not a sketchkit trainer state (no step/stage_index)")
    if int(state.get("format_version", 1)) > _STATE_VERSION:
        raise InputError(f"{path}: trainer state format_version {state['format_version']} is newer than "
                         f"this sketchkit supports ({_STATE_VERSION})")
    return state


def read_metrics(run_dir: str | os.PathLike) -> list[dict[str, Any]]:
    """All records of ``run_dir/metrics.jsonl`` (a truncated last line is ignored)."""
    path = Path(run_dir) / METRICS_NAME
    if not path.is_file():
        return []
    records = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def _rng_state() -> dict[str, Any]:
    np_state = np.random.get_state(legacy=False)
    py_version, py_internal, py_gauss = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "bit_generator": str(np_state["bit_generator"]),
            "key": torch.from_numpy(np.asarray(np_state["state"]["key"], dtype=np.int64)),
            "pos": int(np_state["state"]["pos"]),
            "has_gauss": int(np_state["has_gauss"]),
            "gauss": float(np_state["gauss"]),
        },
        "python": {"version": int(py_version), "internal": list(py_internal), "gauss": py_gauss},
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: Mapping[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    npst = state["numpy"]
    np.random.set_state({
        "bit_generator": npst["bit_generator"],
        "state": {"key": npst["key"].numpy().astype(np.uint32), "pos": int(npst["pos"])},
        "has_gauss": int(npst["has_gauss"]),
        "gauss": float(npst["gauss"]),
    })
    py = state["python"]
    random.setstate((py["version"], tuple(py["internal"]), py["gauss"]))
    if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])


# ------------------------------------------------------------------------------------------------
# Validation and samples
# ------------------------------------------------------------------------------------------------
@torch.no_grad()
def validation_losses(model: SketchModel, sketches: Sequence[Any], *, stage: str, batch_size: int = 32,
                      seed: int = 0, max_batches: int = 0, device: torch.device | None = None) -> dict[str, float]:
    """Mean of every scalar term of ``model.loss`` over ``sketches`` in fixed batches.

    Batches are consecutive slices (no shuffling) and each collate generator is seeded from
    ``(seed, stage, batch index)``, and ``model.loss`` is called with ``step=0`` (so step-dependent
    weights such as an annealed KL term take their step-0 value), so the numbers are comparable
    across calls, across training time, and between training and ``sketchkit eval``.

    Args:
        model: any family.
        sketches: held-out sketches.
        stage: which stage's loss to compute.
        batch_size: sketches per batch.
        seed: seeds the collate generators.
        max_batches: use at most this many batches (0 = all).
        device: where to compute (default: the model's device).

    Returns:
        ``{"loss": ..., <other terms>: ...}`` weighted by batch size; empty when ``sketches`` is empty.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size: expected >= 1, got {batch_size}")
    device = device or model.device
    was_training = model.training
    model.eval()
    totals: dict[str, float] = {}
    count = 0
    try:
        for b, start in enumerate(range(0, len(sketches), batch_size)):
            if max_batches and b >= max_batches:
                break
            chunk = list(sketches[start:start + batch_size])
            g = torch.Generator().manual_seed(_mix_seed("val", seed, stage, b))
            batch = _to_device(model.collate(chunk, stage=stage, generator=g), device)
            out = model.loss(batch, step=0, stage=stage)
            for key, value in out.items():
                if isinstance(value, torch.Tensor) and value.numel() == 1:
                    totals[key] = totals.get(key, 0.0) + float(value.detach()) * len(chunk)
                elif isinstance(value, (int, float)):
                    totals[key] = totals.get(key, 0.0) + float(value) * len(chunk)
            count += len(chunk)
    finally:
        model.train(was_training)
    return {k: v / count for k, v in totals.items()} if count else {}


def _write_samples(model: SketchModel, path: Path, config: TrainConfig, step_seed: int) -> bool:
    """Render ``num_samples`` samples to ``path`` as an SVG grid; False when not possible."""
    try:
        from sketchkit.render import grid_svg
    except ImportError:
        return False
    was_training = model.training
    model.eval()
    try:
        g = torch.Generator(device="cpu").manual_seed(_mix_seed("samples", config.seed, step_seed))
        items = model.sample(config.num_samples, generator=g, temperature=config.sample_temperature)
    except NotImplementedError:
        return False
    finally:
        model.train(was_training)
    grid_svg(items, path)
    return True


# ------------------------------------------------------------------------------------------------
# Progress
# ------------------------------------------------------------------------------------------------
class _Progress:
    """Rich progress bar (step, loss, steps/s, ETA) on rank 0 unless quiet."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._progress = None
        self._task = None
        self._console = None
        if enabled:
            from rich.console import Console

            self._console = Console(stderr=True)

    def print(self, message: str) -> None:
        if self.enabled and self._console is not None:
            self._console.print(message, highlight=False)

    def start(self, stage: str, total: int, completed: int) -> None:
        if not self.enabled:
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        self._progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]}"), TextColumn("{task.fields[rate]} steps/s"),
            TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
            console=self._console, transient=False,
        )
        self._progress.start()
        self._task = self._progress.add_task(stage, total=total, completed=completed, loss="-", rate="-")

    def update(self, step: int, loss: float, rate: float) -> None:
        if self._progress is not None:
            self._progress.update(self._task, completed=step, loss=f"{loss:.4g}", rate=f"{rate:.1f}")

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


class _GracefulStop(Exception):
    """Raised between steps after a first Ctrl-C."""


class _StopFlag:
    """SIGINT -> finish the current step, save last/, stop. A second Ctrl-C interrupts at once."""

    def __init__(self) -> None:
        self.requested = False
        self._previous = None

    def __enter__(self) -> "_StopFlag":
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.getsignal(signal.SIGINT)
            signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame) -> None:  # noqa: ARG002
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc: Any) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


# ------------------------------------------------------------------------------------------------
# The engine
# ------------------------------------------------------------------------------------------------
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


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


class _MetricsLog:
    def __init__(self, path: Path, enabled: bool) -> None:
        self.path = path
        self.enabled = enabled

    def write(self, record: dict[str, Any]) -> None:
        if not self.enabled:
            return
        record = {k: _json_safe(v) for k, v in record.items()}
        with open(self.path, "a") as f:
            f.write(json.dumps(record) + "\n")
            f.flush()

    def truncate_after(self, stage_index: int, step: int) -> None:
        """Drop records logged after the checkpoint being resumed (they will be logged again)."""
        if not self.enabled or not self.path.is_file():
            return
        keep = [r for r in read_metrics(self.path.parent) if r.get("type") != "final"
                and (r.get("stage_index", 0), r.get("step", 0)) <= (stage_index, step)]
        atomic_write_bytes(self.path, "".join(json.dumps(r) + "\n" for r in keep).encode())


def train(model: SketchModel, train_sketches: Sequence[Any], *, val_sketches: Sequence[Any] | None = None,
          config: TrainConfig, run_dir: str | os.PathLike, resume: bool = False,
          stages: Sequence[str] | None = None, data_info: Mapping[str, Any] | None = None,
          overwrite: bool = False) -> Path:
    """Train ``model`` stage by stage; write checkpoints, metrics and samples into ``run_dir``.

    Args:
        model: any :class:`SketchModel`. It is trained in place (and moved to the chosen device).
        train_sketches: training items handed to ``model.collate`` (usually :class:`Sketch`).
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
    train_sketches = list(train_sketches)
    val_sketches = list(val_sketches) if val_sketches is not None else []
    if not train_sketches:
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
            _write_run_info(run_dir, model, config, run_stages, data_info, world, len(train_sketches), len(val_sketches))
            if resume:
                log.truncate_after(state["stage_index"], state["step"])
                progress.print(f"resuming {run_dir} at stage {state['stage']!r} step {state['step']}")
                for done_stage, done_steps in dict(state.get("completed", {})).items():
                    wanted = config.steps_for(done_stage, len(train_sketches))
                    if run_stages.index(done_stage) < state["stage_index"] and wanted != done_steps:
                        msg = (f"note: stage {done_stage!r} already finished with {done_steps} steps; "
                               f"it is not re-trained to {wanted} (start a new run folder for that)")
                        warnings.warn(msg, stacklevel=2)
        if config.amp and device.type != "cuda":
            progress.print("amp requested but the device is not CUDA: training in float32")

        for stage_index, stage in enumerate(run_stages):
            if stage_index < state["stage_index"]:
                continue
            _train_stage(model, stage, stage_index, train_sketches, val_sketches, config, run_dir, state,
                         device=device, rank=rank, world=world, progress=progress, log=log)
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


def _write_run_info(run_dir: Path, model: SketchModel, config: TrainConfig, run_stages: tuple[str, ...],
                    data_info: Mapping[str, Any] | None, world: int, n_train: int, n_val: int) -> None:
    import sketchkit

    path = run_dir / RUN_INFO_NAME
    info: dict[str, Any] = {}
    if path.is_file():
        try:
            info = json.loads(path.read_text())
        except json.JSONDecodeError:
            info = {}
    history = list(info.get("history", []))
    history.append({"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "train": config.to_dict(),
                    "world_size": world})
    info.update({
        "sketchkit_version": sketchkit.__version__,
        "family": model.config.family,
        "model": model.config.to_dict(),
        "train": config.to_dict(),
        "stages": list(run_stages),
        "data": {**dict(data_info or {}), "num_train": n_train, "num_val": n_val},
        "world_size": world,
        "history": history,
    })
    atomic_write_bytes(path, json.dumps(info, indent=2, default=str).encode())


def _train_stage(model: SketchModel, stage: str, stage_index: int, train_sketches: list, val_sketches: list,
                 config: TrainConfig, run_dir: Path, state: dict[str, Any], *, device: torch.device,
                 rank: int, world: int, progress: _Progress, log: _MetricsLog) -> None:
    is_main = rank == 0
    distributed = world > 1
    total = config.steps_for(stage, len(train_sketches))
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
    if resumed_here:
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

    plan = _BatchPlan(len(train_sketches), config.batch_size, config.seed, stage_index)
    if plan.batch < world:
        raise InputError(f"batch of {plan.batch} sketches cannot be split across {world} processes")

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
                idx = plan.indices(step, rank, world)
                g = torch.Generator().manual_seed(_mix_seed("collate", config.seed, stage_index, step, rank))
                batch = _to_device(model.collate([train_sketches[i] for i in idx], stage=stage, generator=g), device)
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
        for p in model.parameters():
            p.requires_grad_(saved_flags.get(id(p), True))
    state["stage_index"] = stage_index + 1
    state["step"] = 0
