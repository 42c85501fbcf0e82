"""Sampling without drawing over the ink (sketchkit.models.overdraw) and its use in BézierSketch.sample."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sketchkit.geometry.bezier import evaluate
from sketchkit.models.bezier_sketch import BezierSketchConfig, BezierSketchModel
from sketchkit.models.overdraw import DrawnInk, redraw_over_ink
from sketchkit.models.stroke_embedder import unit_box
from sketchkit.models.token_canvas import TokenCurves
from sketchkit.quality import doubled_share

TINY = dict(embed_hidden=16, embed_latent=16, enc_hidden=16, dec_hidden=16, latent_dim=0, num_mixtures=2,
            max_strokes=12, max_stroke_points=24)


def _points_of(degree: int, offset_scale: float, start_scale: float):
    """Tokens -> 16 points per curve as numpy, as the model hands them to the overdraw check."""
    curves = TokenCurves(degree, offset_scale, start_scale, samples=16)
    return lambda tokens: curves.points(tokens).double().numpy()


def _line_token(a, b, degree: int = 3, offset_scale: float = 0.5, start_scale: float = 2.0) -> torch.Tensor:
    """A token ``[dP_1..dP_d, P_0]`` of the straight curve from ``a`` to ``b`` (unit-box units)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    steps = np.repeat(((b - a) / degree)[None], degree, 0) / offset_scale
    return torch.tensor(np.concatenate([steps.ravel(), a / start_scale]), dtype=torch.float32)


def test_token_points_lie_on_the_tokens_curve():
    model = BezierSketchModel(BezierSketchConfig(min_degree=3, max_degree=3, **TINY))
    tokens = torch.randn(4, model.token_dim, generator=torch.Generator().manual_seed(0))
    pts = model._token_points(tokens)
    curves, _ = model._tokens_to_curves(tokens.numpy())
    assert pts.shape == (4, 16, 2)
    for p, cp in zip(pts, curves):
        np.testing.assert_allclose(p, evaluate(cp, np.linspace(0, 1, 16)), atol=1e-5)


def test_share_counts_other_strokes_only():
    to_points = _points_of(3, 0.5, 2.0)
    ink = DrawnInk(2)
    first = torch.stack([_line_token((-0.5, 0), (0.5, 0)), _line_token((-0.5, 0.9), (0.5, 0.9))])
    ink.add(first, torch.tensor([False, False]), torch.tensor([False, False]), to_points)
    on_top = to_points(_line_token((-0.5, 0.01), (0.5, 0.01))[None])[0]
    across = to_points(_line_token((0, -0.8), (0, 0.8))[None])[0]
    assert ink.share_on_other_strokes(0, on_top, False, 0.08) == 1.0
    assert 0.0 < ink.share_on_other_strokes(0, across, False, 0.08) <= 0.2  # a crossing touches briefly
    assert ink.share_on_other_strokes(1, on_top, False, 0.08) == 0.0  # row 1 drew elsewhere
    # A curve that continues row 0's stroke is not compared with that stroke's own curves.
    assert ink.share_on_other_strokes(0, on_top, True, 0.08) == 0.0


def test_redraw_keeps_the_draw_lying_least_on_other_strokes_and_leaves_the_rest():
    to_points = _points_of(3, 0.5, 2.0)
    ink = DrawnInk(3)
    base = torch.stack([_line_token((-0.5, 0), (0.5, 0))] * 3)
    ink.add(base, torch.zeros(3, dtype=torch.bool), torch.zeros(3, dtype=torch.bool), to_points)
    retrace = _line_token((-0.5, 0.0), (0.5, 0.0))
    elsewhere = _line_token((-0.5, 0.7), (0.5, 0.7))
    tokens = torch.stack([retrace, elsewhere, retrace])
    done = torch.tensor([False, False, True])
    asked = []

    def redraw(rows):
        asked.append(list(rows))
        # The first redraw still retraces half the line; the second goes elsewhere.
        tok = _line_token((0.0, 0.0), (1.0, 0.0)) if len(asked) == 1 else elsewhere
        return torch.stack([tok] * len(rows))

    out = redraw_over_ink(tokens.clone(), ink, torch.zeros(3, dtype=torch.bool), done, 0.3, 4, redraw, to_points)
    assert asked == [[0], [0]]  # only the live row over the limit, until it is under it
    assert torch.equal(out[0], elsewhere) and torch.equal(out[1], elsewhere) and torch.equal(out[2], retrace)
    # With a single try nothing is redrawn.
    asked.clear()
    out = redraw_over_ink(tokens.clone(), ink, torch.zeros(3, dtype=torch.bool), done, 0.3, 1, redraw, to_points)
    assert asked == [] and torch.equal(out, tokens)


