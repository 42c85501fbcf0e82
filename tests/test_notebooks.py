"""The notebooks run top to bottom with the shipped models, so they never rot."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import SHARED_DATA, shared_path

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def execute(name: str, tmp_path: Path) -> tuple[str, list[dict]]:
    """Run ``notebooks/<name>`` in a fresh kernel; return its printed text and all outputs."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    import os

    os.environ.setdefault("SKETCHKIT_SHARED_DATA", str(SHARED_DATA))  # the kernel inherits it
    client.execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    errors = [o for o in outputs if o.get("output_type") == "error"]
    assert not errors, errors[0].get("evalue")
    text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    return text, outputs


def _svg_count(outputs: list[dict]) -> int:
    return sum(1 for o in outputs if "image/svg+xml" in o.get("data", {}))


@pytest.mark.slow
def test_bezier_notebook_samples_interpolates_and_completes(tmp_path):
    text, outputs = execute("bezier_sketch.ipynb", tmp_path)
    assert "BezierSketchModel" in text and "degrees:" in text
    assert _svg_count(outputs) >= 5


@pytest.mark.slow
def test_sketchode_notebook_reconstructs_interpolates_and_decodes_at_any_resolution(tmp_path):
    shared_path("vectormnist", "mnist-stroke-sequences-train-first5000.npz")
    text, outputs = execute("sketch_ode.ipynb", tmp_path)
    assert "SketchODEModel" in text and "505 held-out digits; classes: 0, 1, 2, 3, 4, 5, 6, 7, 8, 9" in text
    assert "points decoded: {16: 16, 64: 64, 505: 505}" in text
    assert _svg_count(outputs) == 6  # reconstruction, interpolation, resolutions, frequencies, 2 sample grids


@pytest.mark.slow
def test_cloud2curve_kmnist_notebook_samples_every_class_and_vectorises(tmp_path):
    shared_path("kmnist", "kmnist-test-imgs.npz")
    shared_path("mnist", "t10k-images-idx3-ubyte.gz")
    text, outputs = execute("cloud2curve_kmnist.ipynb", tmp_path)
    assert "Cloud2CurveModel classes: 0, 1, 2, 3, 4, 5, 6, 7, 8, 9" in text
    assert "held-out characters; Chamfer (bbox frame, 64 of them): 0.0" in text  # under 0.1 of the box
    assert "unlabelled digit clouds vectorised: 8" in text  # the digit model, with no labels given
    assert _svg_count(outputs) == 4  # the class grid, the reconstructions, digit samples and digit reconstructions
