"""SVG import: path commands against closed forms, elements, transforms, errors, render round trip."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sketchkit.data import read
from sketchkit.data.svg_import import parse_path, parse_transform, svg_to_sketch
from sketchkit.errors import DataFormatError
from sketchkit.geometry.bezier import evaluate
from sketchkit.sketch import Sketch


def _svg(body: str) -> str:
    return f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100">{body}</svg>'


def _dist_to_polyline(points: np.ndarray, poly: np.ndarray) -> np.ndarray:
    a, b = poly[:-1], poly[1:]
    ab = b - a
    denom = np.maximum((ab ** 2).sum(1), 1e-300)
    t = np.clip(((points[:, None, :] - a) * ab).sum(-1) / denom, 0, 1)
    proj = a + t[..., None] * ab
    return np.linalg.norm(points[:, None, :] - proj, axis=-1).min(axis=1)


def test_lines_and_close():
    (s,) = parse_path("M 10 10 h 5 v 5 H 10 V 10 Z")
    np.testing.assert_array_equal(s, [[10, 10], [15, 10], [15, 15], [10, 15], [10, 10]])
    (s,) = parse_path("M 0 0 L 3 4 Z")
    np.testing.assert_array_equal(s, [[0, 0], [3, 4], [0, 0]])
    a, b = parse_path("m 1 1 2 0 0 2 m 10 10 l 1 1")  # implicit lineto after m, relative new subpath
    np.testing.assert_array_equal(a, [[1, 1], [3, 1], [3, 3]])
    np.testing.assert_array_equal(b, [[13, 13], [14, 14]])
    assert parse_path("M 5 5") == []  # a lone moveto draws nothing
    c1, c2 = parse_path("M 0 0 L 1 0 Z L 0 1")  # after Z, drawing restarts at the subpath start
    np.testing.assert_array_equal(c1, [[0, 0], [1, 0], [0, 0]])
    np.testing.assert_array_equal(c2, [[0, 0], [0, 1]])


@pytest.mark.parametrize("tol", [1.0, 0.1, 0.01])
def test_cubic_within_tolerance(tol):
    cp = np.array([[0.0, 0.0], [0.0, 80.0], [100.0, 80.0], [100.0, 0.0]])
    (s,) = parse_path("M0 0 C 0 80 100 80 100 0", tolerance=tol)
    np.testing.assert_array_equal(s[0], cp[0])
    np.testing.assert_allclose(s[-1], cp[-1], atol=1e-12)
    truth = evaluate(cp, np.linspace(0, 1, 4001))
    assert _dist_to_polyline(truth, s).max() <= tol
    # vertices lie on the curve (they are samples of it): distance to the dense truth is tiny
    assert _dist_to_polyline(s, truth).max() < 1e-3


def test_smooth_and_quadratic_reflections():
    (s,) = parse_path("M0 0 C 0 10 10 10 10 0 S 20 -10 20 0", tolerance=0.01)
    second = np.array([[10.0, 0.0], [10.0, -10.0], [20.0, -10.0], [20.0, 0.0]])  # reflected first control
    first = np.array([[0.0, 0.0], [0.0, 10.0], [10.0, 10.0], [10.0, 0.0]])
    truth = np.concatenate([evaluate(first, np.linspace(0, 1, 500)), evaluate(second, np.linspace(0, 1, 500))])
    assert _dist_to_polyline(truth, s).max() <= 0.01
    (q,) = parse_path("M0 0 Q 10 10 20 0 T 40 0", tolerance=0.01)
    qt = np.concatenate([evaluate(np.array([[0, 0], [10, 10], [20, 0.0]]), np.linspace(0, 1, 500)),
                         evaluate(np.array([[20, 0], [30, -10], [40, 0.0]]), np.linspace(0, 1, 500))])
    assert _dist_to_polyline(qt, q).max() <= 0.01
    assert q[:, 1].min() == pytest.approx(-5.0, abs=0.01)  # apex of the reflected quadratic
    (r,) = parse_path("M0 0 q 10 10 20 0 t 20 0", tolerance=0.01)  # relative forms
    np.testing.assert_allclose(r, q, atol=1e-12)


@pytest.mark.parametrize("large, sweep, centre", [
    # large != sweep: centre below the chord (y down, sweep = increasing angle); else above
    (0, 1, (10.0, 10.0 + math.sqrt(300.0))),
    (1, 0, (10.0, 10.0 + math.sqrt(300.0))),
    (0, 0, (10.0, 10.0 - math.sqrt(300.0))),
    (1, 1, (10.0, 10.0 - math.sqrt(300.0))),
])
def test_arc_closed_form(large, sweep, centre):
    # Chord from (0, 10) to (20, 10) on a circle of radius 20: centre 10 +- sqrt(300) in y.
    tol = 0.05
    (s,) = parse_path(f"M 0 10 A 20 20 0 {large} {sweep} 20 10", tolerance=tol)
    np.testing.assert_allclose(np.linalg.norm(s - centre, axis=1), 20.0, atol=1e-9)
    np.testing.assert_allclose(s[-1], [20, 10], atol=1e-12)
    seg = np.linalg.norm(np.diff(s, axis=0), axis=1)
    sagitta = 20.0 - np.sqrt(20.0 ** 2 - (seg / 2) ** 2)
    assert sagitta.max() <= tol
    mid_y = s[len(s) // 2, 1]
    arc_is_large = abs(mid_y - 10) > 20 - math.sqrt(300) + 1e-6
    assert arc_is_large == bool(large)


def test_arc_radius_scaled_up_and_rotated_ellipse():
    (s,) = parse_path("M 0 0 A 1 1 0 0 1 10 0", tolerance=0.01)  # radius too small -> half circle of r=5
    np.testing.assert_allclose(np.linalg.norm(s - [5, 0], axis=1), 5.0, atol=1e-9)
    assert s[:, 1].min() == pytest.approx(-5.0, abs=0.01)  # sweep=1 goes through negative y (y down)
    (e,) = parse_path("M 5 0 A 10 5 90 0 1 0 10", tolerance=0.01)
    # rotated 90 degrees: the long axis (rx = 10) is vertical, so (x/5)^2 + (y/10)^2 = 1 about a
    # centre (0, 0) or (5, 10) (the two ellipses through both end points)
    for centre in ([0.0, 0.0], [5.0, 10.0]):
        q = e - centre
        val = (q[:, 0] / 5) ** 2 + (q[:, 1] / 10) ** 2
        if np.allclose(val, 1, atol=1e-9):
            break
    else:
        pytest.fail("arc points are not on the rotated ellipse")


def test_compact_number_and_flag_syntax():
    (a,) = parse_path("M1.5.5-3e1-2")
    np.testing.assert_array_equal(a, [[1.5, 0.5], [-30, -2]])
    (b,) = parse_path("M0,0a5,5,0,0,1,10,0")
    (c,) = parse_path("M0 0a5 5 0 0110 0")
    np.testing.assert_allclose(b, c)
    with pytest.raises(ValueError, match="expected an arc flag"):
        parse_path("M0 0 a5 5 0 2 1 10 0")
    with pytest.raises(ValueError, match="expected a number at character 6, found 'x'"):
        parse_path("M0 0 Lx")
    with pytest.raises(ValueError, match="must start with M"):
        parse_path("L 1 1")


def test_transforms_closed_form():
    np.testing.assert_allclose(parse_transform("translate(3 4) scale(2)") @ [1, 1, 1], [5, 6, 1])
    rot = parse_transform("rotate(90 10 10)")
    np.testing.assert_allclose(rot @ [20, 10, 1], [10, 20, 1], atol=1e-12)
    np.testing.assert_allclose(parse_transform("matrix(1 2 3 4 5 6)") @ [1, 1, 1], [9, 12, 1])
    np.testing.assert_allclose(parse_transform("skewX(45)") @ [0, 2, 1], [2, 2, 1], atol=1e-12)
    with pytest.raises(ValueError, match="bad transform"):
        parse_transform("spin(3)")


def test_elements_groups_and_transforms():
    svg = _svg(
        '<g transform="translate(100 0)"><line x1="0" y1="0" x2="10" y2="0"/>'
        '<g transform="scale(2)"><polyline points="0,0 1,1 2,0"/></g></g>'
        '<polygon points="0 0 4 0 4 4"/>'
        '<rect x="1" y="2" width="3" height="4"/>'
        '<circle cx="50" cy="50" r="2" fill="black" stroke="none"/>'
        '<circle cx="50" cy="50" r="10" fill="none" stroke="black"/>'
        '<defs><path d="M 0 0 L 99 99"/></defs>'
        '<path d="M 0 0 L 99 99" style="display:none"/>'
        '<ellipse cx="0" cy="0" rx="4" ry="2" stroke="red"/>'
    )
    sk = svg_to_sketch(svg, tolerance=0.01)
    s = sk.strokes
    assert sk.num_strokes == 7
    np.testing.assert_array_equal(s[0], [[100, 0], [110, 0]])
    np.testing.assert_array_equal(s[1], [[100, 0], [102, 2], [104, 0]])
    np.testing.assert_array_equal(s[2], [[0, 0], [4, 0], [4, 4], [0, 0]])
    np.testing.assert_array_equal(s[3], [[1, 2], [4, 2], [4, 6], [1, 6], [1, 2]])
    np.testing.assert_array_equal(s[4], [[50, 50]])  # a filled dot is a point
    np.testing.assert_allclose(np.linalg.norm(s[5] - 50, axis=1), 10, atol=1e-9)
    np.testing.assert_allclose((s[6][:, 0] / 4) ** 2 + (s[6][:, 1] / 2) ** 2, 1, atol=1e-9)
    assert not sk.is_point_cloud


def test_errors_name_the_element_and_skip_mode(tmp_path):
    path = tmp_path / "d.svg"
    path.write_text(_svg('<path d="M 0 0 L 1 1"/><path id="bad" d="M 0 0 L 1"/><line x2="5" y2="5"/>'))
    with pytest.raises(DataFormatError) as exc:
        list(read(path))
    assert str(exc.value) == (f"{path}: <path> element 2 (id=bad): expected a number at character 9, "
                              "found 'end of data'")
    reader = read(path, on_error="skip")
    with pytest.warns(UserWarning, match="skipped 1 malformed record"):
        (sk,) = list(reader)
    assert sk.num_strokes == 2 and sk.label == "d"
    path.write_text("<svg><path d='M 0 0'></svg>")
    with pytest.raises(DataFormatError, match=r"line 1, column \d+: not well-formed XML"):
        list(read(path))
    path.write_text("<html></html>")
    with pytest.raises(DataFormatError, match=r"root element is <html>, expected <svg>"):
        list(read(path))


def test_render_roundtrip_real_sketch(shared_data):
    from sketchkit.render import to_svg

    for sk in read(shared_data / "quickdraw" / "raw" / "cat.ndjson", limit=5):
        back = svg_to_sketch(to_svg(sk))
        assert back.num_strokes == sk.num_strokes
        for a, b in zip(sk.strokes, back.strokes):
            assert a.shape == b.shape
            # the renderer writes coordinates rounded to its output precision (< 0.01 here)
            np.testing.assert_allclose(a, b, atol=0.01)


def test_render_roundtrip_point_cloud():
    from sketchkit.render import to_svg

    pts = np.array([[1.0, 2.0], [5.0, 7.5], [9.0, 3.25]])
    back = svg_to_sketch(to_svg(Sketch.from_point_cloud(pts)))
    assert back.is_point_cloud
    np.testing.assert_allclose(back.points(), pts, atol=0.01)


_pt = st.tuples(st.integers(-500, 500), st.integers(-500, 500))


@settings(max_examples=100, deadline=None)
@given(points=st.lists(_pt, min_size=2, max_size=12), relative=st.lists(st.booleans(), min_size=12, max_size=12),
       sep=st.sampled_from([" ", ",", "  ", "\n", ", "]))
def test_polyline_path_property(points, relative, sep):
    """Any mix of absolute / relative L commands with any separators decodes to the same points."""
    pts = np.array(points, dtype=float)
    parts = [f"M{sep}{points[0][0]}{sep}{points[0][1]}"]
    for i in range(1, len(points)):
        if relative[i]:
            d = pts[i] - pts[i - 1]
            parts.append(f"l{sep}{d[0]:g}{sep}{d[1]:g}")
        else:
            parts.append(f"L{points[i][0]}{sep}{points[i][1]}")
    (s,) = parse_path(sep.join(parts))
    np.testing.assert_array_equal(s, pts)


def test_render_roundtrip_bezier_curves():
    """Curves the renderer writes as exact Q/C (degree 2, 3) or cubic pieces (degree 5, within its
    tolerance) import back within the import tolerance plus the renderer's rounding."""
    from sketchkit.render import to_svg
    from sketchkit.sketch import BezierSketch

    curves = [np.array([[0.0, 0.0], [50.0, 80.0], [100.0, 0.0]]),
              np.array([[0.0, 100.0], [20.0, 40.0], [80.0, 160.0], [100.0, 100.0]]),
              np.array([[0.0, 200.0], [30.0, 150.0], [45.0, 260.0], [60.0, 140.0], [80.0, 250.0], [100.0, 200.0]])]
    bz = BezierSketch(curves)
    size = 256
    text = to_svg(bz, size=size, tolerance=0.1, margin=0.05)
    back = svg_to_sketch(text, tolerance=0.05)
    assert back.num_strokes == 3
    # source units per output pixel: the content (~260 units tall) fills ~90% of 256 px
    px = 260.0 / (0.9 * size)
    for cp, poly in zip(curves, back.strokes):
        truth = evaluate(cp, np.linspace(0, 1, 2000))
        err = _dist_to_polyline(truth, poly).max()
        bound = 0.05 + (0.1 * px if cp.shape[0] > 4 else 0.0) + 0.01
        assert err <= bound, (cp.shape[0] - 1, err, bound)


