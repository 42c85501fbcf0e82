"""The CLI and the top-level package must not import torch at start-up (keeps `--help` fast), and
vectorising one image must not load numba (its compiled loops are for folders)."""

from __future__ import annotations

import subprocess
import sys

import pytest

PROBE = """
import sys
import {module}
heavy = sorted(m for m in ("torch", "torchdiffeq", "geomloss", "skimage", "numba") if m in sys.modules)
print(",".join(heavy))
"""


@pytest.mark.parametrize("module", ["sketchkit", "sketchkit.cli.app", "sketchkit.render", "sketchkit.data",
                                    "sketchkit.vectorize"])
def test_module_imports_without_heavy_dependencies(module):
    out = subprocess.run([sys.executable, "-c", PROBE.format(module=module)],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"{module} imported {out.stdout.strip()} at start-up"


def test_help_lists_every_command():
    out = subprocess.run([sys.executable, "-m", "sketchkit.cli.app", "--help"],
                         capture_output=True, text=True, check=True)
    for command in ("render", "data", "convert", "train", "sample", "vectorize", "eval"):
        assert command in out.stdout, f"`sketchkit --help` does not list {command}"


def test_package_attribute_vectorize_stays_the_function_after_submodule_import():
    code = ("import sketchkit.vectorize, sketchkit.cli.app, sketchkit; "
            "assert callable(sketchkit.vectorize), type(sketchkit.vectorize)")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_vectorising_one_image_loads_neither_torch_nor_numba(tmp_path):
    from pathlib import Path

    cat = Path(__file__).resolve().parents[1] / "sketchkit" / "examples" / "cat.png"
    code = ("import sys; from sketchkit.cli.app import main; "
            f"rc = main(['vectorize', {str(cat)!r}, '-o', {str(tmp_path / 'cat.svg')!r}]); "
            "print('LOADED=' + ','.join(m for m in ('torch', 'numba', 'scipy') if m in sys.modules)); sys.exit(rc)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "LOADED=\n" in out.stdout, out.stdout
    assert (tmp_path / "cat.svg").read_text().count("<path") > 5
