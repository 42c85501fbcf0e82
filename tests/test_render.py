"""Renderer tests: SVG structure and geometry (parsed back), cubic approximation, grids, animation,
PNG ink placement, the numpy rasteriser against closed forms, and real Quick, Draw! data."""

from __future__ import annotations

import io
import json
import math
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from PIL import Image

from sketchkit.geometry.bezier import evaluate, evaluate_rational
from sketchkit.render import PALETTE, grid_svg, rasterize, rasterize_batch, to_png, to_svg, write_atomic
from sketchkit.sketch import BezierSketch, Sketch

from conftest import shared_path

SVG = "{http://www.w3.org/2000/svg}"


# ----------------------------------------------------------------------------- helpers


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg.encode("utf-8"))


def view_box(root: ET.Element) -> np.ndarray:
    return np.array([float(v) for v in re.split(r"[\s,]+", root.get("viewBox").strip())])


def px_scale(root: ET.Element) -> float:
    """Output pixels per source unit of a single-item SVG."""
    vb = view_box(root)
    return float(root.get("width").removesuffix("px")) / vb[2]


def path_pieces(d: str) -> list[list[np.ndarray]]:
    """Parse absolute M/L/Q/C path data into subpaths of Bézier pieces ((k+1, 2) arrays)."""
    tokens = re.findall(r"[MLQCmlqc]|-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|-?\.\d+", d)
    arity = {"M": 1, "L": 1, "Q": 2, "C": 3}
    subpaths: list[list[np.ndarray]] = []
    cmd, nums, current = None, [], None

    def flush():
        nonlocal current
        if cmd is None:
            return
        pts = np.array(nums, dtype=np.float64).reshape(-1, 2)
        k = arity[cmd]
        assert pts.shape[0] % k == 0, f"{cmd} with {pts.shape[0]} points"
        for j in range(0, pts.shape[0], k):
            group = pts[j : j + k]
            if cmd == "M" and j == 0:
                current = group[0]
                subpaths.append([])
                continue
            if cmd == "M":  # implicit lineto after a moveto
                group = group[:1]
            subpaths[-1].append(np.vstack([current[None], group]))
            current = group[-1]

    for tok in tokens:
        if tok.isalpha():
            assert tok.isupper(), "renderer emits absolute commands"
            flush()
            cmd, nums = tok, []
        else:
            nums.append(float(tok))
    flush()
    return subpaths


def sample_pieces(pieces: list[np.ndarray], n: int = 200) -> np.ndarray:
    t = np.linspace(0.0, 1.0, n)
    return np.concatenate([evaluate(p, t) for p in pieces], axis=0)


def dist_to_polyline(points: np.ndarray, poly: np.ndarray) -> np.ndarray:
    """Distance of each point to the polyline (segments), (m,)."""
    a, b = poly[:-1], poly[1:]
    d = b - a
    len2 = np.maximum((d**2).sum(1), 1e-300)
    rel = points[:, None, :] - a[None]
    u = np.clip((rel * d[None]).sum(-1) / len2, 0.0, 1.0)
    closest = a[None] + u[..., None] * d[None]
    return np.sqrt(((points[:, None, :] - closest) ** 2).sum(-1)).min(axis=1)


def dist_to_dense(points: np.ndarray, dense: np.ndarray) -> np.ndarray:
    """Distance of each point to the nearest of ``dense`` points (KD-tree; dense sampling)."""
    from scipy.spatial import cKDTree

    return cKDTree(dense).query(points)[0]


def paths(root: ET.Element) -> list[ET.Element]:
    return list(root.iter(f"{SVG}path"))


def quickdraw(name: str, n: int | None = None) -> list[Sketch]:
    path = shared_path("quickdraw", "simplified", f"{name}.ndjson")
    out = []
    for line in path.read_text().splitlines()[:n]:
        rec = json.loads(line)
        out.append(Sketch([np.stack([s[0], s[1]], axis=1) for s in rec["drawing"]], label=rec["word"]))
    return out


ZIGZAG = Sketch([np.array([[0.0, 0.0], [40.0, 10.0], [80.0, -20.0]]), np.array([[10.0, 30.0], [70.0, 30.0]])])


# ----------------------------------------------------------------------------- SVG structure


def test_svg_polyline_round_trip_and_viewbox():
    svg = to_svg(ZIGZAG, size=200, stroke_width=3.0, margin=0.05)
    root = parse(svg)
    assert root.tag == f"{SVG}svg" and root.get("width") == "200px" and root.get("height") == "200px"
    vb = view_box(root)
    # Content box 80 x 50, scaled by its larger side into 200 - 2 * (0.05 * 200 + 1.5) = 177 px.
    scale = 177.0 / 80.0
    assert vb[2] == pytest.approx(200 / scale, abs=0.01) and vb[3] == pytest.approx(200 / scale, abs=0.01)
    # Centred: the viewBox centre is the content box centre (40, 5).
    assert vb[0] + vb[2] / 2 == pytest.approx(40.0, abs=0.01)
    assert vb[1] + vb[3] / 2 == pytest.approx(5.0, abs=0.01)
    ps = paths(root)
    assert len(ps) == 2
    for el, stroke in zip(ps, ZIGZAG.strokes):
        (pieces,) = path_pieces(el.get("d"))
        assert all(p.shape == (2, 2) for p in pieces)  # straight L segments only
        pts = np.vstack([pieces[0][:1]] + [p[1:] for p in pieces])
        np.testing.assert_allclose(pts, stroke, atol=0.006 / scale)  # 1/100 px rounding
    group = root.find(f"{SVG}g")
    assert root.find(f"{SVG}title") is None  # no label
    assert parse(to_svg(Sketch(ZIGZAG.strokes, label="zig & zag"))).find(f"{SVG}title").text == "zig & zag"
    assert group.get("fill") == "none"
    assert group.get("stroke-linecap") == "round" and group.get("stroke-linejoin") == "round"
    assert float(group.get("stroke-width")) * scale == pytest.approx(3.0, abs=0.02)


