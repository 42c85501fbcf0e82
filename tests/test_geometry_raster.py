"""Ink masks (polarity, alpha, dtypes, Otsu) and point clouds from rasters."""

from __future__ import annotations

import numpy as np
import pytest

from sketchkit.geometry import raster
from conftest import shared_path


def _digit_like() -> np.ndarray:
    """28x28 uint8, light ink (a filled bar and a soft edge) on black, like MNIST."""
    img = np.zeros((28, 28), dtype=np.uint8)
    img[10:15, 5:20] = 250  # 75 full-ink pixels
    img[15, 5:20] = 60  # 15 faint pixels (anti-aliased edge)
    return img


def test_light_on_dark_and_dark_on_light_give_the_same_mask():
    img = _digit_like()
    mask = raster.ink_mask(img)
    assert mask.dtype == np.bool_ and mask.shape == (28, 28)
    expected = np.zeros((28, 28), bool)
    expected[10:15, 5:20] = True
    np.testing.assert_array_equal(mask, expected)  # Otsu puts the faint edge on the background side
    np.testing.assert_array_equal(raster.ink_mask(255 - img), expected)
    # Explicit polarity overrides auto; the wrong polarity selects the background.
    np.testing.assert_array_equal(raster.ink_mask(img, invert=False), expected)
    assert raster.ink_mask(img, invert=True).sum() == 28 * 28 - 75


def test_explicit_threshold_and_intensity():
    img = _digit_like()
    ink = raster.ink_intensity(img)
    assert ink.max() == pytest.approx(250 / 255) and ink.min() == 0.0
    assert raster.ink_mask(img, threshold=0.1).sum() == 90  # 60/255 = 0.235 > 0.1
    assert raster.ink_mask(img, threshold=0.99).sum() == 0
    with pytest.raises(ValueError, match="threshold"):
        raster.ink_mask(img, threshold=1.5)


def test_dtypes_and_channel_layouts_agree():
    img = _digit_like()
    expected = raster.ink_mask(img)
    grey_f = img.astype(np.float64) / 255.0
    variants = {
        "float01": grey_f,
        "float255": img.astype(np.float32),
        "uint16": img.astype(np.uint16) * 257,
        "bool": img > 128,
        "hw1": img[:, :, None],
        "rgb": np.repeat(img[:, :, None], 3, axis=2),
        "rgba_opaque": np.dstack([np.repeat(img[:, :, None], 3, axis=2), np.full((28, 28), 255, np.uint8)]),
        "la_opaque": np.dstack([img, np.full((28, 28), 255, np.uint8)]),
    }
    for name, v in variants.items():
        np.testing.assert_array_equal(raster.ink_mask(v), expected, err_msg=name)


def test_alpha_only_ink_on_transparent_background():
    # Black strokes on a fully transparent background (colour channels all 0).
    rgba = np.zeros((28, 28, 4), dtype=np.uint8)
    rgba[3:6, 4:24, 3] = 255
    expected = np.zeros((28, 28), bool)
    expected[3:6, 4:24] = True
    np.testing.assert_array_equal(raster.ink_mask(rgba), expected)
    # White strokes on transparent (colour white everywhere) are ink too.
    rgba[:, :, :3] = 255
    np.testing.assert_array_equal(raster.ink_mask(rgba), expected)
    # Strokes covering most of a transparent canvas are still the ink.
    big = np.zeros((10, 10, 4), dtype=np.uint8)
    big[:8, :, 3] = 255
    assert raster.ink_mask(big).sum() == 80
    # Explicit polarity: ink = alpha * polarity ink of the colour (black strokes, dark ink).
    np.testing.assert_array_equal(raster.ink_intensity(big, invert=True)[:8], 1.0)
    assert raster.ink_intensity(big, invert=False).max() == 0.0
    # Fully transparent image: no ink.
    assert not raster.ink_mask(np.zeros((5, 5, 4), np.uint8)).any()


def test_invert_argument_is_validated():
    with pytest.raises(ValueError, match="invert"):
        raster.ink_mask(_digit_like(), invert="yes")
    np.testing.assert_array_equal(raster.ink_mask(_digit_like(), invert=np.False_), raster.ink_mask(_digit_like()))


def test_constant_image_has_no_ink():
    assert not raster.ink_mask(np.full((8, 8), 255, np.uint8)).any()
    assert not raster.ink_mask(np.zeros((8, 8))).any()


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.zeros((4, 4, 5)), "shape"),
        (np.zeros(7), "shape"),
        (np.full((3, 3), -1.0), ">= 0"),
        (np.full((3, 3), np.nan), "finite"),
        (np.full((3, 3), 300, dtype=np.int32), "0..255"),
        (np.zeros((3, 3), dtype=complex), "dtype"),
    ],
)
def test_bad_images_raise(bad, match):
    with pytest.raises(ValueError, match=match):
        raster.ink_mask(bad)


def test_point_cloud_lies_on_ink_and_is_seeded():
    img = _digit_like()
    pts = raster.point_cloud_from_raster(img, 500, generator=np.random.default_rng(0))
    assert pts.shape == (500, 2)
    cols, rows = np.floor(pts[:, 0]).astype(int), np.floor(pts[:, 1]).astype(int)
    assert raster.ink_mask(img)[rows, cols].all()
    again = raster.point_cloud_from_raster(img, 500, generator=np.random.default_rng(0))
    np.testing.assert_array_equal(pts, again)
    other = raster.point_cloud_from_raster(img, 500, generator=np.random.default_rng(1))
    assert not np.array_equal(pts, other)
    centres = raster.point_cloud_from_raster(img, 50, generator=np.random.default_rng(0), jitter=False)
    np.testing.assert_array_equal(centres % 1.0, 0.5)
    assert raster.point_cloud_from_raster(img, 0, generator=np.random.default_rng(0)).shape == (0, 2)


