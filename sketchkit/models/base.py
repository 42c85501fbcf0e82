"""The one interface every model family implements, plus save/load and the family registry.

A family is a :class:`SketchModel` subclass with a frozen config dataclass (subclass of
:class:`ModelConfig`). The training engine (:mod:`sketchkit.train`) drives any family through:

* ``collate(sketches, stage=..., generator=...) -> batch`` (a dict of tensors on CPU),
* ``loss(batch, step=..., stage=...) -> dict`` with a scalar ``"loss"`` (others are logged),
* ``stage_parameters(stage)`` — what the optimiser updates in a stage,
* ``sample(n, generator=..., temperature=...)`` where the family can generate,
* ``save_pretrained(dir)`` / ``from_pretrained(dir)``: ``config.json`` + ``model.safetensors``.

Families with several training stages (e.g. BézierSketch: embedder, then generator) list them
in ``stages``; the engine trains them in order.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import numbers
import os
import types
import typing
from pathlib import Path
from typing import Any, ClassVar, Iterable, Sequence

import torch
from torch import nn

from sketchkit._io import write_atomic as atomic_write_bytes
from sketchkit.errors import InputError
from sketchkit.sketch import BezierSketch, Sketch

__all__ = [
    "ModelConfig",
    "SketchModel",
    "ModelLoadError",
    "register_model",
    "model_registry",
    "load_model",
    "config_from_dict",
    "check_sample_args",
    "NumberRange",
    "ConfigValueError",
    "atomic_write_bytes",
    "read_safetensors_shapes",
    "CONFIG_NAME",
    "WEIGHTS_NAME",
]

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"

_REGISTRY: dict[str, type["SketchModel"]] = {}


class ModelLoadError(InputError):
    """A checkpoint that cannot be loaded: wrong family, newer format, wrong shapes, corrupt file."""


class ConfigValueError(InputError):
    """A config field out of range; ``str()`` starts with the field name (callers add a prefix)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclasses.dataclass(frozen=True)