@pytest.mark.parametrize("degree, command", [(1, "L"), (2, "Q"), (3, "C")])
def test_low_degree_curves_are_exact_commands(degree, command):
    rng = np.random.default_rng(degree)
    cp = rng.uniform(0, 100, size=(degree + 1, 2))
    root = parse(to_svg(BezierSketch([cp]), size=256))
    (el,) = paths(root)
    assert re.findall(r"[A-Z]", el.get("d")) == ["M", command]
    (pieces,) = path_pieces(el.get("d"))
    np.testing.assert_allclose(pieces[0], cp, atol=0.006 / px_scale(root))


@pytest.mark.parametrize("degree", range(5, 13))
def test_high_degree_curves_within_tolerance(degree):
    """Degree 5..12 -> cubic pieces; the SVG path sampled back stays within 0.1 output px."""
    rng = np.random.default_rng(100 + degree)
    cp = np.cumsum(rng.normal(0.0, 30.0, size=(degree + 1, 2)), axis=0)
    root = parse(to_svg(BezierSketch([cp]), size=256, tolerance=0.1))
    scale = px_scale(root)
    (el,) = paths(root)
    (pieces,) = path_pieces(el.get("d"))
    assert all(p.shape == (4, 2) for p in pieces)
    # Hausdorff distance both ways, in output pixels, between dense samples of both curves; the
    # nearest-sample distance overestimates the distance to a curve by at most half its chord.
    truth = evaluate(cp, np.linspace(0.0, 1.0, 300001))
    emitted = sample_pieces(pieces, 4000)
    slack = 0.006 + 0.5 * scale * max(
        np.linalg.norm(np.diff(truth, axis=0), axis=1).max(), np.linalg.norm(np.diff(emitted, axis=0), axis=1).max()
    )
    assert slack < 0.05
    assert dist_to_dense(emitted[::10], truth).max() * scale <= 0.1 + slack
    assert dist_to_dense(truth[::50], emitted).max() * scale <= 0.1 + slack
    np.testing.assert_allclose(pieces[0][0], cp[0], atol=0.006 / scale)
    np.testing.assert_allclose(pieces[-1][-1], cp[-1], atol=0.006 / scale)


def test_tighter_tolerance_uses_more_pieces_and_stays_within_it():
    rng = np.random.default_rng(7)
    cp = np.cumsum(rng.normal(0.0, 30.0, size=(10, 2)), axis=0)
    counts = []
    for tol in (1.0, 0.1, 0.01):
        root = parse(to_svg(BezierSketch([cp]), size=256, tolerance=tol))
        (pieces,) = path_pieces(paths(root)[0].get("d"))
        truth = evaluate(cp, np.linspace(0.0, 1.0, 100001))
        assert dist_to_dense(sample_pieces(pieces), truth).max() * px_scale(root) <= tol + 0.01
        counts.append(len(pieces))
    assert counts[0] < counts[1] < counts[2]


def test_rational_quarter_circle_within_tolerance():
    """Weights (1, sqrt(2)/2, 1) on (r,0),(r,r),(0,r) give an exact circular arc of radius r."""
    r = 50.0
    cp = np.array([[r, 0.0], [r, r], [0.0, r]])
    w = np.array([1.0, math.sqrt(0.5), 1.0])
    arc = BezierSketch([cp], weights=[w])
    root = parse(to_svg(arc, size=256, tolerance=0.05))
    scale = px_scale(root)
    (pieces,) = path_pieces(paths(root)[0].get("d"))
    pts = sample_pieces(pieces, 400)
    radial_err_px = np.abs(np.linalg.norm(pts, axis=1) - r) * scale
    assert radial_err_px.max() <= 0.05 + 0.01
    # It covers the whole quarter: both end points and the 45-degree point.
    np.testing.assert_allclose(pts[0], [r, 0.0], atol=0.006 / scale)
    np.testing.assert_allclose(pts[-1], [0.0, r], atol=0.006 / scale)
    assert dist_to_polyline(np.array([[r / math.sqrt(2), r / math.sqrt(2)]]), pts)[0] * scale < 0.1
    # Equal weights are an ordinary polynomial curve: emitted exactly as Q.
    same = BezierSketch([cp], weights=[np.full(3, 2.5)])
    assert re.findall(r"[A-Z]", paths(parse(to_svg(same)))[0].get("d")) == ["M", "Q"]


def test_bezier_viewbox_uses_the_curve_not_the_control_points():
    # A quadratic whose middle control point is far above: the curve only reaches half way.
    cp = np.array([[0.0, 0.0], [50.0, -100.0], [100.0, 0.0]])
    root = parse(to_svg(BezierSketch([cp]), size=100, margin=0.0, stroke_width=1e-6))
    vb = view_box(root)
    # Curve box: x in [0, 100], y in [-50, 0] -> side 100 (the x extent), centre (50, -25).
    np.testing.assert_allclose(vb, [0.0, -75.0, 100.0, 100.0], atol=0.01)


# ----------------------------------------------------------------------------- degenerate input


def test_empty_sketches_give_valid_empty_svg():
    for item in (Sketch([]), BezierSketch([])):
        root = parse(to_svg(item, size=64))
        assert root.tag == f"{SVG}svg" and root.get("width") == "64px"
        assert paths(root) == [] and list(root.iter(f"{SVG}circle")) == []
    png = Image.open(io.BytesIO(to_png(Sketch([]), size=32)))
    assert png.size == (32, 32) and np.asarray(png.convert("L")).min() == 255


