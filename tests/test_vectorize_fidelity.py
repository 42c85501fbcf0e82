"""Fidelity details of the vectoriser: lines cut by the image border, small marks beside thick
strokes, blunt ends of thick lines, thick strokes drawn in runs of their local width, faint
strokes drawn at their own opacity."""

from __future__ import annotations

import io
import json

import numpy as np
from PIL import Image, ImageDraw

from sketchkit.geometry.bezier import evaluate
from sketchkit.geometry.skeleton import ink_radius
from sketchkit.vectorize import as_sketch, to_json, to_ndjson, to_npz_bytes, to_svg, vectorize
from sketchkit.vectorize.pieces import _border_centre, _extend_to_cap


def _points(sketch, n: int = 50) -> np.ndarray:
    """``(m, 2)`` points along every curve of a sketch."""
    return np.concatenate([evaluate(np.asarray(c), np.linspace(0.0, 1.0, n)) for c in sketch.curves])


def _lines_image(ys: tuple[float, ...], width: float, size: int = 128, scale: int = 8) -> np.ndarray:
    """Anti-aliased horizontal lines of ``width`` px centred at ``ys`` (cut by the top border
    where ``y < width / 2``)."""
    big = Image.new("L", (size * scale, size * scale), 255)
    for y in ys:
        top, bottom = (y - width / 2) * scale, (y + width / 2) * scale
        ImageDraw.Draw(big).rectangle([20 * scale, top, 108 * scale, bottom - 1], fill=0)
    return np.asarray(big.resize((size, size), Image.BOX))


def test_a_line_cut_by_the_border_keeps_its_centre():
    # only the inner 2.5 of its 4 px show (y = 0.5): the ink centroid (y = 1.25) is 0.75 px inside the
    # true centre; the visible inner edge puts it back
    for y in (0.25, 0.5):
        pts = _points(vectorize(_lines_image((y, 50.0), 4.0), model=False, stroke_width=4.0))
        top = pts[(pts[:, 0] > 30) & (pts[:, 0] < 98) & (pts[:, 1] < 10)]
        assert top.size and abs(float(np.median(top[:, 1])) - y) < 0.25, (y, np.median(top[:, 1]))
        whole = pts[(pts[:, 0] > 30) & (pts[:, 0] < 98) & (np.abs(pts[:, 1] - 50.0) < 5)]
        assert abs(float(np.median(whole[:, 1])) - 50.0) < 0.2  # a line clear of the border stays


def test_border_centre_needs_ink_at_the_border_and_an_inner_edge():
    offs = np.arange(-3.0, 3.01, 0.25)
    outside = offs > 1.0  # the border beyond +1 px
    cut = np.where(offs < -1.0, 0.0, 1.0)  # ink from -1 px up to the border: inner edge at -1
    assert abs(_border_centre(offs, cut, outside, 4.0) - 1.0) < 0.15  # half a width beyond the edge
    ends_before = np.where((offs < -1.0) | (offs > 0.5), 0.0, 1.0)
    assert _border_centre(offs, ends_before, outside, 4.0) is None  # the ink stops before the border
    assert _border_centre(offs, np.ones_like(offs), outside, 4.0) is None  # no inner edge seen
    assert _border_centre(offs, cut, np.abs(offs) > 1.0, 4.0) is None  # cut on both sides


def test_a_small_mark_beside_thick_strokes_is_kept():
    def drawing(mark: bool) -> np.ndarray:
        img = Image.new("L", (256, 256), 255)
        d = ImageDraw.Draw(img)
        d.line([(30, 60), (220, 60)], fill=0, width=24)
        d.line([(30, 180), (220, 180)], fill=0, width=24)
        if mark:
            d.rectangle([120, 110, 122, 126], fill=0)  # 3 x 17 px: a faint stroke, not dust
        return np.asarray(img)

    sk = vectorize(drawing(True), model=False)
    near = np.linalg.norm(_points(sk) - np.array([121.5, 118.5]), axis=1)
    assert near.min() < 3.0, near.min()
    assert sk.meta["num_strokes"] == vectorize(drawing(False), model=False).meta["num_strokes"] + 1


