"""The CLI and the top-level package must not import torch at start-up (keeps `--help` fast)."""

from __future__ import annotations

import subprocess
import sys

import pytest

PROBE = """
import sys
import {module}
heavy = sorted(m for m in ("torch", "torchdiffeq", "geomloss", "skimage") if m in sys.modules)
print(",".join(heavy))
"""


@pytest.mark.parametrize("module", ["sketchkit", "sketchkit.cli.app", "sketchkit.render", "sketchkit.data"])
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