def test_single_point_is_a_centred_dot():
    root = parse(to_svg(Sketch([np.array([[3.0, -7.0]])]), size=100, stroke_width=4.0))
    (dot,) = list(root.iter(f"{SVG}circle"))
    vb = view_box(root)
    assert np.all(np.isfinite(vb)) and vb[2] > 0 and vb[3] > 0
    assert float(dot.get("cx")) == pytest.approx(vb[0] + vb[2] / 2) == pytest.approx(3.0)
    assert float(dot.get("cy")) == pytest.approx(vb[1] + vb[3] / 2) == pytest.approx(-7.0)
    assert float(dot.get("r")) * px_scale(root) == pytest.approx(2.0, abs=0.01)  # stroke_width / 2
    img = np.asarray(Image.open(io.BytesIO(to_png(Sketch([np.array([[3.0, -7.0]])]), size=100, stroke_width=4.0))).convert("L"))
    assert img[50, 50] < 60 and img[0, 0] == 255  # the dot is drawn in the middle


def test_horizontal_and_vertical_lines_scale_by_their_length():
    for stroke in (np.array([[10.0, 5.0], [30.0, 5.0]]), np.array([[2.0, 0.0], [2.0, 40.0]])):
        root = parse(to_svg(Sketch([stroke]), size=100, stroke_width=2.0, margin=0.1))
        length = np.ptp(stroke, axis=0).max()
        assert px_scale(root) == pytest.approx((100 - 2 * (10 + 1)) / length, rel=1e-3)
        vb = view_box(root)
        centre = stroke.mean(axis=0)
        np.testing.assert_allclose(vb[:2] + vb[2:] / 2, centre, atol=0.01)


def test_zero_length_stroke_and_point_cloud_are_dots():
    tap = Sketch([np.array([[1.0, 1.0], [1.0, 1.0]]), np.array([[0.0, 0.0], [10.0, 0.0]])])
    root = parse(to_svg(tap))
    assert len(list(root.iter(f"{SVG}circle"))) == 1 and len(paths(root)) == 1
    rng = np.random.default_rng(0)
    cloud = Sketch.from_point_cloud(rng.uniform(0, 28, size=(57, 2)))
    root = parse(to_svg(cloud, size=128, stroke_width=1.5))
    dots = list(root.iter(f"{SVG}circle"))
    assert len(dots) == 57 and paths(root) == []
    assert float(dots[0].get("r")) * px_scale(root) == pytest.approx(1.5, abs=0.01)


@pytest.mark.parametrize(
    "call",
    [
        lambda: to_svg(np.zeros((3, 2))),
        lambda: to_svg(ZIGZAG, stroke_width=0.0),
        lambda: to_svg(ZIGZAG, margin=0.5),
        lambda: to_svg(ZIGZAG, size=0),
        lambda: to_svg(ZIGZAG, size=(10, 20, 30)),
        lambda: to_svg(ZIGZAG, tolerance=-1.0),
        lambda: to_svg(ZIGZAG, stroke_colors="red"),
        lambda: to_svg(ZIGZAG, stroke_colors=[]),
        lambda: to_svg(ZIGZAG, size=10, stroke_width=20.0),
        lambda: grid_svg([]),
        lambda: grid_svg([ZIGZAG], columns=0),
        lambda: rasterize(ZIGZAG, 0),
        lambda: rasterize(ZIGZAG, 16, stroke_width=-1.0),
        lambda: to_png(ZIGZAG, animate=True),
        lambda: to_png("<svg"),
    ],
)
def test_bad_arguments_raise(call):
    with pytest.raises((TypeError, ValueError)):
        call()


# ----------------------------------------------------------------------------- colours, grid, animation


def test_per_stroke_colours():
    four = Sketch([np.array([[i, 0.0], [i, 10.0]]) for i in range(4)])
    root = parse(to_svg(four, stroke_colors=True))
    assert [p.get("stroke") for p in paths(root)] == list(PALETTE[:4])
    root = parse(to_svg(four, stroke_colors=["red", "#00ff00"]))
    assert [p.get("stroke") for p in paths(root)] == ["red", "#00ff00", "red", "#00ff00"]
    root = parse(to_svg(four, color="navy"))
    assert all(p.get("stroke") is None for p in paths(root))
    assert root.find(f"{SVG}g").get("stroke") == "navy"


@pytest.mark.parametrize("n, columns, rows, cols", [(10, 4, 3, 4), (9, None, 3, 3), (2, 5, 1, 2), (1, None, 1, 1)])
def test_grid_layout(n, columns, rows, cols):
    rng = np.random.default_rng(n)
    items = [Sketch([rng.uniform(-50, 50, size=(5, 2)) * (k + 1)]) for k in range(n)]
    cell = 64
    root = parse(grid_svg(items, columns=columns, cell=cell, stroke_width=2.0))
    assert root.get("width") == f"{cols * cell}px" and root.get("height") == f"{rows * cell}px"
    cells = [g for g in root.iter(f"{SVG}g") if g.get("class") == "cell"]
    assert len(cells) == n
    for k, g in enumerate(cells):
        m = [float(v) for v in re.findall(r"-?[\d.]+(?:e-?\d+)?", g.get("transform"))]
        s, tx, ty = m[0], m[4], m[5]
        (pieces,) = path_pieces(g.find(f"{SVG}path").get("d"))
        pts = np.vstack([p for p in pieces]) * s + [tx, ty]
        r, c = divmod(k, cols)
        # Inside its own cell, with the margin (8% of 64 px) + half stroke free.
        free = 0.08 * cell + 1.0
        assert pts[:, 0].min() >= c * cell + free - 0.02 and pts[:, 0].max() <= (c + 1) * cell - free + 0.02
        assert pts[:, 1].min() >= r * cell + free - 0.02 and pts[:, 1].max() <= (r + 1) * cell - free + 0.02
        assert float(g.get("stroke-width")) * s == pytest.approx(2.0, abs=0.02)