def test_rounded_rect_closed_form():
    # rx only: ry takes its value; each radius clamps to half the side (ry 30 -> 10 here)
    sk = svg_to_sketch(_svg('<rect x="10" y="20" width="40" height="20" rx="5" fill="none" stroke="black"/>'
                            '<rect width="40" height="20" rx="4" ry="30"/>'), tolerance=0.001)
    a, b = sk.strokes
    np.testing.assert_allclose(a[0], [15, 20])
    np.testing.assert_allclose(a[-1], a[0])
    assert (a[:, 0].min(), a[:, 0].max(), a[:, 1].min(), a[:, 1].max()) == pytest.approx((10, 50, 20, 40))
    corner = a[(a[:, 0] > 45) & (a[:, 1] < 25)]  # top-right corner: quarter circle about (45, 25)
    assert len(corner) > 5
    np.testing.assert_allclose(np.linalg.norm(corner - [45, 25], axis=1), 5, atol=1e-9)
    right = b[b[:, 0] > 36]  # ellipse quarter arcs of radii (4, 10): no straight vertical side
    np.testing.assert_allclose(((right[:, 0] - 36) / 4) ** 2 + ((right[:, 1] - 10) / 10) ** 2, 1, atol=1e-9)
    # no radius (or zero): the square-cornered rectangle, unchanged
    (sq,) = svg_to_sketch(_svg('<rect x="1" y="2" width="3" height="4" rx="0"/>')).strokes
    np.testing.assert_array_equal(sq, [[1, 2], [4, 2], [4, 6], [1, 6], [1, 2]])