def test_point_cloud_weighting_follows_intensity():
    # Two ink pixels with intensities 1.0 and 0.5 (threshold 0.1 keeps both): weighted sampling
    # picks them 2:1. With 30000 draws the binomial std of the fraction is 0.0027; allow 0.015.
    img = np.zeros((4, 4))
    img[1, 1], img[2, 3] = 1.0, 0.5
    pts = raster.point_cloud_from_raster(img, 30_000, generator=np.random.default_rng(3), threshold=0.1, invert=False)
    frac_strong = np.mean(np.floor(pts[:, 0]) == 1)
    assert frac_strong == pytest.approx(2 / 3, abs=0.015)
    pts = raster.point_cloud_from_raster(
        img, 30_000, generator=np.random.default_rng(3), threshold=0.1, invert=False, weighted=False
    )
    assert np.mean(np.floor(pts[:, 0]) == 1) == pytest.approx(0.5, abs=0.015)


def test_point_cloud_errors():
    with pytest.raises(ValueError, match="no ink"):
        raster.point_cloud_from_raster(np.zeros((5, 5)), 3, generator=np.random.default_rng(0))
    with pytest.raises(ValueError, match="generator"):
        raster.point_cloud_from_raster(_digit_like(), 3, generator=0)
    with pytest.raises(ValueError, match="n must"):
        raster.point_cloud_from_raster(_digit_like(), -1, generator=np.random.default_rng(0))


def test_kmnist_real_rasters():
    path = shared_path("kmnist", "kmnist-test-imgs.npz")
    with np.load(path) as data:
        images = data["arr_0"][:200]
    assert images.shape == (200, 28, 28) and images.dtype == np.uint8
    fractions = []
    for img in images:
        auto = raster.ink_mask(img)
        # K-MNIST is light ink on black: auto polarity must agree with the explicit one.
        np.testing.assert_array_equal(auto, raster.ink_mask(img, invert=False))
        # Otsu separates: every ink pixel is brighter than every background pixel.
        assert img[auto].min() > img[~auto].max()
        fractions.append(auto.mean())
        pts = raster.point_cloud_from_raster(img, 64, generator=np.random.default_rng(0))
        assert auto[np.floor(pts[:, 1]).astype(int), np.floor(pts[:, 0]).astype(int)].all()
    # Ink is a minority of each image but never absent.
    assert 0.02 < min(fractions) and max(fractions) < 0.6


def _thick_bar(width: int) -> np.ndarray:
    """28x28 uint8: a horizontal bar of ``width`` rows of full light ink, rows centred on y = 14."""
    img = np.zeros((28, 28), dtype=np.uint8)
    top = 14 - width // 2
    img[top:top + width, 4:24] = 255
    return img


@pytest.mark.parametrize("width", [1, 3, 5])
def test_centreline_of_a_bar_is_its_middle_line_whatever_its_width(width):
    img = _thick_bar(width)
    pts = raster.centreline_pixels(img, upsample=4)
    top = 14 - width // 2
    middle = top + width / 2.0  # the bar covers y in [top, top + width)
    assert pts.shape[1] == 2
    # one thin line: every point within half a pixel of the middle, spanning the bar less about
    # half its width at each end (thinning eats round ends)
    assert np.abs(pts[:, 1] - middle).max() <= 0.5
    assert pts[:, 0].min() < 4 + width / 2 + 1 and pts[:, 0].max() > 24 - width / 2 - 1
    # spacing follows the fine grid, not the stroke width: 4 points per source pixel of length
    assert 4 * (20 - width) - 4 <= pts.shape[0] <= 4 * 20 + 8


def test_centreline_cloud_is_seeded_and_on_the_centreline():
    img = _thick_bar(5)
    a = raster.centreline_cloud_from_raster(img, 200, generator=np.random.default_rng(3))
    b = raster.centreline_cloud_from_raster(img, 200, generator=np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)
    assert a.shape == (200, 2) and np.abs(a[:, 1] - 14.5).max() <= 0.5 + 0.125
    with pytest.raises(ValueError, match="no ink"):
        raster.centreline_cloud_from_raster(np.zeros((8, 8)), 5, generator=np.random.default_rng(0))
    with pytest.raises(ValueError, match="upsample"):
        raster.centreline_pixels(img, upsample=0)


def test_kmnist_reader_gives_centreline_clouds_on_request():
    import sketchkit.data

    path = shared_path("kmnist", "kmnist-test-imgs.npz")
    ink = next(iter(sketchkit.data.read(path, limit=1)))
    thin = next(iter(sketchkit.data.read(path, limit=1, cloud="centreline")))
    assert thin.label == ink.label and thin.meta["index"] == 0 and thin.points().shape == (256, 2)

    def spread(pts: np.ndarray) -> float:  # mean distance to the nearest other point
        d = np.linalg.norm(pts[:, None] - pts[None], axis=-1)
        np.fill_diagonal(d, np.inf)
        return float(d.min(1).mean())

    # the centreline cloud is thinner: its points sit closer together along fewer pixels
    assert spread(thin.points()) < spread(ink.points())
    from sketchkit.errors import InputError

    with pytest.raises(InputError, match="kmnist-test-imgs.npz: cloud"):
        next(iter(sketchkit.data.read(path, limit=1, cloud="outline")))