class NumberRange:
    """An interval of allowed values; ``None`` = unbounded on that side."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False  # True: low itself is not allowed
    high_open: bool = False  # True: high itself is not allowed

    def __contains__(self, value: float) -> bool:
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        if self.high is not None and (value >= self.high if self.high_open else value > self.high):
            return False
        return True

    def describe(self, integer: bool) -> str:
        """E.g. ``"an integer >= 1"``, ``"a finite number > 0"``, ``"a number in [0, 1]"``."""
        def fmt(x: float) -> str:
            return str(int(x)) if float(x).is_integer() else f"{x:g}"

        what = "an integer" if integer else "a finite number"
        if self.low is not None and self.high is not None:
            return (f"{'an integer' if integer else 'a number'} in {'(' if self.low_open else '['}{fmt(self.low)}, "
                    f"{fmt(self.high)}{')' if self.high_open else ']'}")
        if self.low is not None:
            return f"{what} {'>' if self.low_open else '>='} {fmt(self.low)}"
        if self.high is not None:
            return f"{what} {'<' if self.high_open else '<='} {fmt(self.high)}"
        return what


def check_number(key: str, value: Any, allowed: NumberRange | None = None, *, integer: bool = False) -> None:
    """Raise :class:`ConfigValueError` unless ``value`` is a finite number (an integer if asked) in ``allowed``."""
    allowed = allowed or NumberRange()
    ok_type = isinstance(value, numbers.Integral if integer else numbers.Real) and not isinstance(value, bool)
    if not ok_type or (not integer and not math.isfinite(value)) or value not in allowed:
        raise ConfigValueError(key, f"expected {allowed.describe(integer)}, got {value!r}")


# Allowed ranges of model config fields, by field name, so that every family gets them without
# code of its own. First match wins; "*_x" matches a suffix, "x_*" a prefix, anything else the
# whole name. A family adds its own checks (e.g. one field against another) in __post_init__.
_AT_LEAST_0 = NumberRange(0)
_AT_LEAST_1 = NumberRange(1)
_POSITIVE = NumberRange(0, low_open=True)
_INT_RULES: tuple[tuple[tuple[str, ...], NumberRange], ...] = (
    (("*_steps", "*_every"), _AT_LEAST_0),
    (("*_points",), NumberRange(2)),
    (("hidden", "latent", "*_hidden", "*_dim", "*_layers", "*_latent", "*_width", "*_widths", "*_samples",
      "*_mixtures", "*_heads", "*_components", "*_cells", "*_basis", "*_size", "*_degree", "*_strokes", "num_*", "max_*", "min_*",
      "n_*"),
     _AT_LEAST_1),
)
_FLOAT_RULES: tuple[tuple[tuple[str, ...], NumberRange], ...] = (
    (("dropout", "*_dropout", "*_prob", "*_probability", "pen_threshold"), NumberRange(0, 1)),
    (("random_*",), NumberRange(0, 1, high_open=True)),  # e.g. scale by U(1 - s, 1 + s)
    (("scale", "*_scale", "canvas", "*_blur", "*_size", "*tol", "sigma_*", "frequency"), _POSITIVE),
    (("*_weight", "*_penalty", "*_tolerance", "*_threshold", "*_ridge", "*_angle", "*_epsilon", "*_level",
      "jitter", "*_free", "*_floor", "*_beta", "*_spacing"), _AT_LEAST_0),
)


def _name_matches(name: str, patterns: Iterable[str]) -> bool:
    for pattern in patterns:
        if pattern.startswith("*"):
            if name.endswith(pattern[1:]):
                return True
        elif pattern.endswith("*"):
            if name.startswith(pattern[:-1]):
                return True
        elif name == pattern:
            return True
    return False


def field_range(name: str, kind: type) -> NumberRange | None:
    """The range the generic check enforces on a numeric config field (``None``: finite only)."""
    for patterns, allowed in (_INT_RULES if kind is int else _FLOAT_RULES):
        if _name_matches(name, patterns):
            return allowed
    return None


@functools.lru_cache(maxsize=None)
def _numeric_fields(cls: type) -> tuple[tuple[str, type, bool, bool], ...]:
    """``(name, int|float, optional, is_tuple)`` for the numeric fields of config class ``cls``."""
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        annotation, optional, many = hints[f.name], False, False
        if typing.get_origin(annotation) in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            optional = len(args) < len(typing.get_args(annotation))
            if len(args) != 1:
                continue
            annotation = args[0]
        if typing.get_origin(annotation) is tuple:  # tuple[int, ...] or tuple[float, float]
            args = [a for a in typing.get_args(annotation) if a is not Ellipsis]
            if not args or any(a is not args[0] for a in args):
                continue
            annotation, many = args[0], True
        if annotation in (int, float):
            out.append((f.name, annotation, optional, many))
    return tuple(out)


def check_config_numbers(config: Any) -> None:
    """The generic check every :class:`ModelConfig` runs: numeric fields finite and in range.

    Raises:
        ConfigValueError: naming the field, the expected range and the value.
    """
    for name, kind, optional, many in _numeric_fields(type(config)):
        value = getattr(config, name)
        if value is None and optional:
            continue
        allowed = getattr(type(config), "field_ranges", {}).get(name) or field_range(name, kind)
        if many:
            if not isinstance(value, (tuple, list)):
                raise ConfigValueError(name, f"expected a tuple of numbers, got {value!r}")
            for i, v in enumerate(value):
                check_number(f"{name}[{i}]", v, allowed, integer=kind is int)
        else:
            check_number(name, value, allowed, integer=kind is int)


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Base of every family's config. Subclasses add fields, each with a comment.

    Construction checks every numeric field (finite; in the range ``field_ranges`` or else
    :func:`field_range` gives its name, e.g. sizes >= 1, probabilities in [0, 1]) and raises
    :class:`ConfigValueError`. The check also runs when a subclass defines its own
    ``__post_init__`` without calling super().
    """

    family: ClassVar[str] = ""  # registry name, e.g. "bezier"; written into config.json
    format_version: ClassVar[int] = 1  # bump when the saved layout changes incompatibly
    # field name -> allowed range, replacing the generic rule of field_range() for this family
    field_ranges: ClassVar[dict[str, NumberRange]] = {}

    def __post_init__(self) -> None:
        check_config_numbers(self)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = cls.__dict__.get("__post_init__")
        if own is None or getattr(own, "_runs_number_check", False):
            return

        @functools.wraps(own)
        def __post_init__(self: Any) -> None:
            check_config_numbers(self)
            own(self)

        __post_init__._runs_number_check = True  # type: ignore[attr-defined]
        cls.__post_init__ = __post_init__  # type: ignore[method-assign]

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dict including ``family`` and ``format_version``."""
        d = dataclasses.asdict(self)
        return {"family": self.family, "format_version": self.format_version, **d}

    def replace(self, **changes: Any) -> "ModelConfig":
        """A copy with ``changes`` applied (configs are frozen)."""
        return dataclasses.replace(self, **changes)


def _coerce(value: Any, annotation: Any, name: str) -> Any:
    """Turn a JSON value back into the annotated type (tuples, nested dataclasses, floats)."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if dataclasses.is_dataclass(annotation) and isinstance(value, dict):
        return config_from_dict(annotation, value, check_family=False)
    if origin is tuple and isinstance(value, (list, tuple)):
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(v, args[0], name) for v in value)
        return tuple(_coerce(v, a, name) for v, a in zip(value, args)) if args else tuple(value)
    if annotation is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def config_from_dict(cls: type, data: dict[str, Any], *, check_family: bool = True) -> Any:
    """Build config dataclass ``cls`` from a dict (as read from ``config.json``).

    Raises:
        ModelLoadError: the dict names another family, a newer format version, or unknown fields.
    """
    data = dict(data)
    family = data.pop("family", None)
    version = data.pop("format_version", 1)
    if check_family and family != getattr(cls, "family", None):
        raise ModelLoadError(f"config is for model family {family!r}, expected {cls.family!r}")
    if check_family and int(version) > cls.format_version:
        raise ModelLoadError(
            f"config has format_version {version}, newer than this sketchkit supports "
            f"({cls.format_version}); upgrade sketchkit"
        )
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - fields)
    if unknown:
        raise ModelLoadError(f"{cls.__name__}: unknown config field(s) {unknown}")
    try:
        return cls(**{k: _coerce(v, hints[k], k) for k, v in data.items()})
    except (TypeError, ValueError) as exc:  # a field out of range or of the wrong type
        raise ModelLoadError(str(exc)) from None