def test_sample_with_max_overdraw_draws_less_over_its_own_ink():
    torch.manual_seed(0)
    model = BezierSketchModel(BezierSketchConfig(min_degree=3, max_degree=3, **TINY)).eval()
    with torch.no_grad():  # an untrained head that seldom stops or continues: a dozen separate strokes each
        model.head.proj.bias[-2:] = -4.0
    g = lambda: torch.Generator().manual_seed(3)  # noqa: E731
    plain = model.sample(40, generator=g(), temperature=1.0)
    # A limit no curve can exceed changes nothing (the same random draws are taken).
    same = model.sample(40, generator=g(), temperature=1.0, max_overdraw=1.0)
    assert all(np.array_equal(u, v) for a, b in zip(plain, same) for u, v in zip(a.curves, b.curves))
    careful = model.sample(40, generator=g(), temperature=1.0, max_overdraw=0.0)
    share = lambda sketches: np.mean([doubled_share(s) or 0.0 for s in sketches])  # noqa: E731
    assert share(careful) < 0.8 * share(plain)
    with pytest.raises(ValueError, match="max_overdraw"):
        model.sample(1, max_overdraw=1.5)


def test_completion_counts_the_partial_as_drawn():
    from sketchkit.sketch import Sketch

    torch.manual_seed(0)
    model = BezierSketchModel(BezierSketchConfig(min_degree=3, max_degree=3, **TINY)).eval()
    with torch.no_grad():
        model.head.proj.bias[-2:] = -4.0
    line = np.stack([np.linspace(0, 50, 20), np.linspace(0, 10, 20)], 1)
    partial = Sketch([line, line[::-1] + [0, 30]])
    g = lambda: torch.Generator().manual_seed(5)  # noqa: E731
    plain = model.complete(partial, 6, generator=g(), temperature=1.0)
    same = model.complete(partial, 6, generator=g(), temperature=1.0, max_overdraw=1.0)
    assert all(np.array_equal(u, v) for a, b in zip(plain, same) for u, v in zip(a.curves, b.curves))
    careful = model.complete(partial, 6, generator=g(), temperature=1.0, max_overdraw=0.0)
    assert all(s.meta["n_given"] == 2 for s in careful)
    for a, b in zip(plain, careful):  # the partial comes back unchanged either way
        assert all(np.allclose(u, v) for u, v in zip(a.curves[:2], b.curves[:2]))
    # The partial's own ink counts: new curves lie on it less than unconstrained ones do.
    ink = DrawnInk(1)
    to_points = model._token_points
    tokens = torch.from_numpy(model._sketch_tokens([partial])[0])
    for k in range(len(tokens)):
        ink.add(tokens[k:k + 1], torch.tensor([k > 0 and bool(tokens[k - 1, -1] > 0.5)]), torch.tensor([False]),
                to_points)

    centre, half = unit_box(partial.points())

    def on_partial(sketches):
        shares = []
        for s in sketches:
            for cp in s.curves[2:]:
                pts = evaluate((np.asarray(cp) - centre) / half, np.linspace(0, 1, 16))
                shares.append(ink.share_on_other_strokes(0, pts, False, 0.08))
        return np.mean(shares)

    assert on_partial(careful) < on_partial(plain)
    with pytest.raises(ValueError, match="max_overdraw"):
        model.complete(partial, 1, max_overdraw=-1.0)
