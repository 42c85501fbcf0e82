"""Model families. Importing this package registers the built-in families."""

from sketchkit.models.base import ModelConfig, ModelLoadError, SketchModel, load_model, model_registry, register_model

__all__ = ["ModelConfig", "ModelLoadError", "SketchModel", "load_model", "model_registry", "register_model"]

# Each family registers itself on import; a family whose module is missing is simply absent.
import importlib as _importlib

for _name in ("bezier_sketch", "cloud2curve", "sketch_ode"):
    try:
        _importlib.import_module(f"sketchkit.models.{_name}")
    except ModuleNotFoundError as _exc:  # pragma: no cover - only while a family is being written
        if _exc.name != f"sketchkit.models.{_name}":
            raise
