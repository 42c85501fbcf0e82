"""A tiny model family used only by the training-engine tests (registered on import).

``toy``: an MLP auto-encoder of single strokes. ``collate`` picks one stroke per sketch (with the
generator), resamples it to ``n_points`` points uniformly in arc length, moves its first point to
the origin and divides by ``scale`` (a config field, so it is saved with the model). ``loss`` is the
mean squared reconstruction error of the flattened points. ``sample`` decodes Gaussian latents.

``toy2``: the same network trained in two stages: ``"ae"`` (everything) then ``"decoder"``
(decoder only, encoder frozen) — exercises the engine's stage handling.

Run as a script under torchrun it trains a few steps and prints a hash of the weights per rank::

    python -m torch.distributed.run --nproc_per_node=2 tests/toy_model.py ddp OUT_DIR
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
from pathlib import Path
from typing import ClassVar, Sequence

import numpy as np
import torch
from torch import nn

from sketchkit.geometry.polyline import resample
from sketchkit.models.base import ModelConfig, SketchModel, register_model
from sketchkit.sketch import Sketch

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@dataclasses.dataclass(frozen=True)
class ToyConfig(ModelConfig):
    family: ClassVar[str] = "toy"
    n_points: int = 16  # points per resampled stroke
    hidden: int = 32  # MLP width
    latent: int = 8  # bottleneck size
    scale: float = 255.0  # coordinate units per normalised unit (Quick, Draw! simplified: 0..255)
    nan_at_step: int = -1  # test hook: loss is NaN at this step (-1 = never)
    dropout: float = 0.0  # dropout after the encoder's hidden layer (draws from the global torch RNG)


@register_model
class ToyModel(SketchModel):
    config_class = ToyConfig

    def __init__(self, config: ToyConfig) -> None:
        super().__init__(config)
        d = 2 * config.n_points
        self.encoder = nn.Sequential(nn.Linear(d, config.hidden), nn.Tanh(), nn.Dropout(config.dropout),
                                     nn.Linear(config.hidden, config.latent))
        self.decoder = nn.Sequential(nn.Linear(config.latent, config.hidden), nn.Tanh(), nn.Linear(config.hidden, d))

    def collate(self, sketches: Sequence[Sketch], *, stage: str = "main",
                generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        rows = []
        for sk in sketches:
            k = int(torch.randint(len(sk.strokes), (1,), generator=generator))
            pts = resample(sk.strokes[k], self.config.n_points)
            rows.append(((pts - pts[0]) / self.config.scale).reshape(-1))
        return {"x": torch.tensor(np.stack(rows), dtype=torch.float32)}

    def loss(self, batch, *, step: int = 0, stage: str = "main"):
        x = batch["x"]
        z = self.encoder(x)
        rec = self.decoder(z)
        mse = ((rec - x) ** 2).mean()
        loss = mse + 1e-4 * (z ** 2).mean()
        if step == self.config.nan_at_step:
            loss = loss * float("nan")
        return {"loss": loss, "mse": mse.detach()}

    def forward(self, batch, *, step: int = 0, stage: str = "main"):
        return self.loss(batch, step=step, stage=stage)

    def evaluate(self, sketches: Sequence[Sketch]) -> dict[str, float]:
        batch = self.collate(sketches, generator=torch.Generator().manual_seed(0))
        with torch.no_grad():
            x = batch["x"].to(self.device)
            rec = self.decoder(self.encoder(x))
        return {"recon_mse": float(((rec - x) ** 2).mean())}

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None, temperature: float = 1.0):
        z = torch.randn(n, self.config.latent, generator=generator) * temperature
        pts = self.decoder(z.to(self.device)).cpu().double().numpy().reshape(n, self.config.n_points, 2)
        return [Sketch([p * self.config.scale + 128.0]) for p in pts]


@dataclasses.dataclass(frozen=True)
class Toy2Config(ToyConfig):
    family: ClassVar[str] = "toy2"


@register_model
class Toy2Model(ToyModel):
    config_class = Toy2Config
    stages = ("ae", "decoder")

    def stage_parameters(self, stage: str):
        return self.decoder.parameters() if stage == "decoder" else self.parameters()


def load_quickdraw(limit_per_file: int = 25, categories: Sequence[str] | None = None) -> list[Sketch]:
    """Quick, Draw! simplified sketches from ../shared/data, parsed with json (no data module needed)."""
    folder = SHARED / "quickdraw" / "simplified"
    files = sorted(folder.glob("*.ndjson"))
    if categories is not None:
        files = [f for f in files if f.stem in set(categories)]
    out = []
    for f in files:
        for i, line in enumerate(f.read_text().splitlines()):
            if i >= limit_per_file:
                break
            rec = json.loads(line)
            strokes = [np.stack([np.asarray(s[0], float), np.asarray(s[1], float)], axis=1) for s in rec["drawing"]]
            out.append(Sketch(strokes, label=rec["word"]))
    return out


def weights_hash(model: nn.Module) -> str:
    h = hashlib.sha256()
    for name, t in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def _ddp_main(out: str) -> None:
    import os

    from sketchkit.train import TrainConfig, train

    torch.set_num_threads(1)
    torch.manual_seed(int(os.environ.get("RANK", "0")))  # different init per rank: DDP must sync it
    model = ToyModel(ToyConfig())
    sketches = load_quickdraw(10, ["apple", "cat", "house"])
    cfg = TrainConfig(steps=6, batch_size=8, lr=1e-2, seed=3, device="cpu", quiet=True, val_every=0,
                      checkpoint_every=3, num_samples=0)
    train(model, sketches, config=cfg, run_dir=out)
    rank = os.environ.get("RANK", "0")
    Path(out, f"hash_rank{rank}.txt").write_text(weights_hash(model))
    # two stages: the encoder is frozen (requires_grad off) in the DDP wrapper of stage 2
    model2 = Toy2Model(Toy2Config())
    train(model2, sketches, config=cfg.replace(stage_steps={"ae": 3, "decoder": 3}), run_dir=Path(out, "two"))
    Path(out, "two", f"hash_rank{rank}.txt").write_text(weights_hash(model2))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "ddp":
        _ddp_main(sys.argv[2])
    else:
        sys.exit("usage: toy_model.py ddp OUT_DIR")