def test_grid_labels_and_mixed_items():
    cp = np.array([[0.0, 0.0], [1.0, 2.0], [2.0, 0.0], [3.0, 2.0], [4.0, 0.0]])
    items = [Sketch([], label="empty"), BezierSketch([cp], label="curve"), ZIGZAG]
    root = parse(grid_svg(items, columns=3, labels=True))
    assert [t.text for t in root.iter(f"{SVG}text")] == ["empty", "curve"]
    png = Image.open(io.BytesIO(to_png(grid_svg(items, columns=3, cell=50))))
    assert png.size == (150, 50)


def test_animation_is_well_formed_and_in_stroke_order():
    svg = to_svg(ZIGZAG, animate=True, size=128)
    root = parse(svg)
    starts, ends = [], []
    for el, stroke in zip(paths(root), ZIGZAG.strokes):
        (anim,) = list(el)
        assert anim.tag == f"{SVG}animate" and anim.get("attributeName") == "stroke-dashoffset"
        assert anim.get("fill") == "freeze" and anim.get("dur").endswith("s")
        values = [float(v) for v in anim.get("values").split(";")]
        times = [float(v) for v in anim.get("keyTimes").split(";")]
        assert len(values) == len(times) and times[0] == 0.0 and times[-1] == 1.0
        assert all(b > a for a, b in zip(times, times[1:]))
        dash = [float(v) for v in el.get("stroke-dasharray").split()]
        length = np.linalg.norm(np.diff(stroke, axis=0), axis=1).sum()
        assert dash[0] == dash[1] and dash[0] >= length  # hidden while the offset is one dash
        assert values[0] == pytest.approx(dash[0]) and values[-1] == pytest.approx(dash[0] - length, abs=0.01)
        assert el.get("stroke-dashoffset") == "0"  # static renderers show the whole drawing
        k_start = max(i for i, v in enumerate(values) if v == values[0])
        starts.append(times[k_start])
        ends.append(times[values.index(values[-1])])
    assert starts[0] == 0.0 and ends[0] <= starts[1] < ends[1] <= 1.0
    # The animated SVG still rasterises to the finished drawing.
    still = np.asarray(Image.open(io.BytesIO(to_png(svg))).convert("L"))
    plain = np.asarray(Image.open(io.BytesIO(to_png(to_svg(ZIGZAG, size=128)))).convert("L"))
    diff = np.abs(still.astype(int) - plain.astype(int))
    assert diff.max() <= 10 and diff.mean() < 0.05  # dashing changes anti-aliasing at joins by a few levels


def test_animation_of_bezier_and_dots():
    cp = np.array([[0.0, 0.0], [30.0, 60.0], [60.0, -60.0], [90.0, 0.0], [120.0, 30.0]])
    item = BezierSketch([cp, np.array([[0.0, 50.0], [0.0, 50.0]])])
    root = parse(to_svg(item, animate=True, animation_seconds=3.0))
    (el,) = paths(root)
    (dot,) = list(root.iter(f"{SVG}circle"))
    assert el[0].get("dur") == "3.000s" and dot[0].get("attributeName") == "opacity"
    assert [float(v) for v in dot[0].get("values").split(";")][-1] == 1.0
    # The curve's dash is at least its true length.
    truth = evaluate(cp, np.linspace(0, 1, 5001))
    assert float(el.get("stroke-dasharray").split()[0]) >= np.linalg.norm(np.diff(truth, axis=0), axis=1).sum()


# ----------------------------------------------------------------------------- PNG and raster ink


def _svg_to_px(svg: str):
    root = parse(svg)
    vb = view_box(root)
    s = px_scale(root)
    return lambda p: (np.asarray(p) - vb[:2]) * s, s


@pytest.mark.parametrize("stroke_width", [2.0, 5.0])
def test_png_ink_lies_on_the_strokes(stroke_width):
    size = 160
    svg = to_svg(ZIGZAG, size=size, stroke_width=stroke_width)
    to_px, _ = _svg_to_px(svg)
    img = np.asarray(Image.open(io.BytesIO(to_png(svg))).convert("L")).astype(np.float64)
    assert img.shape == (size, size)
    ink = 1.0 - img / 255.0
    polys = [to_px(s) for s in ZIGZAG.strokes]
    ys, xs = np.nonzero(ink > 0.02)
    centres = np.stack([xs + 0.5, ys + 0.5], axis=1)
    d = np.min([dist_to_polyline(centres, p) for p in polys], axis=0)
    # Every inked pixel centre is within half the width plus one pixel (anti-aliasing) of a stroke.
    assert d.max() <= stroke_width / 2 + 1.0
    # Every point sampled along the strokes lands on a dark pixel.
    for p in polys:
        seg_t = np.linspace(0, 1, 50)[:, None]
        samples = np.concatenate([a + seg_t * (b - a) for a, b in zip(p[:-1], p[1:])])
        vals = ink[samples[:, 1].astype(int).clip(0, size - 1), samples[:, 0].astype(int).clip(0, size - 1)]
        assert vals.min() > 0.5
    # Background is white (default), away from the strokes.
    assert img[0, 0] == 255 and img[-1, -1] == 255


def test_rasterize_closed_form_horizontal_line():
    line = Sketch([np.array([[2.0, 5.5], [10.0, 5.5]])])
    img = rasterize(line, (12, 14), stroke_width=1.0, fit=False)
    assert img.dtype == np.float32 and img.shape == (12, 14)
    expected = np.zeros((12, 14), dtype=np.float32)
    expected[5, 2:10] = 1.0  # centres on the line
    expected[5, 1] = expected[5, 10] = 0.5  # 0.5 px beyond the round caps' centre: half covered
    np.testing.assert_allclose(img, expected, atol=1e-6)


def test_rasterize_ink_area_matches_capsule_area():
    # A long diagonal of width w covers L * w + pi * (w/2)^2 px^2; AA coverage sums to about that.
    for w in (1.0, 3.0):
        line = Sketch([np.array([[10.3, 12.1], [150.7, 101.9]])])
        img = rasterize(line, 170, stroke_width=w, fit=False)
        length = math.hypot(140.4, 89.8)
        area = length * w + math.pi * (w / 2) ** 2
        assert img.sum() == pytest.approx(area, rel=0.03)
        assert 0.0 <= img.min() and img.max() <= 1.0


