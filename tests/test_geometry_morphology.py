"""sketchkit.geometry.morphology: the numpy stand-ins for the scipy.ndimage / scikit-image calls of
the vectoriser reproduce those calls exactly (on closed forms and on real line art), the own
thinning gives one-pixel-wide, topology-keeping skeletons close to scikit-image's, and a
single-image vectorisation no longer imports either library."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from sketchkit.geometry.morphology import (distance_to_background, label_components, neighbour_count,
                                           otsu_threshold, sample_bilinear, skeletonize)
from sketchkit.geometry.raster import ink_intensity
from tests.conftest import shared_path

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((REPO / "sketchkit" / "examples").glob("*.png"))


def _quickdraw(width: int, categories=("cat", "bicycle", "house"), per: int = 2) -> list[np.ndarray]:
    out = []
    for cat in categories:
        for line in shared_path("quickdraw", "simplified", f"{cat}.ndjson").read_text().splitlines()[:per]:
            im = Image.new("L", (256, 256), 255)
            d = ImageDraw.Draw(im)
            for s in json.loads(line)["drawing"]:
                d.line(list(zip(s[0], s[1])), fill=0, width=width)
            out.append(np.asarray(im))
    return out


def _kmnist(n: int, size: int = 256) -> list[np.ndarray]:
    imgs = np.load(shared_path("kmnist", "kmnist-test-imgs.npz"))["arr_0"][:n]
    return [255 - np.asarray(Image.fromarray(a).resize((size, size), Image.BICUBIC)) for a in imgs]


@pytest.fixture(scope="module")
def real_images() -> list[np.ndarray]:
    """Quick, Draw! renders (1, 3 and 8 px pens), the shipped examples and upscaled K-MNIST."""
    imgs = [np.asarray(Image.open(p).convert("L")) for p in EXAMPLES]
    for width in (1, 3, 8):
        imgs += _quickdraw(width)
    imgs += _kmnist(8)
    return imgs


@pytest.fixture(scope="module")
def real_masks(real_images) -> list[np.ndarray]:
    from skimage.filters import threshold_otsu

    masks = []
    for a in real_images:
        ink = ink_intensity(a)
        masks.append(ink > threshold_otsu(ink))
    return masks


# ---------------------------------------------------------------------------------------- Otsu
def test_otsu_splits_two_levels_between_them():
    values = np.r_[np.full(300, 0.1), np.full(100, 0.9)]
    t = otsu_threshold(values)
    assert 0.1 < t < 0.9
    assert otsu_threshold(np.full((4, 4), 0.25)) == 0.25


def test_otsu_equals_skimage_on_real_images(real_images):
    from skimage.filters import threshold_otsu

    for a in real_images:
        ink = ink_intensity(a)
        assert otsu_threshold(ink) == float(threshold_otsu(ink))


# -------------------------------------------------------------------------------- labelling
def test_labels_join_diagonal_neighbours_and_number_in_raster_order():
    m = np.zeros((6, 7), bool)
    m[0, 5] = True  # first in raster order
    m[2, 1] = m[3, 2] = m[4, 1] = True  # one component through diagonals only
    m[5, 6] = True
    labels, n = label_components(m)
    assert n == 3
    assert labels[0, 5] == 1 and labels[2, 1] == labels[3, 2] == labels[4, 1] == 2 and labels[5, 6] == 3
    assert (labels[~m] == 0).all()
    empty, n0 = label_components(np.zeros((3, 3), bool))
    assert n0 == 0 and not empty.any()


def test_labels_merge_a_long_spiral_into_one_component():
    # a spiral needs many hooking rounds if the union-find were naive; its first pixel is (0, 0)
    m = np.zeros((41, 41), bool)
    top, left, bottom, right = 0, 0, 40, 40
    while top <= bottom and left <= right:
        m[top, left:right + 1] = m[top:bottom + 1, right] = True
        m[bottom, left:right + 1] = True
        if top + 2 <= bottom:
            m[top + 2:bottom + 1, left] = True
        top, left, bottom, right = top + 2, left + 2, bottom - 2, right - 2
    labels, n = label_components(m)
    from scipy.ndimage import label

    ref, n_ref = label(m, structure=np.ones((3, 3)))
    assert n == n_ref and np.array_equal(labels, ref)


def test_labels_equal_scipy_on_real_masks(real_masks):
    from scipy.ndimage import label

    for m in real_masks + [np.random.default_rng(0).random((120, 90)) < 0.45]:
        labels, n = label_components(m)
        ref, n_ref = label(m, structure=np.ones((3, 3)))
        assert n == n_ref
        assert np.array_equal(labels, ref)


# --------------------------------------------------------------------------- distance transform
def test_distance_closed_forms():
    m = np.zeros((9, 11), bool)
    m[2:7, 1:10] = True  # a 5-px-wide bar: centre row is 3 px from the background
    d = distance_to_background(m)
    assert d[4, 5] == 3.0 and d[2, 5] == 1.0 and d[0, 0] == 0.0
    assert d[3, 2] == pytest.approx(2.0)  # 2 up/left: min(2 rows, 2 cols)
    full = distance_to_background(np.ones((5, 5), bool))  # the outside is background
    assert full[2, 2] == 3.0 and full[0, 0] == 1.0
    one = np.zeros((3, 3), bool)
    one[1, 1] = True
    assert distance_to_background(one)[1, 1] == 1.0
    # a pixel whose nearest background is diagonal: sqrt(2**2 + 3**2)
    hole = np.ones((20, 20), bool)
    hole[5, 5] = False
    assert distance_to_background(hole)[8, 7] == pytest.approx(np.sqrt(13.0), abs=1e-12)


def test_distance_equals_scipy_on_real_masks(real_masks):
    from scipy.ndimage import distance_transform_edt

    yy, xx = np.mgrid[:180, :240]
    filled = [(yy - 90) ** 2 + (xx - 100) ** 2 < 70 ** 2, np.ones((50, 80), bool),  # deep rows: the envelope
              np.random.default_rng(4).random((150, 150)) < 0.97]
    for m in real_masks + _binary(_kmnist(1, 512)) + filled:
        ref = distance_transform_edt(np.pad(m, 1))[1:-1, 1:-1]
        assert np.abs(distance_to_background(m) - ref).max() <= 1e-9


def _binary(images: list[np.ndarray]) -> list[np.ndarray]:
    return [ink_intensity(a) > 0.5 for a in images]


# ------------------------------------------------------------------------------ skeletonisation
def _skeleton_stats(skel: np.ndarray) -> tuple[int, int, int]:
    """(pixels, ends, junctions): an end has at most 1 neighbour (a dot is a stroke too), a junction
    is an 8-connected cluster of pixels with 3 or more."""
    from scipy.ndimage import convolve, label

    s8 = skel.astype(np.uint8)
    nb = convolve(s8, np.ones((3, 3), np.uint8), mode="constant") - s8
    return int(skel.sum()), int((skel & (nb <= 1)).sum()), label(skel & (nb >= 3), structure=np.ones((3, 3)))[1]


def _check_thin_and_topology(mask: np.ndarray, skel: np.ndarray, crossings: bool = False) -> None:
    """Inside the mask, no 2 x 2 block, no bare staircase corner, same components and holes.

    With ``crossings``, a 2 x 2 block is allowed where none of its pixels is simple (removing
    any would cut a branch off or open a hole), as where four diagonal branches meet.
    """
    from scipy.ndimage import label

    assert not (skel & ~mask).any()
    s = skel.astype(np.uint8)
    eight = np.ones((3, 3))
    for r, c in np.argwhere(s[:-1, :-1] & s[1:, :-1] & s[:-1, 1:] & s[1:, 1:]):
        assert crossings, f"a 2 x 2 block of skeleton pixels at {r, c}"
        for pr, pc in ((r, c), (r, c + 1), (r + 1, c), (r + 1, c + 1)):
            ring = np.pad(s, 1)[pr:pr + 3, pc:pc + 3].copy()
            ring[1, 1] = 0
            background = ring == 0
            background[1, 1] = False
            back, _ = label(background)  # 4-connected
            touching = {back[i, j] for i, j in ((0, 1), (1, 0), (1, 2), (2, 1))} - {0}
            simple = label(ring, structure=eight)[1] == 1 and len(touching) == 1
            assert not simple, f"a removable pixel in a 2 x 2 block at {pr - 1, pc - 1}"
    # a pixel whose only neighbours are two perpendicular 4-neighbours: they touch diagonally
    # without it, so a one-pixel-wide (8-thin) skeleton has none
    p = np.pad(s, 1)
    h, w = s.shape
    nb = {(dr, dc): p[1 + dr:1 + dr + h, 1 + dc:1 + dc + w] for dr in (-1, 0, 1) for dc in (-1, 0, 1)}
    count = sum(v for k, v in nb.items() if k != (0, 0))
    for a, b in (((-1, 0), (0, 1)), ((0, 1), (1, 0)), ((1, 0), (0, -1)), ((0, -1), (-1, 0))):
        assert not (skel & (nb[a] == 1) & (nb[b] == 1) & (count == 2)).any(), "a staircase corner"
    assert label(skel, structure=eight)[1] == label(mask, structure=eight)[1]
    assert label(~np.pad(skel, 1))[1] == label(~np.pad(mask, 1))[1]  # holes (4-connected background)


def test_skeleton_of_a_bar_is_its_centre_line_and_small_cases():
    m = np.zeros((9, 30), bool)
    m[3:6, 2:28] = True
    s = skeletonize(m)
    rows, cols = np.nonzero(s)
    # the centre row, one pixel wide (an end may bend by one row)
    assert set(rows.tolist()) <= {3, 4, 5} and (rows == 4).sum() >= 22 and len(set(cols.tolist())) == len(cols)
    assert label_components(s)[1] == 1
    assert not skeletonize(np.zeros((4, 4), bool)).any()
    dot = np.zeros((3, 3), bool)
    dot[1, 1] = True
    assert np.array_equal(skeletonize(dot), dot)
    with pytest.raises(ValueError, match="expected shape"):
        skeletonize(np.zeros((2, 2, 2), bool))


def test_skeleton_keeps_what_plain_zhang_suen_erases():
    # Zhang-Suen removes all four pixels of an isolated 2 x 2 square and all of a 2-pixel-thick
    # diagonal; both must leave a piece of skeleton
    square = np.zeros((6, 6), bool)
    square[2:4, 2:4] = True
    assert skeletonize(square).sum() == 1
    diag = np.zeros((20, 20), bool)
    for i in range(2, 17):
        diag[i, i] = diag[i, i + 1] = True
    s = skeletonize(diag)
    _check_thin_and_topology(diag, s)
    assert s.sum() >= 12  # most of the diagonal's length survives


def test_skeleton_of_a_staircase_is_eight_thin():
    # a 4-connected shallow staircase (right, right, down, ...): at each step one of the two
    # corner pixels goes (then its neighbours touch diagonally), the rest is the skeleton
    m = np.zeros((12, 24), bool)
    r, c = 2, 1
    m[r, c] = True
    for move in "RRD" * 6 + "RR":
        r, c = (r + 1, c) if move == "D" else (r, c + 1)
        m[r, c] = True
    s = skeletonize(m)
    _check_thin_and_topology(m, s)
    assert s.sum() == m.sum() - 6
    assert (neighbour_count(s)[s] == 1).sum() == 2  # still a simple path, ends kept


def test_removal_rules_follow_zhang_suen_and_the_corner_rule():
    from sketchkit.geometry.morphology import _CORNER, _REMOVE

    def code(*names):
        order = ("NW", "N", "NE", "E", "SE", "S", "SW", "W")
        return sum(1 << order.index(n) for n in names)

    first, second = _REMOVE
    # the first sub-iteration peels south and east boundaries, the second north and west ones
    south_edge = code("W", "NW", "N", "NE", "E")  # P6 = 0; P2*P4*P8 = 1
    north_edge = code("W", "SW", "S", "SE", "E")  # P2 = 0; P4*P6*P8 = 1
    east_edge = code("N", "NW", "W", "SW", "S")  # P4 = 0; P2*P6*P8 = 1
    west_edge = code("N", "NE", "E", "SE", "S")  # P8 = 0; P2*P4*P6 = 1
    assert first[south_edge] and first[east_edge] and not first[north_edge] and not first[west_edge]
    assert second[north_edge] and second[west_edge] and not second[south_edge] and not second[east_edge]
    for keep in (code("W"), code("W", "E"), code("N", "S"), code("N", "NE"), code("NW", "SE"),  # ends, lines
                 code("N", "E", "S", "W"), 255, 0):  # a crossing, an interior pixel, a dot
        assert not first[keep] and not second[keep]
    assert first[code("N", "NE", "E")] and first[code("W", "SW", "S")]  # B = 3 corners go
    assert _CORNER[code("N", "E")] and _CORNER[code("S", "W", "SW")] and _CORNER[code("N", "E", "NE")]
    assert not _CORNER[code("N", "NE")] and not _CORNER[code("W", "E")] and not _CORNER[code("N", "E", "SW")]
    assert _CORNER[code("N", "E", "S")]  # N, E and S still touch without it
    assert not _CORNER[code("N", "E", "S", "W")]  # the centre of a + : no background 4-neighbour


def test_skeleton_is_thin_and_keeps_topology_on_synthetic_shapes():
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[:64, :64]
    shapes = [np.ones((7, 7), bool), np.ones((2, 2), bool), np.ones((1, 12), bool),
              (yy - 32) ** 2 + (xx - 30) ** 2 < 25 ** 2,  # a disc touching nothing
              (yy - 32) ** 2 + (xx - 32) ** 2 < 40 ** 2,  # cut by the image border
              np.abs(yy - xx) <= 2,  # a thick diagonal
              (np.abs(yy - xx) <= 1) | (np.abs(yy + xx - 63) <= 1),  # a diagonal crossing
              ((yy - 32) ** 2 + (xx - 32) ** 2 < 20 ** 2) & ((yy - 32) ** 2 + (xx - 32) ** 2 >= 14 ** 2)]  # ring
    for m in shapes:
        _check_thin_and_topology(m, skeletonize(m))
    for p in (0.3, 0.5, 0.6, 0.7):  # noise: holes, specks, 2 x 2 squares, crossings
        m = rng.random((80, 60)) < p
        _check_thin_and_topology(m, skeletonize(m), crossings=True)


def test_skeleton_is_thin_and_close_to_skimage_on_real_line_art(line_art_masks):
    # scikit-image's skeletonize is the reference the vectoriser was tuned on; this one need not
    # match it pixel for pixel, but should have about as many pixels, ends and junctions
    from skimage.morphology import skeletonize as ref

    for name, masks in line_art_masks.items():
        ours = np.array([_skeleton_stats(skeletonize(m)) for m in masks])
        theirs = np.array([_skeleton_stats(ref(m)) for m in masks])
        for m in masks:
            _check_thin_and_topology(m, skeletonize(m))
        pixels, ends, junctions = ours.sum(axis=0) / theirs.sum(axis=0)
        assert 0.97 <= pixels <= 1.03, (name, pixels)
        assert 0.9 <= ends <= 1.1, (name, ends)  # scikit-image keeps 2 px of a dot, here 1
        assert 0.9 <= junctions <= 1.1, (name, junctions)
        assert np.abs(ours[:, 1] - theirs[:, 1]).max() <= 3, (name, ours[:, 1] - theirs[:, 1])
        assert np.abs(ours[:, 2] - theirs[:, 2]).max() <= 2, (name, ours[:, 2] - theirs[:, 2])


@pytest.fixture(scope="module")
def line_art_masks() -> dict[str, list[np.ndarray]]:
    """Ink masks (Otsu) of Quick, Draw! renders made as scripts/bench_vectorize.py makes them
    (cairosvg, 3 px round pen, 256 px; held-out lines 20, 21), of K-MNIST upscaled to 256 px and
    of the shipped examples."""
    import cairosvg

    def mask(grey: np.ndarray) -> np.ndarray:
        ink = ink_intensity(grey)
        return ink > otsu_threshold(ink)

    quickdraw = []
    for cat in ("apple", "bicycle", "bird", "cat", "face", "house", "pig", "sheep"):
        lines = shared_path("quickdraw", "simplified", f"{cat}.ndjson").read_text().splitlines()
        for i in (20, 21):
            paths = "".join('<path d="M ' + " L ".join(f"{x} {y}" for x, y in zip(s[0], s[1])) + '"/>'
                            for s in json.loads(lines[i])["drawing"])
            svg = ('<svg xmlns="http://www.w3.org/2000/svg" width="256" height="256" viewBox="0 0 256 256">'
                   '<rect width="256" height="256" fill="white"/><g fill="none" stroke="black" stroke-width="3" '
                   f'stroke-linecap="round" stroke-linejoin="round">{paths}</g></svg>')
            png = cairosvg.svg2png(bytestring=svg.encode(), output_width=256, output_height=256)
            quickdraw.append(mask(np.asarray(Image.open(io.BytesIO(png)).convert("L"))))
    imgs = np.load(shared_path("kmnist", "kmnist-test-imgs.npz"))["arr_0"][4000:4016]
    kmnist = [mask(255 - np.asarray(Image.fromarray(a).resize((256, 256), Image.BICUBIC))) for a in imgs]
    examples = [mask(np.asarray(Image.open(p).convert("L"))) for p in EXAMPLES]
    return {"quickdraw": quickdraw, "kmnist": kmnist, "examples": examples}


# ------------------------------------------------------------------------------ small helpers
def test_neighbour_count_equals_a_3x3_box_sum(real_masks):
    from scipy.ndimage import convolve

    m = skeletonize(real_masks[0])
    m8 = m.astype(np.uint8)
    assert np.array_equal(neighbour_count(m), convolve(m8, np.ones((3, 3), np.uint8), mode="constant") - m8)
    assert neighbour_count(np.ones((3, 3), bool))[1, 1] == 8 and neighbour_count(np.ones((3, 3), bool))[0, 0] == 3


def test_bilinear_sampling_closed_form_and_scipy():
    from scipy.ndimage import map_coordinates

    rr, cc = np.mgrid[:6, :8].astype(float)
    ramp = 2.0 * rr + 3.0 * cc + 1.0  # bilinear reproduces a plane exactly inside the image
    r = np.array([0.0, 2.25, 5.0, 4.5, -0.1, 5.01])
    c = np.array([0.0, 6.5, 7.0, 0.75, 3.0, 3.0])
    got = sample_bilinear(ramp, r, c)
    assert np.allclose(got[:4], 2.0 * r[:4] + 3.0 * c[:4] + 1.0, atol=1e-12)
    assert (got[4:] == 0.0).all()  # outside: cval, not blended with the edge
    rng = np.random.default_rng(2)
    img = rng.random((40, 30))
    r = rng.uniform(-2, 41, (50, 20))
    c = rng.uniform(-2, 31, (50, 20))
    r[:5], c[5:10] = np.round(r[:5]), np.round(c[5:10])
    ref = map_coordinates(img, [r.ravel(), c.ravel()], order=1, mode="constant", cval=0.0).reshape(r.shape)
    assert np.abs(sample_bilinear(img, r, c) - ref).max() <= 1e-12


def test_median_equals_numpy():
    from sketchkit.geometry.morphology import median

    rng = np.random.default_rng(3)
    for n in (1, 2, 3, 10, 11, 1000):
        v = rng.integers(0, 5, n).astype(float)  # ties included
        assert median(v) == float(np.median(v))
    assert median(np.array([[1.0, 4.0], [2.0, 3.0]])) == 2.5
    with pytest.raises(ValueError, match="non-empty"):
        median(np.array([]))


# ------------------------------------------------------------------------------ start-up cost
PROBE = """
import sys
from sketchkit.cli.app import main
code = main(["vectorize", {png!r}, "-o", {out!r}])
heavy = sorted(m for m in ("scipy.ndimage", "skimage", "torch", "numpy.ma") if m in sys.modules)
print("HEAVY=" + ",".join(heavy))
sys.exit(code)
"""


def test_single_image_vectorize_imports_neither_scipy_ndimage_nor_skimage(tmp_path):
    # scipy.ndimage + scikit-image were ~0.5 s of a ~1 s cold run; numpy.ma (via np.median) ~15 ms
    out = tmp_path / "cat.svg"
    probe = PROBE.format(png=str(REPO / "sketchkit" / "examples" / "cat.png"), out=str(out))
    res = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO)
    assert res.returncode == 0, res.stderr
    heavy = [line for line in res.stdout.splitlines() if line.startswith("HEAVY=")]
    assert heavy == ["HEAVY="], f"a single-image vectorize imported {heavy}"
    assert out.read_text().lstrip().startswith("<")
