"""Shared fixtures: where the real sample data lives, and a CPU-friendly torch setup."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# In CI (CI=true) property tests run a fixed, derandomised set of examples, so a run is
# reproducible; locally they explore new random examples each time.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("SKETCHKIT_SHARED_DATA", REPO.parent / "shared" / "data"))


def load_script(name: str):
    """Import ``scripts/<name>.py`` (the scripts folder is not a package) as a module for testing."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"{name}_under_test", REPO / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def shared_path(*parts: str) -> Path:
    """Path under ../shared/data; skips the calling test with a reason when it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real sample data not found at {path} (set SKETCHKIT_SHARED_DATA)")
    return path


@pytest.fixture
def shared_data() -> Path:
    """The ../shared/data folder (skips when absent)."""
    return shared_path()


@pytest.fixture(autouse=True)
def _numpy_kernels_after_each_test():
    # the compiled vectoriser kernels are switched on per process (folder mode, tests of them):
    # every test starts and ends on the numpy path, whatever ran before it
    from sketchkit.geometry import compiled

    compiled.enable(False)
    yield
    compiled.enable(False)


@pytest.fixture(autouse=True, scope="session")
def _torch_threads():
    # Tests run on 2-core CI machines; one intra-op thread avoids oversubscription.
    try:
        import torch
    except ImportError:  # pragma: no cover
        yield
        return
    torch.set_num_threads(1)
    yield
