"""The judge: a small CNN sketch classifier on rasters, and its penultimate features.

Trained on real sketches of known classes, it scores generated sketches (is a sample recognised
as the class it was asked for, how confidently) and embeds them for distribution metrics
(Fréchet distance, precision/recall). The same network, trained on two sets, is the classifier
of the two-sample test. Weights are saved as safetensors plus a JSON config.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import nn

from sketchkit._io import write_atomic

__all__ = ["JudgeConfig", "SketchJudge", "fit_classifier", "train_judge"]


@dataclass(frozen=True)
class JudgeConfig:
    """Shape of a judge network (saved beside its weights)."""

    num_classes: int  # output classes
    size: int = 32  # input side in pixels (images are (1, size, size), ink in [0, 1])
    width: int = 16  # channels of the first block; each of the three blocks doubles it
    feature_dim: int = 128  # size of the penultimate features used by the metrics
    class_names: tuple[str, ...] = field(default_factory=tuple)  # optional names, index = class id


class SketchJudge(nn.Module):
    """Three conv blocks (conv-BN-ReLU x2, max-pool) -> global average pool -> features -> logits."""

    def __init__(self, config: JudgeConfig) -> None:
        super().__init__()
        if config.num_classes < 2 or config.size < 16:
            raise ValueError(f"need num_classes >= 2 and size >= 16, got {config.num_classes}, {config.size}")
        self.config = config
        w = config.width
        layers: list[nn.Module] = []
        c_in = 1
        for c_out in (w, 2 * w, 4 * w):
            layers += [nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU(),
                       nn.Conv2d(c_out, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU(), nn.MaxPool2d(2)]
            c_in = c_out
        self.body = nn.Sequential(*layers)
        self.to_features = nn.Sequential(nn.Linear(c_in, config.feature_dim), nn.ReLU())
        self.classify = nn.Linear(config.feature_dim, config.num_classes)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Images ``(B, 1, size, size)`` -> ``(features (B, feature_dim), logits (B, num_classes))``."""
        h = self.body(x).mean((2, 3))  # (B, 4w)
        f = self.to_features(h)
        return f, self.classify(f)

    @torch.no_grad()
    def _run(self, images: np.ndarray, device: str, batch: int = 256) -> tuple[np.ndarray, np.ndarray]:
        self.eval()
        self.to(device)
        feats, probs = [], []
        for i in range(0, len(images), batch):
            x = torch.from_numpy(np.asarray(images[i:i + batch], np.float32)).to(device)
            f, logits = self(x)
            feats.append(f.cpu().numpy())
            probs.append(torch.softmax(logits, -1).cpu().numpy())
        if not feats:
            return np.zeros((0, self.config.feature_dim)), np.zeros((0, self.config.num_classes))
        return np.concatenate(feats).astype(np.float64), np.concatenate(probs).astype(np.float64)

    def features(self, images: np.ndarray, *, device: str = "cpu") -> np.ndarray:
        """``(N, 1, size, size)`` images -> ``(N, feature_dim)`` penultimate features."""
        return self._run(images, device)[0]

    def predict_proba(self, images: np.ndarray, *, device: str = "cpu") -> np.ndarray:
        """``(N, 1, size, size)`` images -> ``(N, num_classes)`` class probabilities."""
        return self._run(images, device)[1]

    def save(self, directory: str | os.PathLike) -> Path:
        """Write ``judge.json`` and ``judge.safetensors`` into ``directory`` (atomically)."""
        from safetensors.torch import save

        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()}
        write_atomic(d / "judge.safetensors", save(state))
        write_atomic(d / "judge.json", json.dumps(asdict(self.config), indent=2).encode())
        return d

    @classmethod
    def load(cls, directory: str | os.PathLike) -> "SketchJudge":
        """Load a judge written by :meth:`save` (no pickle)."""
        from safetensors.torch import load_file

        d = Path(directory)
        raw = json.loads((d / "judge.json").read_text())
        raw["class_names"] = tuple(raw.get("class_names", ()))
        judge = cls(JudgeConfig(**raw))
        judge.load_state_dict(load_file(str(d / "judge.safetensors")))
        judge.eval()
        return judge