def test_root_style_is_inherited_and_widths_recorded():
    """Lucide-style root attributes: fill="none" stroke=... on <svg> make circles outlines, not dots."""
    text = ('<svg xmlns="http://www.w3.org/2000/svg" width="48" height="48" viewBox="0 0 24 24" fill="none" '
            'stroke="currentColor" stroke-width="2"><circle cx="12" cy="12" r="10"/>'
            '<g transform="scale(2)" style="stroke-width:0.5"><line x1="0" y1="0" x2="1" y2="0"/></g>'
            '<circle cx="3" cy="3" r="1" fill="red" stroke="none"/>'
            '<path d="M 0 0 L 5 5" stroke="none"/></svg>')  # neither stroked nor filled: nothing
    sk = svg_to_sketch(text)
    assert sk.num_strokes == 3
    np.testing.assert_allclose(np.linalg.norm(sk.strokes[0] - 12, axis=1), 10, atol=1e-9)
    np.testing.assert_array_equal(sk.strokes[2], [[3, 3]])  # a filled, unstroked circle: a dot
    assert sk.meta["stroke_widths"] == [2.0, 1.0, 2.0]  # 0.5 x scale 2; the dot: its diameter
    assert sk.meta["view_box"] == [0, 0, 24, 24]
    assert svg_to_sketch('<svg width="30" height="20"><line x2="1"/></svg>').meta["view_box"] == [0, 0, 30, 20]
    assert "view_box" not in svg_to_sketch('<svg><line x2="1"/></svg>').meta
    assert "view_box" not in svg_to_sketch('<svg width="100%" height="100%"><line x2="1"/></svg>').meta
