"""Subprocess worker for tests/test_train_stream.py: the toy family streamed from shards under torchrun.

    python -m torch.distributed.run --nproc_per_node=2 _stream_ddp_worker.py SHARDS RUN_DIR [--resume] [--kill-at STEP]

Each rank appends the ids (``meta["id"]``) of every training batch it collates to
``RUN_DIR/ids_rank<r>.txt`` (one line per step) and writes its final weights hash to
``RUN_DIR/hash_rank<r>.txt``. ``--kill-at STEP``: rank 1 SIGKILLs itself when the loss of that step
is computed.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import torch

from sketchkit.train import TrainConfig, train
from sketchkit.train.stream import ShardStream
from toy_model import ToyConfig, ToyModel, weights_hash


def main() -> None:
    shards, run_dir = sys.argv[1], Path(sys.argv[2])
    resume = "--resume" in sys.argv
    kill_at = int(sys.argv[sys.argv.index("--kill-at") + 1]) if "--kill-at" in sys.argv else -1
    rank = int(os.environ.get("RANK", "0"))
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = ToyModel(ToyConfig(hidden=8, latent=4))
    log = run_dir / f"ids_rank{rank}.txt"
    collate, loss = model.collate, model.loss

    def recording_collate(sketches, *, stage="main", generator=None):
        if torch.is_grad_enabled():
            run_dir.mkdir(parents=True, exist_ok=True)
            with open(log, "a") as f:
                f.write(" ".join(str(s.meta["id"]) for s in sketches) + "\n")
        return collate(sketches, stage=stage, generator=generator)

    def killing_loss(batch, *, step=0, stage="main"):
        if rank == 1 and step == kill_at and torch.is_grad_enabled():
            os.kill(os.getpid(), signal.SIGKILL)
        return loss(batch, step=step, stage=stage)

    model.collate, model.loss = recording_collate, killing_loss
    cfg = TrainConfig(steps=10, batch_size=6, lr=1e-2, seed=1, device="cpu", quiet=True, val_every=0,
                      checkpoint_every=3, num_samples=0, stream_buffer=5)
    train(model, ShardStream(shards), config=cfg, run_dir=run_dir, resume=resume)
    (run_dir / f"hash_rank{rank}.txt").write_text(weights_hash(model))
    # An orderly end: both ranks meet, then the group is torn down before interpreter shutdown
    # (left to the atexit hook, a rank's gloo threads could still be joinable at exit and abort it).
    torch.distributed.barrier()
    torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main()