def test_thick_blunt_ends_move_to_the_cap_centre_and_tapers_stay():
    mask = np.zeros((80, 200), bool)
    mask[30:51, 40:161] = True  # a 21 px bar with square ends at x = 40 and 161
    radius = ink_radius(mask)
    path = np.stack([np.arange(60.5, 141.0), np.full(81, 40.5)], axis=1)  # stops 20 px short of each end
    out = _extend_to_cap(path, True, True, radius, 21.0)
    assert out.shape[0] == path.shape[0] + 2
    # the ends moved on, by at most half a width, and a disc of the stroke still fits there
    assert 50.0 - 0.01 <= out[0, 0] < 60.5 and 140.5 < out[-1, 0] <= 151.0 + 0.01
    assert out[0, 0] <= 52.0 and out[-1, 0] >= 149.0
    assert np.array_equal(_extend_to_cap(path, False, False, radius, 21.0), path)
    # a tapering end: the ink narrows right away, so the end stays
    taper = np.zeros((80, 200), bool)
    for x in range(40, 161):
        half = int(round(10 * min(1.0, (x - 40) / 60.0)))
        taper[40 - half : 41 + half, x] = True
    tr = ink_radius(taper)
    start = np.stack([np.arange(70.5, 141.0), np.full(71, 40.5)], axis=1)
    moved = _extend_to_cap(start, True, False, tr, 21.0)
    assert moved.shape[0] == start.shape[0] or moved[0, 0] > 69.0


def test_a_lobe_of_a_blot_wider_than_its_strokes_is_kept():
    from sketchkit.geometry.morphology import skeletonize
    from sketchkit.geometry.skeleton import trace_paths

    im = Image.new("L", (200, 140), 0)
    d = ImageDraw.Draw(im)
    d.rectangle([20, 55, 180, 65], fill=255)  # an 11 px bar (centre y = 60)
    d.ellipse([72, 32, 128, 88], fill=255)  # a blot on it, radius 28
    d.ellipse([86, 66, 114, 94], fill=255)  # a lobe 6 px beyond the blot, 29 px beyond the bar
    mask = np.asarray(im) > 127
    paths = trace_paths(skeletonize(mask), width=11.0, radius=ink_radius(mask))
    # within the blot's disc, the lobe was pruned as an outline bump; the bar drawn at its own width
    # leaves it uncovered
    assert max(float(p[:, 1].max()) for p in paths) > 75.0


def test_a_thin_line_beside_thick_strokes_is_centred_on_its_own_width():
    img = Image.new("L", (256, 160), 255)
    d = ImageDraw.Draw(img)
    d.rectangle([20, 20, 236, 59], fill=0)  # 40 px bar
    d.rectangle([20, 100, 236, 119], fill=0)  # 20 px bar (the image's width: 19 px)
    d.rectangle([40, 66, 216, 70], fill=0)  # 5 px line (centre y = 68.5), 6 px below the 40 px bar
    sk = vectorize(np.asarray(img), model=False)
    pts = _points(sk)
    line = pts[(np.abs(pts[:, 1] - 68.5) < 4) & (pts[:, 0] > 60) & (pts[:, 0] < 196)]
    # a centring window of the image's width took in the bar's ink: 0.75 px off
    assert line.size and float(np.abs(line[:, 1] - 68.5).max()) < 0.25


def _necked_bar(size: tuple[int, int] = (240, 120), y: float = 60.0) -> np.ndarray:
    """A 24 px bar (x 20..220, centred at ``y``) whose middle third narrows to 8 px; blurred."""
    from PIL import ImageFilter

    im = Image.new("L", size, 255)
    d = ImageDraw.Draw(im)
    d.rectangle([20, y - 12, 86, y + 11], fill=0)
    d.rectangle([154, y - 12, 220, y + 11], fill=0)
    d.rectangle([80, y - 4, 160, y + 3], fill=0)
    return np.asarray(im.filter(ImageFilter.GaussianBlur(1.5)))


def test_split_chain_cuts_curves_without_moving_them():
    from sketchkit.vectorize.stroke_widths import split_chain

    a = np.array([[0.0, 0.0], [10.0, 20.0], [30.0, 20.0], [40.0, 0.0]])
    b = np.array([[40.0, 0.0], [50.0, -10.0], [60.0, 5.0]])
    parts = split_chain([a, b], [(0, 0.3), (0, 0.7), (1, 0.5)])
    assert [len(p) for p in parts] == [1, 1, 2, 1]
    t = np.linspace(0.0, 1.0, 11)
    # the parts join end to end and run along the original curves
    ends = [(p[0][0], p[-1][-1]) for p in parts]
    assert all(np.allclose(ends[i][1], ends[i + 1][0]) for i in range(3))
    assert np.allclose(evaluate(parts[0][0], t), evaluate(a, 0.3 * t))
    assert np.allclose(evaluate(parts[1][0], t), evaluate(a, 0.3 + 0.4 * t))
    assert np.allclose(evaluate(parts[3][0], t), evaluate(b, 0.5 + 0.5 * t))
    assert [len(p) for p in split_chain([a, b], [(0, 1.0)])] == [1, 1]


