"""The batched curve fitter (sketchkit.geometry.bezier_batch, vectorize.fitting._fit_pieces_batched) against
the per-piece reference fitter (vectorize.fitting._fit_degree / _fit_pieces) on real strokes.

Stated tolerance: the same decisions (number of curves, degrees) and control points within 1e-6 px
(the two differ only by floating-point rounding: power-form vs Bernstein evaluation, summation order;
1e-4 px for ill-conditioned candidate fits, whose refinement amplifies it).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from sketchkit.geometry.bezier import bernstein_basis, chord_length_parameters
from sketchkit.geometry.bezier_batch import Runs, bernstein_rows, chord_parameters, fit_runs, project, solve_pinned
from sketchkit.vectorize import pipeline
from sketchkit.vectorize.fitting import _fit_pieces, _fit_pieces_batched, _project, _refine_from, _solve_pinned
from sketchkit.vectorize.stroke_model import _model_starts

EXAMPLES = Path(__file__).resolve().parents[1] / "sketchkit" / "examples"
TOL_PX = 1e-6
TOL_ILL_PX = 1e-4  # ill-conditioned candidate fits (see the real-strokes test)


def _capture(image, monkeypatch, **options):
    """Run vectorize on ``image`` and return the (pieces, opts, model) handed to the fitter."""
    seen = {}
    real = pipeline._fit_pieces_batched

    def spy(pieces, opts, model, stats=None):
        seen.update(pieces=[p.copy() for p in pieces], opts=opts, model=model)
        return real(pieces, opts, model, stats)

    monkeypatch.setattr(pipeline, "_fit_pieces_batched", spy)  # the name vectorize() looks up
    pipeline.vectorize(image, **options)
    monkeypatch.setattr(pipeline, "_fit_pieces_batched", real)
    return seen["pieces"], seen["opts"], seen["model"]


def _quickdraw_render(line: str, size: int = 256) -> np.ndarray:
    im = Image.new("L", (size, size), 255)
    d = ImageDraw.Draw(im)
    for s in json.loads(line)["drawing"]:
        pts = list(zip(s[0], s[1]))
        d.line(pts if len(pts) > 1 else pts * 2, fill=0, width=3, joint="curve")
    return np.asarray(im)


def test_ragged_helpers_match_the_single_run_functions():
    rng = np.random.default_rng(0)
    runs = [np.cumsum(rng.normal(size=(n, 2)), axis=0) for n in (2, 5, 17, 40)]
    pts = np.concatenate(runs)
    r = Runs.from_lengths([len(p) for p in runs])
    t = chord_parameters(pts, r)
    for k, p in enumerate(runs):
        np.testing.assert_allclose(t[r.start[k] : r.last[k] + 1], chord_length_parameters(p), atol=1e-12)
    degrees = np.array([1, 2, 3, 3])
    for d in range(0, 4):
        np.testing.assert_allclose(bernstein_rows(t, np.full(t.size, d), 5)[:, : d + 1], bernstein_basis(d, t),
                                   atol=1e-13)
    ctrl = solve_pinned(pts, t, r, degrees, 4)
    for k, p in enumerate(runs):
        ref = _solve_pinned(p, t[r.start[k] : r.last[k] + 1], int(degrees[k]))
        np.testing.assert_allclose(ctrl[k, : degrees[k] + 1], ref, atol=1e-9)
        assert not ctrl[k, degrees[k] + 1 :].any()  # padding stays zero


def test_fit_runs_matches_the_reference_fit_of_each_degree_on_real_strokes(monkeypatch):
    pieces, opts, model = _capture(EXAMPLES / "cat.png", monkeypatch)
    assert len(pieces) >= 8
    preds = model.curves_for(pieces) if model is not None else [None] * len(pieces)
    items, inits = [], []
    for p, pred in zip(pieces, preds):
        for d in (1, 2, 3):
            if p.shape[0] >= 2 * d + 1:
                items.append((p, d, None))
                if pred is not None:
                    items.append((p, d, pred[d - 1]))
    lengths = [p.shape[0] for p, _, _ in items]
    degrees = np.array([d for _, d, _ in items])
    init = np.zeros((len(items), 4, 2))
    use = np.zeros(len(items), bool)
    for k, (p, d, c) in enumerate(items):
        if c is not None:
            c = np.asarray(c, float)
            if (np.linalg.norm(c[0] - p[0]) + np.linalg.norm(c[-1] - p[-1])
                    > np.linalg.norm(c[-1] - p[0]) + np.linalg.norm(c[0] - p[-1])):
                c = c[::-1]
            init[k, : d + 1] = c
            use[k] = True
    hopeless = 4.0 * opts.tolerance
    ctrl, err, rms, dist = fit_runs(np.concatenate([p for p, _, _ in items]), lengths, degrees, init=init,
                                    use_init=use, refine=opts.refine, hopeless=hopeless, width=4, return_dist=True)
    first = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    for k, (p, d, c) in enumerate(items):
        start = _solve_pinned(p, chord_length_parameters(p), d) if c is None else init[k, : d + 1]
        t0, dist0 = _project(start, p)
        ref_ctrl, ref_err, ref_rms, ref_dist = _refine_from(p, d, start, t0, dist0, opts.refine, hopeless)
        # an ill-conditioned candidate (control points far beyond its piece, e.g. a cubic on a near-straight piece)
        # amplifies the rounding differences in its refinement steps: there 1e-4 px
        tol = TOL_PX if np.abs(ref_ctrl - p.mean(axis=0)).max() <= 2.0 * np.ptp(p, axis=0).max() else TOL_ILL_PX
        np.testing.assert_allclose(ctrl[k, : d + 1], ref_ctrl, atol=tol, err_msg=f"item {k}, degree {d}")
        assert abs(err[k] - ref_err) < tol and abs(rms[k] - ref_rms) < tol
        np.testing.assert_allclose(dist[first[k] : first[k] + len(p)], ref_dist, atol=tol)


def _same_curves(a: list[list[np.ndarray]], b: list[list[np.ndarray]]) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert [c.shape[0] for c in x] == [c.shape[0] for c in y]
        for cx, cy in zip(x, y):
            np.testing.assert_allclose(cx, cy, atol=TOL_PX)


@pytest.mark.parametrize("use_model", [True, False])
def test_batched_pieces_equal_the_reference_on_the_cat(monkeypatch, use_model):
    pieces, opts, model = _capture(EXAMPLES / "cat.png", monkeypatch, model="cloud2curve" if use_model else False)
    ref_stats, new_stats = {}, {}
    ref = _fit_pieces(pieces, opts, model, ref_stats)
    new = _fit_pieces_batched(pieces, opts, model, new_stats)
    _same_curves(new, ref)
    assert new_stats == ref_stats


def test_batched_pieces_equal_the_reference_on_quickdraw_renders(monkeypatch):
    from tests.conftest import shared_path

    for category in ("bicycle", "face", "sheep"):
        lines = shared_path("quickdraw", "simplified", f"{category}.ndjson").read_text().splitlines()
        for line in lines[10:12]:
            pieces, opts, model = _capture(_quickdraw_render(line), monkeypatch)
            _same_curves(_fit_pieces_batched(pieces, opts, model), _fit_pieces(pieces, opts, model))


def test_a_closed_loop_is_cut_in_halves_not_peeled(monkeypatch):
    # one closed circle: no pinned cubic fits it; the cut goes to the far side, so a handful of curves
    im = Image.new("L", (512, 512), 255)
    ImageDraw.Draw(im).ellipse([56, 56, 456, 456], outline=0, width=3)
    pieces, opts, model = _capture(np.asarray(im), monkeypatch)
    assert len(pieces) == 1 and np.allclose(pieces[0][0], pieces[0][-1])
    curves = _fit_pieces_batched(pieces, opts, model)[0]
    assert 2 <= len(curves) <= 12, len(curves)
    assert curves == [] or np.linalg.norm(curves[0][-1] - pieces[0][0]) > 100  # first cut far from the start


def test_project_finds_foot_points_of_known_curves():
    # a straight line y = 0 from x = 0 to 10 as a cubic, points above it
    ctrl = np.array([[[0.0, 0.0], [10 / 3, 0.0], [20 / 3, 0.0], [10.0, 0.0]]])
    pts = np.array([[0.0, 1.0], [2.5, -2.0], [7.0, 0.5], [10.0, 3.0]])
    t, dist = project(ctrl, pts, Runs.from_lengths([4]), np.array([3]))
    np.testing.assert_allclose(t, [0.0, 0.25, 0.7, 1.0], atol=1e-9)
    np.testing.assert_allclose(dist, [1.0, 2.0, 0.5, 3.0], atol=1e-9)


def test_lines_are_the_pinned_chord_with_exact_foot_point_distances():
    # degree-1 items skip the search and the refinement: their distances are the closed-form
    # point-to-segment distances (width 2 exercises the Newton step's shortest polynomial)
    rng = np.random.default_rng(3)
    runs = [np.cumsum(rng.normal(size=(n, 2)), axis=0) for n in (2, 7, 30)]
    pts = np.concatenate(runs)
    for width in (2, 4):
        ctrl, err, rms, dist = fit_runs(pts, [len(p) for p in runs], np.ones(3, int), width=width, return_dist=True)
        start = 0
        for k, p in enumerate(runs):
            a, b = p[0], p[-1]
            np.testing.assert_allclose(ctrl[k, :2], [a, b], atol=0)
            s = np.clip((p - a) @ (b - a) / ((b - a) @ (b - a)), 0.0, 1.0)
            ref = np.linalg.norm(p - (a + s[:, None] * (b - a)), axis=1)
            np.testing.assert_allclose(dist[start : start + len(p)], ref, atol=1e-9)
            assert abs(rms[k] - np.sqrt(np.mean(ref**2))) < 1e-9 and err[k] >= ref.max() - 1e-12
            start += len(p)


def test_err_cap_skips_only_the_back_distance_above_the_cap():
    rng = np.random.default_rng(4)
    runs = [np.cumsum(rng.normal(size=(n, 2)), axis=0) for n in (12, 25, 40)]
    pts, lengths, degrees = np.concatenate(runs), [len(p) for p in runs], np.array([2, 3, 3])
    full_ctrl, full_err, full_rms, dist = fit_runs(pts, lengths, degrees, return_dist=True)
    dmax = np.maximum.reduceat(dist, np.r_[0, np.cumsum(lengths)[:-1]])
    cap = np.median(dmax)
    ctrl, err, rms = fit_runs(pts, lengths, degrees, err_cap=cap)
    np.testing.assert_array_equal(ctrl, full_ctrl)
    np.testing.assert_array_equal(rms, full_rms)
    above = dmax > cap
    assert above.any() and (~above).any()
    np.testing.assert_array_equal(err[~above], full_err[~above])  # measured: exact
    np.testing.assert_array_equal(err[above], dmax[above])  # not measured: the point distance, over the cap


def test_returned_distances_are_those_of_the_returned_curves(monkeypatch):
    pieces, opts, model = _capture(EXAMPLES / "cat.png", monkeypatch, model=False)
    degrees = np.array([max(1, min(3, (len(p) - 1) // 2)) for p in pieces])
    pts, lengths = np.concatenate(pieces), [len(p) for p in pieces]
    ctrl, err, rms, dist = fit_runs(pts, lengths, degrees, refine=opts.refine, width=4, return_dist=True)
    _, fresh = project(ctrl, pts, Runs.from_lengths(lengths), degrees)
    np.testing.assert_allclose(dist, fresh, atol=1e-3)  # the fit's last projection vs a fresh one


def test_model_starts_match_the_models_own_curves(monkeypatch):
    pieces, _, model = _capture(EXAMPLES / "cat.png", monkeypatch, model="cloud2curve")
    assert model is not None
    starts, has = _model_starts(model, pieces, 4)
    for p, pred in enumerate(model.curves_for(pieces)):
        for d in range(1, 4):
            assert has[p, d]
            np.testing.assert_allclose(starts[p, d, : d + 1], pred[d - 1], atol=1e-9)
            assert not starts[p, d, d + 1 :].any()
    assert not has[:, 0].any()


def test_folder_mode_writes_every_image_and_a_summary_with_the_time_per_image(tmp_path, capsys):
    from sketchkit.cli.app import main

    src = tmp_path / "in"
    src.mkdir()
    for k in range(4):
        im = Image.new("L", (96, 96), 255)
        ImageDraw.Draw(im).line([(10, 10 + 15 * k), (80, 40), (30, 85)], fill=0, width=3, joint="curve")
        im.save(src / f"d{k}.png")
    out = tmp_path / "out"
    assert main(["vectorize", str(src), "-o", str(out), "--quiet"]) == 0  # default --jobs: all cores
    assert sorted(p.name for p in out.iterdir()) == [f"d{k}.svg" for k in range(4)]
    assert all("<path" in (out / f"d{k}.svg").read_text() for k in range(4))
    summary = [line for line in capsys.readouterr().err.splitlines() if line.strip()][-1]
    assert summary.startswith("vectorised 4/4 images") and "ms per image" in summary and "0 failed" in summary


@pytest.mark.parametrize("options", [{"refine": 0}, {"refine": 1, "max_degree": 5}, {"max_degree": 1}])
def test_batched_pieces_equal_the_reference_with_other_options(monkeypatch, options):
    # refine=0 keeps the model's unrefined line as a start of its own; degree 5 widens the padding;
    # max_degree=1 has nothing but lines
    pieces, opts, model = _capture(EXAMPLES / "cat.png", monkeypatch, **options)
    ref_stats, new_stats = {}, {}
    _same_curves(_fit_pieces_batched(pieces, opts, model, new_stats), _fit_pieces(pieces, opts, model, ref_stats))
    assert new_stats == ref_stats


def test_small_closed_form_solves_match_lapack():
    from sketchkit.geometry.bezier_batch import _solve_small

    rng = np.random.default_rng(0)
    for k in (1, 2, 3):
        m = rng.normal(size=(50, 6, k))
        a = m.transpose(0, 2, 1) @ m + 1e-9 * np.eye(k)  # normal matrices, as in the pinned solve
        b = rng.normal(size=(50, k, 2))
        np.testing.assert_allclose(_solve_small(a, b), np.linalg.solve(a, b), rtol=1e-9, atol=1e-9)


def test_ragged_model_prediction_equals_the_padded_clouds(monkeypatch):
    # a cloud sampled at 64 indices from a short piece repeats points; max-pooling ignores repeats
    _, _, model = _capture(EXAMPLES / "cat.png", monkeypatch, model="cloud2curve")
    assert model is not None
    rng = np.random.default_rng(1)
    runs = [rng.uniform(-1, 1, size=(n, 2)) for n in (3, 17, 64, 80)]
    padded = np.stack([r[np.round(np.linspace(0, len(r) - 1, 64)).astype(int)] for r in runs])
    distinct = [r if len(r) < 64 else padded[i] for i, r in enumerate(runs)]
    c_pad, l_pad = model.predict(padded)
    c_run, l_run = model.predict_runs(np.concatenate(distinct), np.array([len(r) for r in distinct]))
    np.testing.assert_allclose(c_run, c_pad, atol=1e-5)  # float32 matmuls of other shapes: rounding only
    np.testing.assert_allclose(l_run, l_pad, atol=1e-5)
