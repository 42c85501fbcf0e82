"""A small decoder-only (causal) transformer that is called like an LSTM.

``out, state = decoder(x, state)``: ``x`` ``(B, T, in_features)`` are the next inputs, ``state``
the inputs seen so far ``(B, S, in_features)`` (:meth:`CausalTransformer.empty_state` to
start), ``out`` ``(B, T, width)`` the features of the new positions and the returned state the
inputs up to them. Teacher forcing passes the whole sequence at once; sampling passes one step
at a time and the model re-reads the history (sequences of curve tokens are short, at most a
few dozen steps, so the recomputation is cheaper than a key/value cache is complicated).

Every step attends to every earlier one, so a curve can be placed against the exact
coordinates of any curve drawn before (a handle on a cup's side, an eye inside a head), which a
recurrent state only remembers approximately.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["CausalTransformer"]


class CausalTransformer(nn.Module):
    """Pre-norm causal transformer over input vectors, with sinusoidal positions.

    Args:
        in_features: size of each input vector.
        width: model width (output feature size).
        layers: transformer blocks.
        heads: attention heads (must divide ``width``).
        dropout: dropout inside the blocks (training only).
    """

    def __init__(self, in_features: int, width: int, layers: int, heads: int, dropout: float = 0.0) -> None:
        super().__init__()
        if width % heads:
            raise ValueError(f"width {width} is not a multiple of heads {heads}")
        self.in_features, self.width = in_features, width
        self.inp = nn.Linear(in_features, width)
        block = nn.TransformerEncoderLayer(width, heads, dim_feedforward=2 * width, dropout=dropout,
                                           batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(block, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(width)

    def empty_state(self, batch: int, like: torch.Tensor) -> torch.Tensor:
        """No history yet: ``(batch, 0, in_features)`` with the dtype and device of ``like``."""
        return like.new_zeros(batch, 0, self.in_features)

    def _positions(self, length: int, like: torch.Tensor) -> torch.Tensor:
        pos = torch.arange(length, dtype=like.dtype, device=like.device)[:, None]
        freq = torch.exp(torch.arange(0, self.width, 2, dtype=like.dtype, device=like.device)
                         * (-math.log(1000.0) / self.width))
        enc = torch.zeros(length, self.width, dtype=like.dtype, device=like.device)
        enc[:, 0::2] = torch.sin(pos * freq)
        enc[:, 1::2] = torch.cos(pos * freq)[:, : self.width // 2]
        return enc

    def forward(self, x: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Features ``(B, T, width)`` of the inputs ``x`` ``(B, T, in_features)`` after the history
        ``state`` ``(B, S, in_features)``, and the new history ``(B, S + T, in_features)``."""
        seq = torch.cat([state.to(x), x], 1)
        length = seq.shape[1]
        h = self.inp(seq) + self._positions(length, seq)
        mask = nn.Transformer.generate_square_subsequent_mask(length, device=seq.device, dtype=seq.dtype)
        h = self.norm(self.blocks(h, mask=mask, is_causal=True))
        return h[:, length - x.shape[1]:], seq
