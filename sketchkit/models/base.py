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
import json
import os
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
    "atomic_write_bytes",
    "CONFIG_NAME",
    "WEIGHTS_NAME",
]

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"

_REGISTRY: dict[str, type["SketchModel"]] = {}


class ModelLoadError(InputError):
    """A checkpoint that cannot be loaded: wrong family, newer format, wrong shapes, corrupt file."""


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Base of every family's config. Subclasses add fields, each with a comment."""

    family: ClassVar[str] = ""  # registry name, e.g. "bezier"; written into config.json
    format_version: ClassVar[int] = 1  # bump when the saved layout changes incompatibly

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
    return cls(**{k: _coerce(v, hints[k], k) for k, v in data.items()})


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