def test_rasterize_ink_lies_on_the_strokes_when_fitted():
    size, w = 96, 2.0
    img = rasterize(ZIGZAG, size, stroke_width=w)
    # Same fit as to_svg: reuse the SVG's mapping.
    to_px, _ = _svg_to_px(to_svg(ZIGZAG, size=size, stroke_width=w))
    polys = [to_px(s) for s in ZIGZAG.strokes]
    ys, xs = np.nonzero(img > 0)
    d = np.min([dist_to_polyline(np.stack([xs + 0.5, ys + 0.5], 1), p) for p in polys], axis=0)
    assert d.max() <= w / 2 + 0.5 + 1e-9  # exact support of the coverage ramp
    for p in polys:
        t = np.linspace(0, 1, 40)[:, None]
        samples = np.concatenate([a + t * (b - a) for a, b in zip(p[:-1], p[1:])])
        assert img[samples[:, 1].astype(int), samples[:, 0].astype(int)].min() >= 0.5


def test_rasterize_point_cloud_round_trip_on_pixel_grid():
    rng = np.random.default_rng(3)
    mask = rng.uniform(size=(28, 28)) < 0.2
    ys, xs = np.nonzero(mask)
    cloud = Sketch.from_point_cloud(np.stack([xs + 0.5, ys + 0.5], axis=1))
    img = rasterize(cloud, 28, stroke_width=1.0, fit=False)
    np.testing.assert_array_equal(img == 1.0, mask)
    assert np.all(img[~mask] == 0.0)  # dots of diameter 1 at pixel centres touch no neighbour


def test_rasterize_fit_centres_and_handles_shapes():
    square = Sketch([np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [0.0, 0.0]])])
    img = rasterize(square, (40, 60), stroke_width=1.5)
    assert img.shape == (40, 60)
    ys, xs = np.nonzero(img)
    wts = img[ys, xs]
    assert np.average(xs + 0.5, weights=wts) == pytest.approx(30.0, abs=0.05)
    assert np.average(ys + 0.5, weights=wts) == pytest.approx(20.0, abs=0.05)
    assert rasterize(Sketch([]), 8).sum() == 0.0
    dot = rasterize(Sketch([np.array([[5.0, 5.0]])]), 9, stroke_width=3.0)
    assert dot[4, 4] == 1.0 and dot.sum() == pytest.approx(math.pi * 1.5**2, rel=0.1)
    batch = rasterize_batch([square, ZIGZAG], 16)
    assert batch.shape == (2, 16, 16) and batch.dtype == np.float32


def test_rasterize_bezier_circle():
    r = 40.0
    quarters = []
    for k in range(4):
        c, s = math.cos(k * math.pi / 2), math.sin(k * math.pi / 2)
        rot = np.array([[c, -s], [s, c]])
        quarters.append(np.array([[r, 0.0], [r, r], [0.0, r]]) @ rot.T + 50.0)
    circle = BezierSketch(quarters, weights=[np.array([1.0, math.sqrt(0.5), 1.0])] * 4)
    img = rasterize(circle, 100, stroke_width=2.0, fit=False)
    ys, xs = np.nonzero(img)
    radii = np.hypot(xs + 0.5 - 50.0, ys + 0.5 - 50.0)
    assert np.all(np.abs(radii - r) <= 1.0 + 0.5 + 0.05)
    assert img.sum() == pytest.approx(2 * math.pi * r * 2.0, rel=0.03)


# ----------------------------------------------------------------------------- real data, files, imports


def test_real_quickdraw_cats_render():
    cats = quickdraw("cat")
    assert len(cats) == 25
    for sk in cats:
        root = parse(to_svg(sk))
        assert len(paths(root)) + len(list(root.iter(f"{SVG}circle"))) == sk.num_strokes
        img = rasterize(sk, 28, stroke_width=1.0)
        assert img.max() >= 0.75 and 0.05 < (img > 0).mean() < 0.5
    root = parse(grid_svg(cats, columns=5, cell=64))
    assert root.get("width") == "320px" and root.get("height") == "320px"
    assert sum(1 for g in root.iter(f"{SVG}g") if g.get("class") == "cell") == 25
    assert len(paths(root)) + len(list(root.iter(f"{SVG}circle"))) == sum(s.num_strokes for s in cats)


def test_writes_are_atomic_files(tmp_path):
    out = tmp_path / "sub" / "cat.svg"
    text = to_svg(ZIGZAG, out)
    assert out.read_text(encoding="utf-8") == text
    png_path = tmp_path / "cat.png"
    data = to_png(ZIGZAG, png_path, size=40)
    assert png_path.read_bytes() == data and data[:8] == b"\x89PNG\r\n\x1a\n"
    grid_svg([ZIGZAG, ZIGZAG], tmp_path / "grid.svg")
    write_atomic(tmp_path / "x.bin", b"abc")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cat.png", "grid.svg", "sub", "x.bin"]
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["cat.svg"]


def test_to_png_sizes_and_background():
    svg = grid_svg([ZIGZAG] * 3, columns=3, cell=40)
    assert Image.open(io.BytesIO(to_png(svg))).size == (120, 40)
    assert Image.open(io.BytesIO(to_png(svg, size=60))).size == (60, 20)
    assert Image.open(io.BytesIO(to_png(ZIGZAG, size=(30, 50)))).size == (50, 30)
    clear = Image.open(io.BytesIO(to_png(ZIGZAG, background=None, size=32))).convert("RGBA")
    assert np.asarray(clear)[0, 0, 3] == 0
    red = np.asarray(Image.open(io.BytesIO(to_png(ZIGZAG, color="red", size=64))).convert("RGB")).reshape(-1, 3)
    assert any((r > 200 and g < 60 and b < 60) for r, g, b in red)


