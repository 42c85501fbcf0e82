"""Streaming training from shards: partition across ranks/readers, exact resume, the engine and the CLI."""

from __future__ import annotations

import itertools
import os
import subprocess
import warnings
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import shared_path
from sketchkit.cli.app import main
from sketchkit.data.shards import write_shards
from sketchkit.errors import InputError
from sketchkit.sketch import Sketch
from sketchkit.train import TrainConfig, read_metrics, read_trainer_state, train
from sketchkit.train.stream import ShardStream, _EpochPlan
from toy_model import ToyConfig, ToyModel, weights_hash

HERE = Path(__file__).resolve().parent


def make_sketches(n: int, seed: int = 0) -> list[Sketch]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        arc = np.cumsum(rng.normal(0, 6, (int(rng.integers(4, 12)), 2)), axis=0) + 128
        out.append(Sketch([arc, rng.uniform(0, 255, (3, 2))], label=f"c{i % 4}", meta={"id": i}))
    return out


@pytest.fixture
def shards(tmp_path) -> Path:
    """31 training sketches in shards of 7 (7, 7, 7, 7, 3: uneven) plus 5 held out."""
    write_shards(make_sketches(36), tmp_path / "shards", shard_size=7, val_size=5)
    return tmp_path / "shards"


def ids(batch) -> list[int]:
    return [s.meta["id"] for s in batch]


def rank_batches(stream, *, world, rank, start=0, steps, batch_size=6, buffer=5, workers=0, seed=0, stage=0):
    it = stream.batches(seed=seed, stage_index=stage, start_step=start, rank=rank, world=world,
                        batch_size=batch_size, buffer=buffer, workers=workers)
    try:
        return [ids(b) for b in itertools.islice(it, steps)]
    finally:
        it.close()


