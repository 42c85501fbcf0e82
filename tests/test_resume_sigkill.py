"""kill -9 mid-run, then --resume: the weights equal those of an uninterrupted run, bit for bit.

Each family trains in a subprocess that SIGKILLs itself in the middle of a step (after the
checkpoint of an earlier step), then a second subprocess resumes the run to the end.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from sketchkit.models.base import load_model

WORKER = Path(__file__).with_name("_sigkill_worker.py")
KILL_AT = {"bezier": "generator:7", "sketchode": "main:7", "cloud2curve": "sketch:5", "cloud2curve_clouds": "sketch:5"}


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(WORKER), *args], capture_output=True, text=True, timeout=300,
                          env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin",
                               "PYTHONPATH": str(Path(__file__).resolve().parents[1])})


@pytest.mark.slow
@pytest.mark.parametrize("family", ["bezier", "sketchode", "cloud2curve", "cloud2curve_clouds"])
def test_resume_after_sigkill_is_bit_identical(family, tmp_path):
    straight = _run(family, str(tmp_path / "straight"))
    assert straight.returncode == 0, straight.stderr[-2000:]
    killed = _run(family, str(tmp_path / "run"), "--kill-at", KILL_AT[family])
    assert killed.returncode == -signal.SIGKILL, (killed.returncode, killed.stderr[-2000:])
    assert (tmp_path / "run" / "last").is_dir()  # a checkpoint from before the kill survived
    resumed = _run(family, str(tmp_path / "run"), "--resume")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    a = load_model(tmp_path / "straight" / "last").state_dict()
    b = load_model(tmp_path / "run" / "last").state_dict()
    assert a.keys() == b.keys()
    diff = {k: float((a[k].double() - b[k].double()).abs().max()) for k in a if not torch.equal(a[k], b[k])}
    assert not diff, f"weights differ after kill -9 + resume: {diff}"