def test_render_does_not_import_torch():
    code = "import sys, sketchkit.render, sketchkit.cli.render_cmd; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


# ----------------------------------------------------------------------------- animation frames


def _frame_at(svg: str, seconds: float) -> np.ndarray:
    """Rasterise the animated SVG as a SMIL player would show it at ``seconds`` (linear keyframes)."""
    root = parse(svg)
    for el in list(root.iter()):
        for anim in [c for c in el if c.tag == f"{SVG}animate"]:
            dur = float(anim.get("dur").removesuffix("s"))
            values = [float(v) for v in anim.get("values").split(";")]
            times = [float(v) * dur for v in anim.get("keyTimes").split(";")]
            el.set(anim.get("attributeName"), repr(float(np.interp(min(seconds, dur), times, values))))
            el.remove(anim)
    png = to_png(ET.tostring(root, encoding="unicode"))
    return 1.0 - np.asarray(Image.open(io.BytesIO(png)).convert("L")).astype(np.float64) / 255.0


def test_animation_frames_draw_strokes_in_order():
    # Three separated horizontal strokes, drawn left to right, then a tap.
    strokes = [np.array([[0.0, y], [100.0, y]]) for y in (0.0, 50.0, 100.0)] + [np.array([[50.0, 130.0]])]
    sketch = Sketch(strokes)
    size = 128
    svg = to_svg(sketch, size=size, animate=True, animation_seconds=4.0, stroke_width=4.0)
    to_px, _ = _svg_to_px(svg)
    rows = [int(to_px(s[:1])[0, 1]) for s in strokes]
    x0, x1 = (int(v) for v in to_px(strokes[0][:, :])[:, 0])
    anims = [list(el)[0] for el in parse(svg).iter() if len(el) and list(el)[0].tag == f"{SVG}animate"]
    # Key time where stroke 2 starts and ends, from its own keyframes.
    values = [float(v) for v in anims[1].get("values").split(";")]
    times = [float(v) * 4.0 for v in anims[1].get("keyTimes").split(";")]
    t_start = max(t for t, v in zip(times, values) if v == values[0])
    t_end = min(t for t, v in zip(times, values) if v == values[-1])
    mid = (t_start + t_end) / 2
    frame = _frame_at(svg, mid)
    inked = lambda row, a, b: frame[row, a:b].max() > 0.5  # noqa: E731
    assert inked(rows[0], x0 + 2, x0 + 6) and inked(rows[0], x1 - 6, x1 - 2)  # stroke 1 complete
    assert inked(rows[1], x0 + 2, x0 + 6)  # stroke 2 begun ...
    assert not inked(rows[1], x1 - 10, x1 + 1)  # ... not finished
    assert frame[rows[2] - 3 : rows[2] + 4].max() < 0.05  # stroke 3 not started
    assert frame[rows[3] - 3 : rows[3] + 4].max() < 0.05  # tap not shown yet
    start = _frame_at(svg, 0.0)
    assert start.max() < 0.05  # blank at t = 0
    end = _frame_at(svg, 10.0)
    still = 1.0 - np.asarray(Image.open(io.BytesIO(to_png(to_svg(sketch, size=size, stroke_width=4.0)))).convert("L")) / 255.0
    assert np.abs(end - still).max() < 0.05  # finished drawing = the static one


# ----------------------------------------------------------------------------- SVG import round trip


def test_sketch_svg_sketch_round_trip(tmp_path):
    svg_import = pytest.importorskip("sketchkit.data.svg_import")
    cats = quickdraw("cat", 5)
    for k, sk in enumerate(cats):
        path = tmp_path / f"{k}.svg"
        scale = px_scale(parse(to_svg(sk, path, size=256)))
        back = svg_import.svg_to_sketch(path)
        assert back.num_strokes == sk.num_strokes
        for a, b in zip(sk.strokes, back.strokes):
            np.testing.assert_allclose(b, a, atol=0.006 / scale)  # 1/100 px rounding
    # A degree-9 curve comes back (flattened by the importer) within both tolerances.
    rng = np.random.default_rng(11)
    cp = np.cumsum(rng.normal(0.0, 20.0, size=(10, 2)), axis=0)
    path = tmp_path / "curve.svg"
    scale = px_scale(parse(to_svg(BezierSketch([cp]), path, size=256, tolerance=0.1)))
    back = svg_import.svg_to_sketch(path, tolerance=0.05 / scale)
    truth = evaluate(cp, np.linspace(0.0, 1.0, 200001))
    assert dist_to_dense(back.strokes[0], truth).max() * scale <= 0.1 + 0.05 + 0.02


def _offset_at(anim: ET.Element, seconds: float) -> float:
    dur = float(anim.get("dur").removesuffix("s"))
    values = [float(v) for v in anim.get("values").split(";")]
    times = [float(v) * dur for v in anim.get("keyTimes").split(";")]
    return float(np.interp(seconds, times, values))


def test_animation_replays_recorded_times():
    strokes = [np.array([[0.0, 0.0], [90.0, 0.0], [100.0, 0.0]]), np.array([[0.0, 50.0], [100.0, 50.0]])]
    times = [np.array([0.0, 100.0, 1000.0]), np.array([3000.0, 3500.0])]  # ms; a 2 s pause
    sketch = Sketch(strokes, times=times)
    root = parse(to_svg(sketch, animate=True))
    a1, a2 = [list(p)[0] for p in paths(root)]
    assert a1.get("dur") == "2.500s"  # 1 s stroke + pause capped at 1 s + 0.5 s stroke
    dash1 = float(paths(root)[0].get("stroke-dasharray").split()[0])
    dash2 = float(paths(root)[1].get("stroke-dasharray").split()[0])
    tol = 0.01  # coordinates are written to ~1/100 px
    assert _offset_at(a1, 0.1) == pytest.approx(dash1 - 90.0, abs=tol)  # fast first part
    assert _offset_at(a1, 0.55) == pytest.approx(dash1 - 95.0, abs=tol)  # slow second part
    assert _offset_at(a1, 1.0) == _offset_at(a1, 2.5) == pytest.approx(dash1 - 100.0, abs=tol)  # all shown
    assert _offset_at(a2, 1.99) == pytest.approx(dash2, abs=tol)  # not started
    assert _offset_at(a2, 2.25) == pytest.approx(dash2 - 50.0, abs=tol)
    assert _offset_at(a2, 2.5) == pytest.approx(dash2 - 100.0, abs=tol)
    # pen timing ignores the times; recorded timing needs them.
    pen = parse(to_svg(sketch, animate=True, timing="pen"))
    assert list(paths(pen)[0])[0].get("dur") != "2.500s"
    with pytest.raises(ValueError):
        to_svg(Sketch(strokes), animate=True, timing="recorded")
    with pytest.raises(ValueError):
        to_svg(sketch, animate=True, timing="fast")


