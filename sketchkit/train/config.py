"""Training settings: :class:`TrainConfig`, typed ``--set`` overrides and JSON/TOML run configs (torch-free)."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import types
import typing
from pathlib import Path
from typing import Any, Iterable, Literal, Mapping, Sequence

from sketchkit.errors import InputError
from sketchkit.models.base import ConfigValueError, NumberRange, check_number

_AT_LEAST_0 = NumberRange(0)
_AT_LEAST_1 = NumberRange(1)
_TRAIN_RANGES: dict[str, NumberRange] = {  # every numeric TrainConfig field
    "steps": _AT_LEAST_0, "epochs": _AT_LEAST_0, "batch_size": _AT_LEAST_1,
    "lr": NumberRange(0, low_open=True), "weight_decay": _AT_LEAST_0, "warmup_steps": _AT_LEAST_0,
    "min_lr_ratio": NumberRange(0, 1), "lr_step_every": _AT_LEAST_1, "lr_gamma": NumberRange(0, 1, low_open=True),
    "grad_clip": _AT_LEAST_0, "val_every": _AT_LEAST_0, "val_batches": _AT_LEAST_0, "checkpoint_every": _AT_LEAST_0,
    "sample_every": _AT_LEAST_0, "num_samples": _AT_LEAST_0, "sample_temperature": _AT_LEAST_0,
    "seed": NumberRange(0, 2**63 - 1), "max_skipped": _AT_LEAST_0, "log_every": _AT_LEAST_1,
    "stream_buffer": _AT_LEAST_1, "loader_workers": _AT_LEAST_0,
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
    stream_buffer: int = 1024  # streamed shards: sketches shuffled together in one seeded window (per reader)
    loader_workers: int = 0  # streamed shards: DataLoader processes reading per rank (0 = the training process)

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