def check_sample_args(n: Any, temperature: Any) -> None:
    """The one check of ``sample(n, temperature=...)`` arguments shared by every family.

    Raises:
        ValueError: ``n`` is not an integer >= 1, or ``temperature`` is not a finite number >= 0.
    """
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise ValueError(f"n: expected an integer >= 1, got {n!r}")
    if isinstance(temperature, bool) or not isinstance(temperature, numbers.Real) \
            or not math.isfinite(temperature) or temperature < 0:
        raise ValueError(f"temperature: expected a finite number >= 0, got {temperature!r}")


def register_model(cls: type["SketchModel"]) -> type["SketchModel"]:
    """Class decorator: register a family under ``cls.config_class.family``."""
    name = cls.config_class.family
    if not name:
        raise ValueError(f"{cls.__name__}.config_class has no family name")
    _REGISTRY[name] = cls
    return cls


def model_registry() -> dict[str, type["SketchModel"]]:
    """Name -> model class for every family (importing the built-in families on first use)."""
    import sketchkit.models  # noqa: F401  (registers the built-in families)

    return dict(_REGISTRY)


class SketchModel(nn.Module):
    """Base class of every model family.

    Subclasses set ``config_class`` and implement ``collate`` and ``loss``; generative families
    implement ``sample``. Construction takes only the config, so ``from_pretrained`` can rebuild
    any family from its ``config.json``.
    """

    config_class: ClassVar[type[ModelConfig]] = ModelConfig
    stages: ClassVar[tuple[str, ...]] = ("main",)  # training stages, in order

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        if not isinstance(config, self.config_class):
            raise TypeError(f"{type(self).__name__} expects a {self.config_class.__name__}, got {type(config).__name__}")
        self.config = config

    # -- what the training engine calls -------------------------------------------------------
    def collate(self, sketches: Sequence[Sketch], *, stage: str = "main",
                generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """Turn a list of sketches into a batch (dict of CPU tensors) for ``loss``."""
        raise NotImplementedError

    def loss(self, batch: dict[str, torch.Tensor], *, step: int = 0, stage: str = "main") -> dict[str, torch.Tensor]:
        """Training objective on a batch: a dict with a scalar ``"loss"`` plus logged terms."""
        raise NotImplementedError

    def after_training(self, sketches: Sequence[Sketch]) -> dict[str, float]:
        """Called by the training engine once every stage is done, with the training sketches
        (in-memory runs only), before the final checkpoints are written; for work that needs the
        trained weights and the whole training set, such as fitting a latent prior. Returns
        numbers to log (empty: nothing was done)."""
        return {}

    def forward(self, batch: dict[str, torch.Tensor], *, step: int = 0, stage: str = "main") -> dict[str, torch.Tensor]:
        """Same as :meth:`loss`; lets DistributedDataParallel wrap the model and all-reduce gradients."""
        return self.loss(batch, step=step, stage=stage)

    def stage_parameters(self, stage: str) -> Iterable[nn.Parameter]:
        """Parameters the optimiser updates in ``stage`` (default: all)."""
        return self.parameters()

    @classmethod
    def config_for_data(cls, config: ModelConfig, sketches: Sequence[Sketch]) -> ModelConfig:
        """``config`` with data-dependent constants (e.g. normalisation scales) estimated from
        the training sketches. Called once before a new run (never on resume); default: unchanged."""
        return config

    def evaluate(self, sketches: Sequence[Sketch]) -> dict[str, float]:
        """Held-out metrics (e.g. reconstruction Chamfer in normalised units). Default: none."""
        return {}

    @property
    def device(self) -> torch.device:
        """Device of the model's parameters (CPU for a parameter-less model)."""
        for p in self.parameters():
            return p.device
        return torch.device("cpu")

    # -- generation ---------------------------------------------------------------------------
    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None,
               temperature: float = 1.0) -> list[Sketch | BezierSketch]:
        """Draw ``n`` new sketches. Families that cannot generate raise ``NotImplementedError``."""
        raise NotImplementedError(f"{type(self).__name__} cannot sample")

    # -- persistence --------------------------------------------------------------------------
    def save_pretrained(self, directory: str | os.PathLike) -> Path:
        """Write ``config.json`` and ``model.safetensors`` into ``directory`` (atomically)."""
        from safetensors.torch import save as save_safetensors

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        tensors = {k: v.detach().to("cpu").contiguous() for k, v in self.state_dict().items()}
        atomic_write_bytes(directory / WEIGHTS_NAME, save_safetensors(tensors, metadata={"family": self.config.family}))
        atomic_write_bytes(directory / CONFIG_NAME, json.dumps(self.config.to_dict(), indent=2).encode())
        return directory

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike, *, device: str | torch.device = "cpu") -> "SketchModel":
        """Rebuild a model from ``save_pretrained`` output.

        Raises:
            ModelLoadError: missing files, another family's checkpoint, a newer format version,
                or tensors whose names or shapes do not match this config.
        """
        directory = Path(directory)
        config = read_config(directory)
        if config.get("family") != cls.config_class.family:
            raise ModelLoadError(
                f"{directory}: checkpoint is a {config.get('family')!r} model, not {cls.config_class.family!r}"
            )
        try:
            parsed = config_from_dict(cls.config_class, config)
        except ModelLoadError as exc:
            raise ModelLoadError(f"{directory / CONFIG_NAME}: {exc}") from None
        # Compare shapes before allocating: a config.json edited to a huge size must fail here,
        # not after trying to allocate the model it describes.
        _check_shapes_before_loading(cls, parsed, directory / WEIGHTS_NAME)
        model = cls(parsed)
        _load_weights(model, directory / WEIGHTS_NAME)
        return model.to(device).eval()