def test_level_runs_join_short_runs_to_the_closer_neighbour():
    from sketchkit.vectorize.stroke_widths import level_runs

    level = np.array([0] * 8 + [1, 1] + [3] * 8 + [0] * 2)
    # the 2-sample runs go: [1, 1] to the level-0 run before it, the trailing [0, 0] to the 3s
    assert level_runs(level, 3) == [[0, 10], [10, 20]]
    assert level_runs(level, 1) == [[0, 8], [8, 10], [10, 18], [18, 20]]
    assert level_runs(np.array([2, 2, 3, 2, 2]), 3) == [[0, 5]]


def test_a_thick_stroke_is_drawn_thinner_where_its_ink_narrows():
    sk = vectorize(_necked_bar(), model=False)
    widths = np.asarray(sk.meta["stroke_widths"])
    assert len(widths) >= 3 and set(sk.meta["stroke_path"]) == {0}  # one pen stroke, in width runs
    assert sk.meta["num_strokes"] == 1
    # the SVG keeps the runs of the stroke together in one group; a run narrower than the
    # image's width carries its own
    svg = to_svg(sk)
    inner = svg.split("<g>")[1].split("</g>")[0] if svg.count("<g>") == 1 else ""
    assert inner.count("<path") == len(widths)
    assert inner.count("stroke-width=") == int(np.sum(widths != sk.meta["stroke_width"])) >= 1
    # polyline exports join the runs again: one pen stroke
    assert as_sketch(sk).num_strokes == 1 and len(json.loads(to_ndjson(sk))["drawing"]) == 1
    assert widths.max() > 20.0 and widths.min() < 11.0, widths
    # the narrow run lies on the neck, and its ends reach no wider part than the neck
    thin = int(np.argmin(widths))
    pts = np.concatenate([evaluate(np.asarray(c), np.linspace(0.0, 1.0, 20))
                          for c, s in zip(sk.curves, sk.meta["curve_stroke"]) if s == thin])
    assert pts[:, 0].min() > 86.0 - 12.0 and pts[:, 0].max() < 154.0 + 12.0
    assert pts[:, 0].min() < 100.0 and pts[:, 0].max() > 140.0
    # max_strokes counts the result's strokes: no runs then
    one = vectorize(_necked_bar(), model=False, max_strokes=1).meta
    assert one["num_strokes"] == 1 and one["stroke_widths"][0] > 20.0


def test_cross_width_reads_the_ink_across_and_not_past_the_border():
    from sketchkit.vectorize.stroke_widths import cross_width

    ink = np.zeros((60, 100))
    ink[20:30] = 1.0  # a 10 px band (rows 20..29: y 20..30)
    ink[:, 60:] = 0.0
    ink[0:8, 10:50] = 1.0  # a band cut by the top border (rows 0..7 seen)
    pts = np.array([[30.0, 25.0], [70.0, 25.0], [30.0, 2.0]])
    tan = np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0]])
    w = cross_width(pts, tan, ink, 0.5, 16.0)
    assert abs(w[0] - 10.0) < 0.6 and w[1] == 0.0
    # beyond the border the ink is unknown: that side counts in full (~16 / 2 + 2 px), not ~2 px
    assert w[2] > 6.0 + 7.0, w


def _two_way_miss(curves: list[np.ndarray], pts: np.ndarray) -> tuple[float, float]:
    """Largest distance from the points to the curves, and from the curves to the points (px)."""
    dense = np.concatenate([evaluate(c, np.linspace(0.0, 1.0, 400)) for c in curves])
    d = np.sqrt(((pts[:, None, :] - dense[None, :, :]) ** 2).sum(axis=2))
    return float(d.min(axis=1).max()), float(d.min(axis=0).max())


