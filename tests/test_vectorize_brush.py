"""Brush strokes: thick, variable-width lines keep their parts; per-stroke widths reach the SVG."""

from __future__ import annotations

import io
import re

import numpy as np
from PIL import Image, ImageDraw

from sketchkit.geometry.skeleton import ink_radius, path_width, skeleton_paths, trace_paths
from sketchkit.vectorize import to_json, to_npz_bytes, to_svg, vectorize
from tests.conftest import shared_path


def _image(draw_fn, size: int = 200) -> np.ndarray:
    im = Image.new("L", (size, size), 255)
    draw_fn(ImageDraw.Draw(im))
    return np.asarray(im)


def test_thin_and_thick_lines_get_their_own_widths_in_meta_and_svg():
    img = _image(lambda d: (d.line([(20, 50), (180, 50)], fill=0, width=3),
                            d.line([(20, 140), (180, 140)], fill=0, width=9)))
    sk = vectorize(img, model=False)
    widths = sk.meta["stroke_widths"]
    assert len(widths) == sk.meta["num_strokes"] == 2
    # strokes are ordered by their first point (y): the thin line first
    assert abs(widths[0] - 3.0) <= 0.75 and abs(widths[1] - 9.0) <= 2.25
    svg = to_svg(sk)
    own = [float(w) for w in re.findall(r'<path d="[^"]*" stroke-width="([\d.]+)"', svg)]
    group = float(re.search(r'<g [^>]*stroke-width="([\d.]+)"', svg).group(1))
    per_path = [group if not m.group(1) else float(m.group(1))
                for m in re.finditer(r'<path d="[^"]*"(?: stroke-width="([\d.]+)")?/>', svg)]
    assert own and np.allclose(sorted(per_path), sorted(widths), atol=0.01)
    assert 'stroke-width="' not in to_svg(sk, stroke_width=2).split("<path", 1)[1]  # one width overrides
    assert [round(w, 3) for w in __import__("json").loads(to_json(sk))["stroke_widths"]] == widths
    assert np.allclose(np.load(io.BytesIO(to_npz_bytes(sk)))["stroke_widths"], widths)


def test_path_width_reads_the_distance_transform_along_the_path():
    mask = np.zeros((60, 100), bool)
    mask[20:31, 10:90] = True  # 11 px thick bar
    rad = ink_radius(mask)
    assert rad[25, 50] == 6.0 and rad[0, 0] == 0.0
    path = np.stack([np.arange(15, 85) + 0.5, np.full(70, 25.5)], axis=1)
    assert abs(path_width(path, rad, 3.0) - 11.0) <= 0.5
    thin = np.zeros((20, 50), bool)
    thin[9:11, 5:45] = True
    assert path_width(np.array([[20.5, 9.5], [30.5, 9.5]]), ink_radius(thin), 2.2) == 2.2  # coarse: fallback


def test_a_short_thick_branch_is_kept_with_local_rules_and_pruned_without():
    # a 21 px thick bar with a stub 16 px beyond its edge: a brush stroke part, not an outline bump
    im = Image.new("L", (200, 120), 0)
    d = ImageDraw.Draw(im)
    d.rectangle([20, 40, 180, 60], fill=255)
    d.rectangle([90, 61, 110, 76], fill=255)
    mask = np.asarray(im) > 127
    paths, width = skeleton_paths(mask)
    from skimage.morphology import skeletonize

    skel = skeletonize(mask)
    old = trace_paths(skel, width=width)
    new = trace_paths(skel, width=width, radius=ink_radius(mask))
    reach = lambda ps: max(float(p[:, 1].max()) for p in ps)  # noqa: E731
    assert reach(old) < 62 and reach(new) >= 66  # the stub's centreline survives only with radii
    # a bump on the outline (3 px) is still pruned
    d.rectangle([140, 61, 146, 63], fill=255)
    mask = np.asarray(im) > 127
    skel = skeletonize(mask)
    new = trace_paths(skel, width=width, radius=ink_radius(mask))
    assert not any(float(p[:, 0].min()) > 135 and float(p[:, 1].max()) > 55 for p in new if len(p) < 30)


def _f_score(a: np.ndarray, b: np.ndarray, tol: float = 2.0) -> float:
    from scipy.spatial import cKDTree

    p = float(np.mean(cKDTree(a).query(b)[0] <= tol))
    r = float(np.mean(cKDTree(b).query(a)[0] <= tol))
    return 2 * p * r / (p + r) if p + r else 0.0


def test_kmnist_brush_characters_keep_their_parts():
    import cairosvg
    from skimage.morphology import skeletonize

    imgs = np.load(shared_path("kmnist", "kmnist-test-imgs.npz"))["arr_0"]
    scores = []
    for i in range(4000, 4008):  # after the 1000 used in training
        big = np.asarray(Image.fromarray(imgs[i]).resize((256, 256), Image.BICUBIC))
        sk = vectorize(big, model=False)
        png = cairosvg.svg2png(bytestring=to_svg(sk).encode(), output_width=256, output_height=256,
                               background_color="white")
        out = np.asarray(Image.open(io.BytesIO(png)).convert("L")) < 128
        xy = [np.argwhere(skeletonize(m))[:, ::-1] + 0.5 for m in (big > 127, out)]
        scores.append(_f_score(*xy))
    assert np.mean(scores) >= 0.88, scores  # the width-based rules gave ~0.80 (parts dropped)


def test_blurred_strokes_are_cut_at_half_contrast_and_keep_their_drawn_width():
    from PIL import ImageFilter

    from sketchkit.geometry.morphology import otsu_threshold
    from sketchkit.geometry.raster import ink_intensity
    from sketchkit.vectorize.pipeline import _ink_threshold

    im = Image.new("L", (200, 120), 255)
    d = ImageDraw.Draw(im)
    d.line([(20, 30), (180, 30)], fill=0, width=12)  # a 12 px bar and a 14 px ring, blurred (sigma 4)
    d.ellipse([75, 55, 125, 105], outline=0, width=14)
    img = np.asarray(im.filter(ImageFilter.GaussianBlur(4)))
    ink = ink_intensity(img)
    otsu = otsu_threshold(ink)
    # Otsu's split sinks with the blurred edge pixels; half the contrast (paper 0, full ink ~0.9) does not
    assert otsu < 0.36 and 0.42 < _ink_threshold(ink, otsu) < 0.5
    sk = vectorize(img, model=False)
    assert sk.meta["num_strokes"] == 2
    bar, ring = sk.meta["stroke_widths"]
    assert abs(bar - 12.0) <= 1.25 and abs(ring - 14.0) <= 1.25, (bar, ring)  # Otsu's mask: 15 and 16.2 px