def read_config(directory: str | os.PathLike) -> dict[str, Any]:
    """Read ``config.json`` from a model directory, with one-line errors naming the file."""
    path = Path(directory) / CONFIG_NAME
    if not path.is_file():
        raise ModelLoadError(f"{path}: no such file (not a sketchkit model directory)")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelLoadError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict) or "family" not in data:
        raise ModelLoadError(f"{path}: has no 'family' entry (not a sketchkit model config)")
    return data


_MAX_HEADER_BYTES = 100 * 2**20  # safetensors' own reader refuses headers above 100 MB too


def read_safetensors_shapes(path: str | os.PathLike) -> dict[str, tuple[int, ...]]:
    """Tensor name -> shape from a ``.safetensors`` file's header, without reading the tensors.

    The format: 8 bytes little-endian header length ``N``, then ``N`` bytes of JSON
    ``{name: {"dtype", "shape", "data_offsets"}, "__metadata__": {...}}``, then the data.

    Raises:
        ModelLoadError: missing file or a header that is not a safetensors header (naming the file).
    """
    path = Path(path)
    if not path.is_file():
        raise ModelLoadError(f"{path}: no such file")
    size = path.stat().st_size
    with open(path, "rb") as f:
        prefix = f.read(8)
        if len(prefix) < 8:
            raise ModelLoadError(f"{path}: not a readable safetensors file (shorter than its 8-byte header length)")
        n = int.from_bytes(prefix, "little")
        if n > min(_MAX_HEADER_BYTES, size - 8):
            raise ModelLoadError(f"{path}: not a readable safetensors file (header length {n} exceeds the file)")
        raw = f.read(n)
    try:
        header = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelLoadError(f"{path}: not a readable safetensors file (header is not JSON: {exc})") from None
    if not isinstance(header, dict):
        raise ModelLoadError(f"{path}: not a readable safetensors file (header is not a JSON object)")
    shapes: dict[str, tuple[int, ...]] = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        shape = entry.get("shape") if isinstance(entry, dict) else None
        if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
            raise ModelLoadError(f"{path}: not a readable safetensors file (tensor {name!r} has no valid shape)")
        shapes[name] = tuple(shape)
    return shapes


