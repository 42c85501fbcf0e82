"""sketchkit.geometry.skeleton: skeleton graph -> stroke paths (junction pairing, spurs, loops)."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from sketchkit.geometry.skeleton import estimate_stroke_width, skeleton_paths


def _mask(draw_fn, size: int = 100) -> np.ndarray:
    im = Image.new("L", (size, size), 0)
    draw_fn(ImageDraw.Draw(im))
    return np.asarray(im) > 127


def _length(p: np.ndarray) -> float:
    return float(np.linalg.norm(np.diff(p, axis=0), axis=1).sum())


def test_t_junction_keeps_the_bar_whole_and_the_stem_separate():
    mask = _mask(lambda d: (d.line([(10, 20), (90, 20)], fill=255, width=3),
                            d.line([(50, 20), (50, 85)], fill=255, width=3)))
    paths, width = skeleton_paths(mask)
    assert len(paths) == 2
    bar = min(paths, key=lambda p: np.ptp(p[:, 1]))
    stem = max(paths, key=lambda p: np.ptp(p[:, 1]))
    assert np.ptp(bar[:, 0]) > 75 and np.ptp(bar[:, 1]) <= 2  # one straight path across
    assert abs(np.median(stem[:, 0]) - 50.5) <= 1.0 and _length(stem) > 55
    assert 2.0 <= width <= 4.0


def test_short_spurs_are_pruned_and_long_branches_kept():
    mask = _mask(lambda d: (d.line([(10, 50), (90, 50)], fill=255, width=3),
                            d.line([(40, 50), (40, 47)], fill=255, width=3),  # nub: a spur
                            d.line([(70, 50), (70, 80)], fill=255, width=3)))  # a real branch
    paths, _ = skeleton_paths(mask)
    assert len(paths) == 2  # the line and the branch; the nub is gone
    assert sorted(round(np.ptp(p[:, 1])) for p in paths)[1] >= 25


def test_a_circle_is_one_closed_path_and_an_x_two_crossing_paths():
    mask = _mask(lambda d: d.ellipse([20, 20, 80, 80], outline=255, width=3))
    paths, _ = skeleton_paths(mask)
    assert len(paths) == 1
    p = paths[0]
    np.testing.assert_array_equal(p[0], p[-1])  # closed
    r = np.linalg.norm(p - [50.0, 50.0], axis=1)
    assert abs(r.mean() - 29.0) < 1.5 and r.std() < 1.0
    mask = _mask(lambda d: (d.line([(10, 10), (90, 90)], fill=255, width=3),
                            d.line([(10, 90), (90, 10)], fill=255, width=3)))
    paths, _ = skeleton_paths(mask)
    assert len(paths) == 2
    for p in paths:  # each path runs corner to corner
        assert _length(p) > 100 and np.ptp(p[:, 0]) > 75 and np.ptp(p[:, 1]) > 75


def test_paths_are_ordered_deterministically_and_width_estimates():
    mask = _mask(lambda d: (d.line([(60, 70), (90, 70)], fill=255, width=3),
                            d.line([(80, 10), (20, 10)], fill=255, width=3)))
    paths, _ = skeleton_paths(mask)
    assert len(paths) == 2
    assert paths[0][0, 1] < paths[1][0, 1]  # sorted by first point's y
    for p in paths:  # each starts at its (y, x)-first end
        assert (p[0, 1], p[0, 0]) <= (p[-1, 1], p[-1, 0])
    thick = _mask(lambda d: d.line([(10, 50), (90, 50)], fill=255, width=15))
    assert abs(estimate_stroke_width(thick) - 15) <= 2
    assert estimate_stroke_width(np.zeros((5, 5), bool)) == 1.0


def _round_line(d, pts, width: int) -> None:
    d.line(pts, fill=255, width=width, joint="curve")
    for x, y in (pts[0], pts[-1]):  # round caps, as SVG renders of pen strokes have
        d.ellipse([x - width / 2, y - width / 2, x + width / 2, y + width / 2], fill=255)


def test_strokes_overshooting_at_corners_stay_separate_and_one_stroke_corners_stay_whole():
    # a box drawn as three strokes, as a KanjiVG 口: the left side, the top and right side in one
    # stroke, then the bottom, which both sides overshoot by 4 px. The overshoots skeletonise as
    # short spurs that prolong the sides; keeping them keeps the bottom corners' junctions, so
    # the bottom stays a stroke of its own instead of all joining into one closed loop. (The top
    # left corner, where two strokes start at one point, is an L without a junction: one path.)
    def box(d):
        _round_line(d, [(20, 20), (20, 84)], 4)
        _round_line(d, [(20, 20), (80, 20), (80, 84)], 4)
        _round_line(d, [(20, 80), (80, 80)], 4)

    paths, _ = skeleton_paths(_mask(box))
    assert len(paths) == 2
    assert not any(np.array_equal(p[0], p[-1]) for p in paths)  # no closed loop
    bottom = min(paths, key=lambda p: np.ptp(p[:, 1]))
    assert np.ptp(bottom[:, 0]) > 50 and np.ptp(bottom[:, 1]) <= 2
    sides = max(paths, key=lambda p: np.ptp(p[:, 1]))
    assert np.ptp(sides[:, 1]) > 60 and sides[:, 1].max() > 82  # down to the overshoots' ends
    # one stroke turning a sharp (40 degree) or a right-angle corner is still one path: the
    # thinning spur on a corner's bisector prolongs both legs alike and is dropped
    for pts in ([(15, 85), (50, 15), (85, 85)], [(20, 20), (20, 80), (80, 80)]):
        paths, _ = skeleton_paths(_mask(lambda d: _round_line(d, pts, 4)))
        assert len(paths) == 1


def test_vectorised_links_match_a_per_pixel_reference():
    from sketchkit.geometry.skeleton import _OFFSETS, _links

    rng = np.random.default_rng(2)
    skel = rng.random((40, 50)) < 0.35
    coords, nbr = _links(skel)
    pix = set(zip(*np.nonzero(skel)))
    assert [tuple(c) for c in coords.tolist()] == sorted(pix)
    index = {p: i for i, p in enumerate(sorted(pix))}
    for (r, c), row in zip(coords.tolist(), nbr.tolist()):
        want = []
        for dr, dc in _OFFSETS:
            q = (r + dr, c + dc)
            linked = q in pix and not (dr and dc and ((r + dr, c) in pix or (r, c + dc) in pix))
            want.append(index[q] if linked else -1)
        assert row == want