def test_animation_of_real_raw_quickdraw():
    data = pytest.importorskip("sketchkit.data")
    sk = next(iter(data.read(shared_path("quickdraw", "raw", "cat.ndjson"))))
    assert sk.times is not None
    root = parse(to_svg(sk, animate=True))
    anims = list(root.iter(f"{SVG}animate"))
    assert len(anims) == sk.num_strokes
    durs = {a.get("dur") for a in anims}
    assert len(durs) == 1  # one shared timeline
    for a in anims:
        times = [float(v) for v in a.get("keyTimes").split(";")]
        assert times[0] == 0.0 and times[-1] == 1.0 and all(b > a for a, b in zip(times, times[1:]))


def test_rasterize_agrees_with_cairo_png():
    """The numpy rasteriser and the SVG -> cairo path draw the same ink (same fit, same width)."""
    for sk in quickdraw("cat", 6):
        for size, w in ((64, 1.5), (200, 4.0)):
            fast = rasterize(sk, size, stroke_width=w)
            cairo = 1.0 - np.asarray(Image.open(io.BytesIO(to_png(sk, size=size, stroke_width=w))).convert("L")) / 255.0
            union = ((fast > 0.5) | (cairo > 0.5)).sum()
            assert ((fast > 0.5) & (cairo > 0.5)).sum() / union > 0.93
            assert fast.sum() == pytest.approx(cairo.sum(), rel=0.02)


# ----------------------------------------------------------------------------- properties

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_coord = st.floats(min_value=-1e4, max_value=1e4, allow_nan=False, allow_infinity=False)
_stroke = st.lists(st.tuples(_coord, _coord), min_size=1, max_size=6)


@settings(max_examples=40, deadline=None)
@given(strokes=st.lists(_stroke, min_size=0, max_size=5), size=st.integers(16, 300), width=st.floats(0.5, 4.0))
def test_property_every_stroke_drawn_inside_the_canvas(strokes, size, width):
    sketch = Sketch([np.array(s, dtype=np.float64) for s in strokes])
    root = parse(to_svg(sketch, size=size, stroke_width=width))
    assert len(paths(root)) + len(list(root.iter(f"{SVG}circle"))) == len(strokes)
    vb = view_box(root)
    assert np.all(np.isfinite(vb)) and vb[2] > 0 and vb[3] > 0
    scale = px_scale(root)
    if sketch.num_points:
        free = (0.05 * size + width / 2) / scale  # margin + half stroke, source units
        pts = sketch.points()
        assert np.all(pts >= vb[:2] + free * (1 - 1e-6) - 0.006 / scale)
        assert np.all(pts <= vb[:2] + vb[2:] - free * (1 - 1e-6) + 0.006 / scale)
    img = rasterize(sketch, size, stroke_width=width)
    assert img.dtype == np.float32 and img.shape == (size, size)
    assert 0.0 <= img.min() and img.max() <= 1.0
    assert (img.sum() > 0) == (sketch.num_points > 0)


def test_svgwrite_validator_accepts_every_element(monkeypatch):
    """Re-render with svgwrite's debug validator on (SVG 1.1 full profile element/attribute checks)."""
    import svgwrite
    import svgwrite.animate

    for cls in (svgwrite.Drawing, svgwrite.animate.Animate):
        original = cls.__init__

        def init(self, *args, _original=original, **kwargs):
            kwargs["debug"] = True
            _original(self, *args, **kwargs)

        monkeypatch.setattr(cls, "__init__", init)
    tap = Sketch([np.array([[0.0, 0.0], [10.0, 5.0]]), np.array([[3.0, 3.0]])], label="tap")
    curve = BezierSketch([np.cumsum(np.random.default_rng(0).normal(size=(7, 2)), axis=0)], label="curve")
    cloud = Sketch.from_point_cloud(np.array([[0.0, 0.0], [1.0, 2.0]]))
    texts = [
        to_svg(tap, animate=True, stroke_colors=True, background="white"),
        to_svg(curve, animate=True, timing="pen"),
        grid_svg([tap, curve, cloud], labels=True, animate=True, background="#ffffff"),
    ]
    assert svgwrite.Drawing(debug=False).debug is True  # the patch was active
    for text in texts:
        parse(text)


def test_rasterize_in_chunks_matches_one_pass(monkeypatch):
    import sketchkit.render.raster as raster

    cats = quickdraw("cat", 3)
    whole = [rasterize(sk, 300, stroke_width=3.0) for sk in cats]
    monkeypatch.setattr(raster, "_CHUNK", 500)  # forces many runs
    for sk, expected in zip(cats, whole):
        np.testing.assert_array_equal(rasterize(sk, 300, stroke_width=3.0), expected)


