"""Output heads of the BézierSketch generator: a distribution over one curve token per step.

A token is ``[shape..., start_x, start_y, extra...]``: the control-point offsets, the curve's
absolute start point, and (rational curves) log weights. The heads share one interface:

- :class:`JointTokenHead`: one diagonal (or full-covariance) Gaussian mixture over the whole
  token. Its components must cover *where* a curve starts and *what* it looks like at once, so
  a part that can sit in several places (a pig's ears, legs, eyes) takes a component per place
  and shape.
- :class:`StartFirstTokenHead`: the start point first, from its own 2-D full-covariance mixture,
  then the shape from a mixture conditioned on that start. A curve that continues the previous
  one's stroke starts where that one ended, so its start is given and not scored.
- :class:`StartChordTokenHead`: as the start-first head, with the chord (where the curve ends)
  drawn next, then the bends given start and chord.

Each scores tokens with :meth:`token_log_prob` (training, class posteriors) and draw them with
:meth:`draw` (sampling), and emit the Bernoulli bit logits (stop, continue) alongside.
"""

from __future__ import annotations

import torch
from torch import nn

from sketchkit.models.layers import MixtureDensityHead, MixtureParams

__all__ = ["JointTokenHead", "StartChordTokenHead", "StartFirstTokenHead"]


