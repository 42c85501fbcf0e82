"""The engine under torchrun: 2 CPU processes (gloo) end with identical weights."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from conftest import shared_path

HERE = Path(__file__).resolve().parent


@pytest.mark.slow
def test_two_gloo_ranks_end_with_identical_weights(tmp_path):
    shared_path("quickdraw", "simplified")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           str(HERE / "toy_model.py"), "ddp", str(tmp_path)]
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    finally:
        # torchrun starts its workers in sessions of their own: a timeout that kills torchrun
        # would leave them waiting on each other forever. Their command lines name tmp_path.
        subprocess.run(["pkill", "-f", str(tmp_path)], check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    h0 = (tmp_path / "hash_rank0.txt").read_text()
    h1 = (tmp_path / "hash_rank1.txt").read_text()
    assert h0 == h1
    assert (tmp_path / "two" / "hash_rank0.txt").read_text() == (tmp_path / "two" / "hash_rank1.txt").read_text()
    # rank 0 alone wrote the checkpoint: it holds the same weights and the final step
    from sketchkit.models.base import load_model
    from sketchkit.train import read_metrics, read_trainer_state
    from toy_model import ToyConfig, ToyModel, weights_hash

    assert weights_hash(load_model(tmp_path / "last")) == h0
    state = read_trainer_state(tmp_path / "last")
    assert state["step"] == 6 and state["world_size"] == 2
    assert [r["step"] for r in read_metrics(tmp_path) if r["type"] == "train"] == [6]  # log_every=10: only the last
    torch.manual_seed(0)
    assert weights_hash(ToyModel(ToyConfig())) != h0  # it trained