def test_a_short_piece_over_a_sharp_bend_is_cut_below_min_piece():
    from sketchkit.vectorize.fitting import _fit_pieces, _fit_pieces_batched, _FitOptions

    # an L: 30 px, a right angle, 14 px; 45 points, too short to cut at min_piece 25 (a thick stroke's width)
    leg1 = np.stack([np.arange(31.0), np.zeros(31)], axis=1)
    leg2 = np.stack([np.full(14, 30.0), np.arange(1.0, 15.0)], axis=1)
    pts = np.concatenate([leg1, leg2]) + 10.0
    old = _FitOptions(max_degree=3, tolerance=1.0, rms_tolerance=0.3, refine=4, min_piece=25)
    [curves] = _fit_pieces_batched([pts], old, None)
    assert _two_way_miss(curves, pts)[0] > 1.5  # one curve or chord cuts the bend, past the tolerance
    new = _FitOptions(max_degree=3, tolerance=1.0, rms_tolerance=0.3, refine=4, min_piece=25, min_cut=4)
    [curves] = _fit_pieces_batched([pts], new, None)
    [ref] = _fit_pieces([pts], new, None)
    assert [c.shape for c in curves] == [c.shape for c in ref]
    for a, b in zip(curves, ref):
        np.testing.assert_allclose(a, b, atol=1e-6)
    to_curve, to_points = _two_way_miss(curves, pts)
    assert len(curves) >= 2 and to_curve <= 1.0 + 1e-6 and to_points <= 1.0 + 1e-6  # and no curve hooks past its points


def test_thick_strokes_fit_tighter_and_may_cut_below_their_width(monkeypatch):
    import importlib

    pipeline = importlib.import_module("sketchkit.vectorize.pipeline")
    seen = []
    real = pipeline._fit_pieces_batched

    def spy(pieces, opts, model, stats):
        seen.append(opts)
        return real(pieces, opts, model, stats)

    monkeypatch.setattr(pipeline, "_fit_pieces_batched", spy)
    for ys, width in (((40.0, 90.0), 3.0), ((64.0,), 20.0)):
        vectorize(_lines_image(ys, width), model=False)
    thin, thick = seen
    assert thin.min_cut is None and abs(thin.rms_tolerance - 0.25) < 1e-9  # thin lines: as before
    # a 20 px stroke: RMS 0.35 px (not the thin rule's 0.6), cuts down to a quarter of its width
    assert abs(thick.rms_tolerance - pipeline.THICK_RMS_TOLERANCE) < 1e-9 and pipeline.THICK_RMS_TOLERANCE < 0.6
    assert thick.min_cut is not None and thick.min_cut < thick.min_piece and thick.min_cut >= 4


def test_batched_fits_equal_the_reference_with_short_cuts_on_brush_characters(monkeypatch):
    import importlib

    from tests.conftest import shared_path
    from sketchkit.vectorize.fitting import _fit_pieces, _fit_pieces_batched

    imgs = np.load(shared_path("kmnist", "kmnist-test-imgs.npz"))["arr_0"]
    pipeline = importlib.import_module("sketchkit.vectorize.pipeline")
    seen = []
    monkeypatch.setattr(pipeline, "_fit_pieces_batched", lambda *a: seen.append(a[:3]) or _fit_pieces_batched(*a))
    for i in (1509, 1555, 3010):  # each has a bend a thick stroke's width cuts could not reach
        vectorize(np.asarray(Image.fromarray(imgs[i]).resize((256, 256), Image.BICUBIC)))
    for pieces, opts, model in seen:
        assert opts.min_cut is not None
        ref_stats, new_stats = {}, {}
        new, ref = _fit_pieces_batched(pieces, opts, model, new_stats), _fit_pieces(pieces, opts, model, ref_stats)
        assert new_stats == ref_stats and len(new) == len(ref)
        for x, y in zip(new, ref):
            assert [c.shape for c in x] == [c.shape for c in y]
            for cx, cy in zip(x, y):
                np.testing.assert_allclose(cx, cy, atol=1e-6)


def _dark_and_faint(grey: int = 90, paper: int = 255) -> np.ndarray:
    """A black and a grey (``grey``) 6 px line on ``paper``."""
    img = Image.new("L", (160, 160), paper)
    d = ImageDraw.Draw(img)
    d.line([(20, 50), (140, 50)], fill=0, width=6)
    d.line([(20, 110), (140, 110)], fill=grey, width=6)
    return np.asarray(img)


def _opacity_by_row(sk) -> dict[int, float]:
    """The opacity of each path, keyed by the row (rounded to 10 px) of its middle."""
    out = {}
    for k, a in enumerate(sk.meta["stroke_opacity"]):
        curves = [c for c, s in zip(sk.curves, sk.meta["curve_stroke"]) if s == k]
        out[int(round(float(np.mean([c[:, 1].mean() for c in curves])) / 10.0) * 10)] = a
    return out