class JointTokenHead(MixtureDensityHead):
    """One mixture over the whole token (the original BézierSketch head; its weights keep their names).

    Args:
        in_features: decoder feature size.
        token_dim: numbers per token.
        start_index: position of ``start_x`` in the token (``start_y`` follows).
        num_mixtures, n_bits, sigma_min, full_covariance: as :class:`MixtureDensityHead`.
    """

    def __init__(self, in_features: int, token_dim: int, start_index: int, num_mixtures: int, *,
                 n_bits: int, sigma_min: float, full_covariance: bool = False) -> None:
        super().__init__(in_features, token_dim, num_mixtures, n_bits=n_bits, sigma_min=sigma_min,
                         full_covariance=full_covariance)
        self.start_index = start_index

    def token_log_prob(self, h: torch.Tensor, tokens: torch.Tensor, continues: torch.Tensor
                       ) -> tuple[torch.Tensor, torch.Tensor]:
        """Log density ``(...)`` of ``tokens`` ``(..., token_dim)`` given features ``h`` ``(..., in_features)``,
        and the bit logits ``(..., n_bits)``. ``continues`` is unused: this head scores every start."""
        params = self(h)
        return MixtureDensityHead.log_prob(params, tokens), params.bits

    def draw(self, h: torch.Tensor, given_start: torch.Tensor, has_start: torch.Tensor, *,
             generator: torch.Generator | None, temperature: float,
             component_temperature: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """One token per row of ``h`` ``(B, in_features)`` -> tokens ``(B, token_dim)`` and bit logits
        ``(B, n_bits)``, both on the CPU. Rows where ``has_start`` ``(B,)`` is true get the start
        ``given_start`` ``(B, 2)`` (token units) in place of the drawn one."""
        params = self(h).to("cpu")
        tok = MixtureDensityHead.sample(params, generator=generator, temperature=temperature,
                                        component_temperature=component_temperature).clone()
        s = self.start_index
        tok[has_start, s:s + 2] = given_start[has_start].to(tok)
        return tok, params.bits


class StartFirstTokenHead(nn.Module):
    """Start point from its own mixture, then the rest of the token given that start.

    Args:
        in_features: decoder feature size.
        token_dim: numbers per token.
        start_index: position of ``start_x`` in the token (``start_y`` follows).
        num_mixtures: components of the shape mixture (given the start).
        start_mixtures: components of the 2-D full-covariance start mixture.
        n_bits: Bernoulli logits emitted with the start (stop, continue).
        sigma_min: lower clamp on every standard deviation (token units).
        full_covariance: full-covariance components for the shape mixture too.
    """

    def __init__(self, in_features: int, token_dim: int, start_index: int, num_mixtures: int, *,
                 start_mixtures: int, n_bits: int, sigma_min: float, full_covariance: bool = False) -> None:
        super().__init__()
        if not 0 <= start_index <= token_dim - 2:
            raise ValueError(f"start_index {start_index} leaves no room for a 2-D start in {token_dim} numbers")
        self.token_dim, self.start_index = token_dim, start_index
        self.start = MixtureDensityHead(in_features, 2, start_mixtures, n_bits=n_bits, sigma_min=sigma_min,
                                        full_covariance=True)
        # The start enters through a learned layer, not raw: the shape of a stroke depends on its
        # place non-linearly (ears at the top point up, legs at the bottom point down).
        self.given = nn.Sequential(nn.Linear(in_features + 2, in_features), nn.Tanh())
        self.shape = MixtureDensityHead(in_features, token_dim - 2, num_mixtures, sigma_min=sigma_min,
                                        full_covariance=full_covariance)

    def _split(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        s = self.start_index
        return tokens[..., s:s + 2], torch.cat([tokens[..., :s], tokens[..., s + 2:]], -1)

    def _join(self, start: torch.Tensor, rest: torch.Tensor) -> torch.Tensor:
        s = self.start_index
        return torch.cat([rest[..., :s], start, rest[..., s:]], -1)

    def _shape_params(self, h: torch.Tensor, start: torch.Tensor) -> MixtureParams:
        return self.shape(self.given(torch.cat([h, start.to(h)], -1)))

    def _rest_log_prob(self, h: torch.Tensor, start: torch.Tensor, rest: torch.Tensor) -> torch.Tensor:
        """``log p(rest | h, start)`` ``(...)``."""
        return MixtureDensityHead.log_prob(self._shape_params(h, start), rest)

    def _draw_rest(self, h: torch.Tensor, start: torch.Tensor, *, generator: torch.Generator | None,
                   temperature: float, component_temperature: float | None) -> torch.Tensor:
        """``rest`` ``(B, token_dim - 2)`` (CPU) drawn given ``h`` and the ``start`` ``(B, 2)`` in use."""
        shape = self._shape_params(h, start.to(h.device)).to("cpu")
        return MixtureDensityHead.sample(shape, generator=generator, temperature=temperature,
                                         component_temperature=component_temperature)

    def token_log_prob(self, h: torch.Tensor, tokens: torch.Tensor, continues: torch.Tensor
                       ) -> tuple[torch.Tensor, torch.Tensor]:
        """Log density ``(...)`` of ``tokens`` ``(..., token_dim)`` given features ``h``, and the bit
        logits ``(..., n_bits)``. Where ``continues`` ``(...)`` is true the start is given (the previous
        curve's end) and only the shape is scored."""
        start, rest = self._split(tokens)
        sp = self.start(h)
        ll_start = MixtureDensityHead.log_prob(sp, start)
        ll_rest = self._rest_log_prob(h, start, rest)
        return ll_rest + torch.where(continues, torch.zeros_like(ll_start), ll_start), sp.bits

    def draw(self, h: torch.Tensor, given_start: torch.Tensor, has_start: torch.Tensor, *,
             generator: torch.Generator | None, temperature: float,
             component_temperature: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """As :meth:`JointTokenHead.draw`; here the shape is drawn given the start actually used."""
        sp = self.start(h).to("cpu")
        start = MixtureDensityHead.sample(sp, generator=generator, temperature=temperature,
                                          component_temperature=component_temperature).clone()
        start[has_start] = given_start[has_start].to(start)
        rest = self._draw_rest(h, start, generator=generator, temperature=temperature,
                               component_temperature=component_temperature)
        return self._join(start, rest), sp.bits


class StartChordTokenHead(StartFirstTokenHead):
    """Start point, then the chord (start to end), then the bends: three mixtures in a chain.

    The rest of a token is ``[dP_1..dP_d, extra...]`` (control-point offsets, then rational
    weights); this head reads it as the chord ``dP_1 + ... + dP_d`` (a 2-D full-covariance
    mixture given the start) and ``dP_1..dP_{d-1}, extra`` (a mixture given start and chord).
    The change of variables is linear with determinant 1, so the densities are those of the
    token itself. Where a curve ends decides what it connects to; drawn on its own, from a
    full covariance, it no longer sums the independent noise of ``d`` offsets.

    Args: as :class:`StartFirstTokenHead`, plus ``degree`` (the number ``d`` of offsets).
    """

    def __init__(self, in_features: int, token_dim: int, start_index: int, num_mixtures: int, *,
                 degree: int, start_mixtures: int, n_bits: int, sigma_min: float,
                 full_covariance: bool = False) -> None:
        super().__init__(in_features, token_dim, start_index, num_mixtures, start_mixtures=start_mixtures,
                         n_bits=n_bits, sigma_min=sigma_min, full_covariance=full_covariance)
        if degree < 2 or start_index != 2 * degree:
            raise ValueError(f"need degree >= 2 with the start right after the 2 * degree offsets; got "
                             f"degree {degree}, start_index {start_index}")
        self.degree = degree
        self.chord = MixtureDensityHead(in_features, 2, start_mixtures, sigma_min=sigma_min, full_covariance=True)
        self.chord_given = nn.Sequential(nn.Linear(in_features + 4, in_features), nn.Tanh())
        # self.shape now models the token minus start and last offset (the chord stands in for it)
        self.shape = MixtureDensityHead(in_features, token_dim - 4, num_mixtures, sigma_min=sigma_min,
                                        full_covariance=full_covariance)

    def _chord_split(self, rest: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``rest`` -> chord ``(..., 2)`` and bends ``(..., token_dim - 4)`` (all offsets but the last, extra)."""
        d = self.degree
        offsets = rest[..., :2 * d].unflatten(-1, (d, 2))
        return offsets.sum(-2), torch.cat([rest[..., :2 * d - 2], rest[..., 2 * d:]], -1)

    def _chord_join(self, chord: torch.Tensor, bends: torch.Tensor) -> torch.Tensor:
        d = self.degree
        inner = bends[..., :2 * d - 2]
        last = chord - inner.unflatten(-1, (d - 1, 2)).sum(-2)
        return torch.cat([inner, last, bends[..., 2 * d - 2:]], -1)

    def _chord_params(self, h: torch.Tensor, start: torch.Tensor) -> MixtureParams:
        return self.chord(self.given(torch.cat([h, start.to(h)], -1)))

    def _bends_params(self, h: torch.Tensor, start: torch.Tensor, chord: torch.Tensor) -> MixtureParams:
        return self.shape(self.chord_given(torch.cat([h, start.to(h), chord.to(h)], -1)))

    def _rest_log_prob(self, h: torch.Tensor, start: torch.Tensor, rest: torch.Tensor) -> torch.Tensor:
        chord, bends = self._chord_split(rest)
        return (MixtureDensityHead.log_prob(self._chord_params(h, start), chord)
                + MixtureDensityHead.log_prob(self._bends_params(h, start, chord), bends))

    def _draw_rest(self, h: torch.Tensor, start: torch.Tensor, *, generator: torch.Generator | None,
                   temperature: float, component_temperature: float | None) -> torch.Tensor:
        chord = MixtureDensityHead.sample(self._chord_params(h, start).to("cpu"), generator=generator,
                                          temperature=temperature, component_temperature=component_temperature)
        bends = MixtureDensityHead.sample(self._bends_params(h, start, chord).to("cpu"), generator=generator,
                                          temperature=temperature, component_temperature=component_temperature)
        return self._chord_join(chord, bends)