def _augment(x: torch.Tensor, gen: torch.Generator, max_shift: int = 2) -> torch.Tensor:
    """Random whole-pixel shift (up to ``max_shift``) per image: the judge should not key on placement."""
    out = torch.empty_like(x)
    shifts = torch.randint(-max_shift, max_shift + 1, (x.shape[0], 2), generator=gen).tolist()
    for i, (dy, dx) in enumerate(shifts):
        out[i] = torch.roll(x[i], shifts=(dy, dx), dims=(-2, -1))
    return out


def fit_classifier(net: SketchJudge, images: np.ndarray, labels: np.ndarray, *, epochs: int = 8,
                   batch_size: int = 64, lr: float = 2e-3, seed: int = 0, augment: bool = False,
                   device: str = "cpu") -> list[float]:
    """Train ``net`` in place with Adam and a cosine schedule; returns the mean loss per epoch.

    Args:
        net: the network (its ``num_classes`` must exceed ``labels.max()``).
        images: ``(N, 1, size, size)`` float images.
        labels: ``(N,)`` integer classes.
        epochs, batch_size, lr: optimisation settings.
        seed: seeds the batch order and augmentation.
        augment: random shift/scale per image.
        device: torch device.
    """
    x_all = torch.from_numpy(np.asarray(images, np.float32))
    y_all = torch.from_numpy(np.asarray(labels, np.int64))
    if len(x_all) != len(y_all) or len(x_all) == 0:
        raise ValueError(f"need as many labels as images (> 0), got {len(x_all)} images and {len(y_all)} labels")
    net.to(device).train()
    gen = torch.Generator().manual_seed(seed)
    steps = epochs * ((len(x_all) + batch_size - 1) // batch_size)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.15)
    losses = []
    for _ in range(epochs):
        order = torch.randperm(len(x_all), generator=gen)
        total, count = 0.0, 0
        for i in range(0, len(order), batch_size):
            idx = order[i:i + batch_size]
            x, y = x_all[idx], y_all[idx]
            if augment:
                x = _augment(x, gen)
            _, logits = net(x.to(device))
            loss = nn.functional.cross_entropy(logits, y.to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(idx)
            count += len(idx)
        losses.append(total / count)
    _recalibrate_batch_norm(net, x_all, batch_size, device)
    net.eval()
    return losses


@torch.no_grad()
def _recalibrate_batch_norm(net: nn.Module, x_all: torch.Tensor, batch_size: int, device: str) -> None:
    """Batch-norm statistics recomputed over the training images for the final weights.

    The running averages lag the weights they were collected under; short runs (a two-sample
    test on a few hundred images) would otherwise evaluate with stale statistics.
    """
    norms = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the pass
    net.train()
    for i in range(0, len(x_all), batch_size):
        net(x_all[i:i + batch_size].to(device))
    for m in norms:
        m.momentum = 0.1


def train_judge(images: np.ndarray, labels: np.ndarray, *, class_names: Sequence[str] = (), epochs: int = 10,
                seed: int = 0, width: int = 16, device: str = "cpu") -> SketchJudge:
    """A judge trained on real rasters ``(N, 1, size, size)`` with integer ``labels`` ``(N,)``.

    Seeded (initialisation, batch order, augmentation), so a rerun on the same machine gives the
    same judge.
    """
    labels = np.asarray(labels, np.int64)
    torch.manual_seed(seed)
    net = SketchJudge(JudgeConfig(num_classes=int(labels.max()) + 1, size=images.shape[-1], width=width,
                                  class_names=tuple(class_names)))
    fit_classifier(net, images, labels, epochs=epochs, seed=seed, augment=True, device=device)
    return net