def test_a_faint_stroke_gets_its_own_opacity_and_the_svg_draws_it_faint():
    sk = vectorize(_dark_and_faint(), model=False)
    by_row = _opacity_by_row(sk)
    assert set(by_row) == {50, 110}, by_row
    assert by_row[50] > 0.97  # black ink: full
    assert abs(by_row[110] - (1.0 - 90 / 255)) < 0.05, by_row  # grey 90: as dark as drawn
    svg = to_svg(sk)
    assert svg.count("stroke-opacity") == 1
    faint = [ln for ln in svg.splitlines() if "stroke-opacity" in ln][0]
    y = float(faint.split('d="M ')[1].split()[1])
    assert abs(y - 110) < 2 and 'stroke-opacity="0.6' in faint, faint
    doc = json.loads(to_json(sk))
    assert doc["stroke_opacity"] == sk.meta["stroke_opacity"]
    npz = np.load(io.BytesIO(to_npz_bytes(sk)))
    np.testing.assert_allclose(npz["stroke_opacity"], sk.meta["stroke_opacity"])


def test_cli_writes_faint_strokes_faint_unless_solid(tmp_path):
    from sketchkit.cli.app import main

    (tmp_path / "in").mkdir()
    Image.fromarray(_dark_and_faint()).save(tmp_path / "in" / "a.png")
    for flags, count in (([], 1), (["--solid"], 0)):
        out = tmp_path / f"out{count}.svg"
        assert main(["vectorize", str(tmp_path / "in" / "a.png"), "-o", str(out), "--model", "none", *flags]) == 0
        assert out.read_text().count("stroke-opacity") == count
        # folder mode hands the flag to its workers
        folder = tmp_path / f"svgs{count}"
        assert main(["vectorize", str(tmp_path / "in"), "-o", str(folder), "--model", "none", "--jobs", "1",
                     "--quiet", *flags]) == 0
        assert (folder / "a.svg").read_text().count("stroke-opacity") == count


def test_opacity_is_read_against_the_paper_and_either_polarity():
    # black ink on grey paper is full ink; a light-on-dark image reads the same as its negative
    grey_paper = vectorize(_dark_and_faint(grey=0, paper=200), model=False)
    assert min(grey_paper.meta["stroke_opacity"]) > 0.97 and "stroke-opacity" not in to_svg(grey_paper)
    img = _dark_and_faint()
    pos, neg = vectorize(img, model=False), vectorize(255 - img, model=False)
    for row, a in _opacity_by_row(pos).items():
        assert abs(_opacity_by_row(neg)[row] - a) < 0.02


def test_a_plain_black_drawing_has_no_stroke_opacity():
    for img in (_lines_image((40.0, 90.0), 3.0), _lines_image((64.0,), 20.0), _dark_and_faint(grey=0)):
        sk = vectorize(img, model=False)
        assert sk.meta["stroke_opacity"] and min(sk.meta["stroke_opacity"]) >= 0.9, sk.meta["stroke_opacity"]
        assert "stroke-opacity" not in to_svg(sk)


def test_path_opacities_take_the_length_weighted_median_over_the_paper():
    from sketchkit.vectorize.stroke_widths import path_opacities

    ink = np.full((40, 80), 0.2)  # paper at 0.2
    ink[9:12, 5:60] = 0.6  # a faint band: (0.6 - 0.2) / 0.8 = 0.5
    ink[9:12, 60:70] = 1.0  # a short dark stretch where it crosses another stroke
    faint = [np.array([[5.0, 10.5], [60.0, 10.5]]), np.array([[60.0, 10.5], [65.0, 10.5], [70.0, 10.5]])]
    dark = [np.array([[61.0, 10.5], [69.0, 10.5]])]
    a = path_opacities([faint, dark, []], [3.0, 3.0, 3.0], ink, 0.2)
    assert abs(a[0] - 0.5) < 0.02 and a[1] > 0.99 and a[2] == 1.0, a
    # a path under 3 px is left opaque: its centre reads grey even when it is black
    assert path_opacities([faint], [2.0], ink, 0.2)[0] == 1.0


def test_thin_antialiased_black_lines_stay_opaque():
    import cairosvg

    for width in (1.0, 1.5, 2.0):
        svg = ('<svg xmlns="http://www.w3.org/2000/svg" width="128" height="128"><rect width="128" height="128" '
               f'fill="white"/><path d="M 10 40.5 C 40 10 80 90 118 60.25" stroke="black" fill="none" '
               f'stroke-width="{width}"/></svg>')
        grey = np.asarray(Image.open(io.BytesIO(cairosvg.svg2png(bytestring=svg.encode()))).convert("L"))
        sk = vectorize(grey, model=False)
        assert min(sk.meta["stroke_opacity"]) == 1.0 and "stroke-opacity" not in to_svg(sk), width