def _check_shapes_before_loading(cls: type["SketchModel"], config: ModelConfig, path: Path) -> None:
    """Raise ModelLoadError naming ``path`` and the first tensor whose name/shape ``config`` disagrees with."""
    found = read_safetensors_shapes(path)
    try:
        with torch.device("meta"):  # parameters without storage: shapes only, no memory
            expected = {k: tuple(v.shape) for k, v in cls(config).state_dict().items()}
    except Exception:  # a family whose constructor needs real tensors: _load_weights checks after building
        return
    for name in sorted(set(expected) | set(found)):
        if name not in found:
            raise ModelLoadError(f"{path}: tensor {name!r} is missing (the config.json next to it expects shape "
                                 f"{expected[name]})")
        if name not in expected:
            raise ModelLoadError(f"{path}: tensor {name!r} is not part of the model config.json describes")
        if found[name] != expected[name]:
            raise ModelLoadError(f"{path}: tensor {name!r} has shape {found[name]}, expected {expected[name]} "
                                 f"by the config.json next to it (mismatched config and weights)")


def _load_weights(model: nn.Module, path: Path) -> None:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    if not path.is_file():
        raise ModelLoadError(f"{path}: no such file")
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelLoadError(f"{path}: not a readable safetensors file ({exc})") from None
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    if missing or unexpected:
        raise ModelLoadError(f"{path}: tensor names do not match the config (missing {missing[:5]}, unexpected {unexpected[:5]})")
    for name, tensor in tensors.items():
        if tuple(tensor.shape) != tuple(expected[name].shape):
            raise ModelLoadError(
                f"{path}: tensor {name!r} has shape {tuple(tensor.shape)}, expected {tuple(expected[name].shape)}"
            )
    model.load_state_dict(tensors)


def load_model(name_or_dir: str | os.PathLike, *, device: str | torch.device = "cpu") -> SketchModel:
    """Load any family's model from a directory, or a shipped pretrained model by name.

    Args:
        name_or_dir: a directory written by ``save_pretrained`` (or a training run directory),
            or the name of a model shipped in the package (``"bezier"``, ``"cloud2curve"``,
            ``"sketchode"``; see :func:`sketchkit.pretrained.available`).
        device: where to put the weights.

    Raises:
        ModelLoadError: unknown name, or a directory that is not a loadable model.
    """
    from sketchkit.pretrained import resolve

    directory = resolve(name_or_dir)
    family = read_config(directory)["family"]
    registry = model_registry()
    if family not in registry:
        raise ModelLoadError(f"{directory}: unknown model family {family!r} (known: {sorted(registry)})")
    return registry[family].from_pretrained(directory, device=device)