def test_looping_animation_holds_then_repeats():
    root = parse(to_svg(ZIGZAG, animate=True, loop=True, animation_seconds=2.0))
    for el in paths(root):
        (anim,) = list(el)
        assert anim.get("repeatCount") == "indefinite" and anim.get("dur") == "3.500s"  # 2 s + 1.5 s hold
        values = [float(v) for v in anim.get("values").split(";")]
        times = [float(v) for v in anim.get("keyTimes").split(";")]
        done = times[values.index(values[-1])]
        assert done <= 2.0 / 3.5 + 1e-6  # finished before the hold starts
    assert all(a.get("repeatCount") is None for a in parse(to_svg(ZIGZAG, animate=True)).iter(f"{SVG}animate"))


@pytest.mark.parametrize("weights", [None, "uneven"])
def test_hermite_cubics_within_tolerance_and_tangent_continuous(weights):
    """The rational-curve fallback: parametric error within tolerance, tangents continuous at joins."""
    from sketchkit.render._common import hermite_cubics

    rng = np.random.default_rng(5)
    cp = np.cumsum(rng.normal(0.0, 25.0, size=(8, 2)), axis=0)
    w = None if weights is None else np.array([1.0, 4.0, 0.3, 2.0, 1.0, 0.5, 3.0, 1.0])
    tol = 0.02
    pieces = hermite_cubics(cp, w, tol)
    assert len(pieces) > 1
    truth = evaluate(cp, np.linspace(0, 1, 200001)) if w is None else evaluate_rational(cp, w, np.linspace(0, 1, 200001))
    emitted = np.concatenate([evaluate(p, np.linspace(0, 1, 2000)) for p in pieces])
    slack = np.linalg.norm(np.diff(truth, axis=0), axis=1).max()
    assert dist_to_dense(emitted, truth).max() <= tol + slack
    assert dist_to_dense(truth[::100], emitted).max() <= tol + np.linalg.norm(np.diff(emitted, axis=0), axis=1).max()
    for left, right in zip(pieces, pieces[1:]):
        np.testing.assert_array_equal(left[-1], right[0])
        t_in, t_out = left[-1] - left[-2], right[1] - right[0]
        cos = t_in @ t_out / (np.linalg.norm(t_in) * np.linalg.norm(t_out))
        assert cos == pytest.approx(1.0, abs=1e-9)


def test_degenerate_curves():
    same = BezierSketch([np.full((6, 2), 4.0)])  # a degree-5 curve collapsed to a point
    root = parse(to_svg(same))
    assert paths(root) == [] and len(list(root.iter(f"{SVG}circle"))) == 1
    flat = BezierSketch([np.array([[0.0, 1.0], [5.0, 1.0], [7.0, 1.0], [10.0, 1.0], [12.0, 1.0]])])  # on y = 1
    root = parse(to_svg(flat, size=100, margin=0.0, stroke_width=2.0))
    assert px_scale(root) == pytest.approx(98.0 / 12.0, rel=1e-3)
    assert view_box(root)[1] + view_box(root)[3] / 2 == pytest.approx(1.0, abs=1e-3)
    assert rasterize(same, 12).sum() > 0 and rasterize(flat, 12)[6].sum() > 5
    root = parse(grid_svg([Sketch([]), BezierSketch([])], cell=32))
    assert root.get("width") == "64px" and paths(root) == []


def test_rasterize_batch_equals_single_calls():
    items = quickdraw("cat", 6) + [Sketch([]), ZIGZAG, BezierSketch([np.array([[0.0, 0.0], [5.0, 9.0], [10.0, 0.0]])])]
    for size, fit in ((28, True), ((20, 36), True), (64, False)):
        batch = rasterize_batch(items, size, stroke_width=1.5, fit=fit)
        single = np.stack([rasterize(s, size, stroke_width=1.5, fit=fit) for s in items])
        assert batch.shape == single.shape and batch.dtype == np.float32
        np.testing.assert_array_equal(batch, single)
    assert rasterize_batch([], 8).shape == (0, 8, 8)


# -- non-finite coordinates never reach the output ------------------------------------------------
def _nan_in_stroke_2():
    sk = Sketch([np.array([[0.0, 0.0], [5.0, 1.0]]), np.array([[1.0, 1.0]]), np.array([[2.0, 2.0], [3.0, 3.0]])])
    sk.strokes[2][1, 0] = np.nan  # the arrays stay mutable after the constructor's check
    return sk, r"stroke 2 has a non-finite coordinate at point 1"


def _inf_in_curve_1():
    bz = BezierSketch([np.array([[0.0, 0.0], [1.0, 1.0]]), np.array([[0.0, 0.0], [1.0, 2.0], [2.0, 0.0]])])
    bz.curves[1][0, 1] = -np.inf
    return bz, r"curve 1 has a non-finite coordinate at point 0"


def _nan_weight():
    bz = BezierSketch([np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 0.0]])], weights=[np.array([1.0, np.nan, 1.0])])
    return bz, r"curve 0 has weight nan at control point 1"


def _overflowing_extent():
    return Sketch([np.array([[-1e308, 0.0], [1e308, 1.0]])]), r"too wide to render"


RENDERERS = {
    "to_svg": lambda item: to_svg(item),
    "to_svg_animated": lambda item: to_svg(item, animate=True),
    "grid_svg": lambda item: grid_svg([Sketch([np.array([[0.0, 0.0], [1.0, 1.0]])]), item]),
    "rasterize": lambda item: rasterize(item, size=32),
}


@pytest.mark.parametrize("make", [_nan_in_stroke_2, _inf_in_curve_1, _nan_weight, _overflowing_extent])
@pytest.mark.parametrize("renderer", sorted(RENDERERS))
def test_non_finite_coordinates_are_refused_naming_the_stroke(make, renderer):
    item, message = make()
    with pytest.raises(ValueError, match=message):
        RENDERERS[renderer](item)


def test_finite_sketches_still_render_with_a_finite_viewbox():
    svg = to_svg(Sketch([np.array([[0.0, 0.0], [3.0, 4.0]])]))
    box = re.search(r'viewBox="([^"]+)"', svg).group(1).split()
    assert len(box) == 4 and all(math.isfinite(float(v)) for v in box)