def in_process_readers(stream, *, world, rank, readers, epoch=0, batch_size=6, buffer=5, seed=0):
    """What K DataLoader workers return: reader j % K serves step j (simulated in this process)."""
    plan = _EpochPlan([c for _, c in stream.shards], batch_size, seed, 0, epoch, world, readers, buffer)
    per = [list(stream.reader_batches(plan, rank, role, 0)) for role in range(readers)]
    return [ids(per[j % readers][j // readers]) for j in range(plan.steps)]


@pytest.mark.parametrize("world", [1, 2, 3])
@pytest.mark.parametrize("readers", [1, 2])
def test_ranks_and_readers_read_disjoint_sketches_whose_union_is_the_epoch(shards, world, readers):
    stream = ShardStream(shards)
    assert len(stream) == 31 and [c for _, c in stream.shards] == [7, 7, 7, 7, 3]
    steps = 31 // 6  # 5 steps of 6: one sketch of the 31 is left out of each epoch
    epoch_ids = []
    for rank in range(world):
        batches = in_process_readers(stream, world=world, rank=rank, readers=readers)
        assert len(batches) == steps  # every rank takes the same number of steps (DDP needs it)
        assert all(len(b) == len(range(rank, 6, world)) for b in batches)  # its share of each global batch
        epoch_ids += [i for b in batches for i in b]
    assert len(epoch_ids) == len(set(epoch_ids)) == steps * 6  # no sketch twice
    # the same sketches for any number of ranks and readers: the first 30 of the epoch's shard order
    plan = _EpochPlan([7, 7, 7, 7, 3], 6, 0, 0, 0, 1, 1, 5)
    order = [i for s in plan.order for i in range(5 + 7 * s, 5 + 7 * s + [7, 7, 7, 7, 3][s])]
    assert sorted(epoch_ids) == sorted(order[:30])
    assert set(range(5)).isdisjoint(epoch_ids)  # held-out sketches are never trained on


def test_epochs_reshuffle_and_cover_the_left_out_tail(shards):
    stream = ShardStream(shards)
    batches = rank_batches(stream, world=1, rank=0, steps=20)
    epochs = [sorted(i for b in batches[k:k + 5] for i in b) for k in range(0, 20, 5)]
    assert all(len(e) == 30 for e in epochs)
    assert len({tuple(e) for e in epochs}) > 1  # the left-out sketch changes with the shard order
    assert set().union(*epochs) == set(range(5, 36))
    assert batches[:5] != batches[5:10]


@pytest.mark.parametrize("world,rank", [(1, 0), (2, 1)])
@pytest.mark.parametrize("workers", [0, 2])
def test_resume_at_any_step_gives_the_same_next_batches(shards, world, rank, workers):
    stream = ShardStream(shards)
    straight = rank_batches(stream, world=world, rank=rank, steps=13, workers=workers)
    for start in (1, 2, 3, 4, 5, 7, 11):  # mid-window, window and epoch boundaries
        assert rank_batches(stream, world=world, rank=rank, start=start, steps=13 - start, workers=workers) \
            == straight[start:], start


def test_dataloader_workers_match_the_documented_reader_order(shards):
    stream = ShardStream(shards)
    got = rank_batches(stream, world=2, rank=0, steps=5, workers=2)
    assert got == in_process_readers(stream, world=2, rank=0, readers=2)
    assert got != rank_batches(stream, world=2, rank=0, steps=5, workers=0)  # readers own different pieces


def test_batch_smaller_than_world_is_refused_at_once(shards):
    with pytest.raises(InputError, match="cannot be split across 4 processes"):
        ShardStream(shards).batches(seed=0, stage_index=0, start_step=0, rank=0, world=4, batch_size=3,
                                    buffer=5, workers=0)


def test_only_held_out_shards_is_an_input_error(tmp_path):
    write_shards(make_sketches(4), tmp_path, shard_size=4, val_size=4)
    with pytest.raises(InputError, match="no training shards"):
        ShardStream(tmp_path)


def cfg(**kw) -> TrainConfig:
    base = dict(steps=8, batch_size=6, lr=1e-2, seed=1, device="cpu", quiet=True, val_every=4, val_batches=0,
                checkpoint_every=3, num_samples=0, log_every=1, stream_buffer=5)
    base.update(kw)
    return TrainConfig(**base)


def fresh() -> ToyModel:
    torch.manual_seed(0)
    return ToyModel(ToyConfig(hidden=8, latent=4))


class Recorder(ToyModel):
    """Records the ids of every training batch it collates."""

    def collate(self, sketches, *, stage="main", generator=None):
        if torch.is_grad_enabled():
            self.seen.append(ids(sketches))
        return super().collate(sketches, stage=stage, generator=generator)


def recorder() -> Recorder:
    torch.manual_seed(0)
    model = Recorder(ToyConfig(hidden=8, latent=4))
    model.seen = []
    return model


def test_train_on_a_stream_resumes_exactly_and_validates_on_the_held_out_shard(shards, tmp_path):
    straight = recorder()
    train(straight, ShardStream(shards), config=cfg(steps=11), run_dir=tmp_path / "a")
    state = read_trainer_state(tmp_path / "a" / "last")
    assert state["data"]["kind"] == "shards" and state["data"]["epoch"] == 2 and state["data"]["batch_in_epoch"] == 1
    vals = [r for r in read_metrics(tmp_path / "a") if r["type"] == "val"]
    assert [r["step"] for r in vals] == [4, 8, 11] and all(np.isfinite(r["val_loss"]) for r in vals)
    final = [r for r in read_metrics(tmp_path / "a") if r["type"] == "final"]
    assert len(final) == 1  # model.evaluate ran on the val-*.tar sketches

    first = recorder()
    train(first, ShardStream(shards), config=cfg(steps=6), run_dir=tmp_path / "b")  # last/ at step 6
    second = recorder()
    train(second, ShardStream(shards), config=cfg(steps=11), run_dir=tmp_path / "b", resume=True)
    assert first.seen + second.seen == straight.seen  # the same batches, in the same order
    assert weights_hash(second) == weights_hash(straight)


def test_resume_with_other_stream_settings_warns(shards, tmp_path):
    train(fresh(), ShardStream(shards), config=cfg(steps=3), run_dir=tmp_path / "run")
    with pytest.warns(UserWarning, match="buffer changed since the checkpoint"):
        train(fresh(), ShardStream(shards), config=cfg(steps=5, stream_buffer=4), run_dir=tmp_path / "run", resume=True)


def test_in_memory_checkpoints_hold_no_stream_position(tmp_path):
    train(fresh(), make_sketches(12), config=cfg(steps=3), run_dir=tmp_path)
    assert "data" not in read_trainer_state(tmp_path / "last")


def run_cli(args, capsys):
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_trains_on_shards_and_resumes(tmp_path, capsys):
    src = shared_path("quickdraw", "simplified")
    code, _, err = run_cli(["data", "shard", src, "-o", tmp_path / "s", "--shard-size", "50", "--val-size", "16"], capsys)
    assert code == 0, err
    base = ["train", "toy", "--data", tmp_path / "s", "--out", tmp_path / "run", "--quiet", "--device", "cpu",
            "--set", "train.batch_size=8", "--set", "train.checkpoint_every=2", "--set", "model.hidden=8"]
    code, _, err = run_cli([*base, "--set", "train.steps=4"], capsys)
    assert code == 0, err
    from sketchkit.train import read_run_info

    info = read_run_info(tmp_path / "run")
    assert info["data"]["streaming"] is True and info["data"]["num_val"] == 16 and info["data"]["num_train"] == 184
    code, _, err = run_cli(["train", "toy", "--out", tmp_path / "run", "--resume", "--quiet", "--set", "train.steps=6"], capsys)
    assert code == 0, err
    assert read_trainer_state(tmp_path / "run" / "last")["step"] == 6
    code, _, err = run_cli([*base[:5], tmp_path / "other", "--limit", "5"], capsys)
    assert code == 2 and "--limit: does not apply to a shard folder" in err


TEARDOWN_ABORT = "terminate called without an active exception"


def _assert_finished(proc: subprocess.CompletedProcess, run: Path) -> None:
    """Both ranks finished: exit 0, or (a known gloo teardown race on an oversubscribed CPU) a rank
    aborted with ``TEARDOWN_ABORT`` after both had written their final weights hash."""
    if proc.returncode == 0:
        return
    done = all((run / f"hash_rank{r}.txt").is_file() for r in (0, 1))
    assert done and TEARDOWN_ABORT in proc.stderr, proc.stdout[-2000:] + proc.stderr[-4000:]
    warnings.warn(f"a rank aborted at process teardown after finishing its work ({TEARDOWN_ABORT!r})")


@pytest.mark.slow
def test_two_gloo_ranks_stream_disjoint_sketches_and_resume_after_kill(tmp_path):
    """torchrun, 2 CPU processes on 5 uneven shards: disjoint per-rank sketches, union = the epoch;
    a SIGKILL of rank 1 mid-run, then --resume, ends with the batches and weights of an unbroken run."""
    write_shards(make_sketches(36), tmp_path / "shards", shard_size=7, val_size=5)
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}

    def torchrun(run: str, *extra: str) -> subprocess.CompletedProcess:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
               str(HERE / "_stream_ddp_worker.py"), str(tmp_path / "shards"), str(tmp_path / run), *extra]
        try:
            return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
        finally:  # torchrun's workers live in sessions of their own; their command lines name tmp_path
            subprocess.run(["pkill", "-f", str(tmp_path / run)], check=False)

    proc = torchrun("full")
    _assert_finished(proc, tmp_path / "full")
    seen = {r: [list(map(int, line.split())) for line in (tmp_path / "full" / f"ids_rank{r}.txt").read_text().splitlines()]
            for r in (0, 1)}
    assert [len(seen[r]) for r in (0, 1)] == [10, 10]  # 2 epochs of 5 steps each
    for epoch in range(2):
        ranks = [[i for b in seen[r][5 * epoch:5 * epoch + 5] for i in b] for r in (0, 1)]
        assert all(len(b) == 3 for r in (0, 1) for b in seen[r])  # half of each global batch of 6
        assert set(ranks[0]).isdisjoint(ranks[1])
        single = ShardStream(tmp_path / "shards")
        one = rank_batches(single, world=1, rank=0, start=5 * epoch, steps=5, seed=1, buffer=5)
        assert sorted(ranks[0] + ranks[1]) == sorted(i for b in one for i in b)  # the 1-process epoch
    h = (tmp_path / "full" / "hash_rank0.txt").read_text()
    assert h == (tmp_path / "full" / "hash_rank1.txt").read_text()

    killed = torchrun("broken", "--kill-at", "7")
    assert killed.returncode != 0
    assert read_trainer_state(tmp_path / "broken" / "last")["step"] == 6
    proc = torchrun("broken", "--resume")
    _assert_finished(proc, tmp_path / "broken")
    resumed = [list(map(int, line.split())) for line in (tmp_path / "broken" / "ids_rank1.txt").read_text().splitlines()]
    assert resumed[-4:] == seen[1][6:]  # steps 7..10 after the resume = the unbroken run's
    assert (tmp_path / "broken" / "hash_rank0.txt").read_text() == h


def test_gzip_shards_stream_the_same_batches(tmp_path):
    write_shards(make_sketches(36), tmp_path / "plain", shard_size=7, val_size=5)
    write_shards(make_sketches(36), tmp_path / "gz", shard_size=7, val_size=5, compress=True)
    for start in (0, 3):
        assert rank_batches(ShardStream(tmp_path / "gz"), world=2, rank=1, start=start, steps=6) == \
            rank_batches(ShardStream(tmp_path / "plain"), world=2, rank=1, start=start, steps=6)
