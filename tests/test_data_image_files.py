"""One raster image file read as a point-cloud sketch (the ``image`` format)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from sketchkit.cli.app import main
from sketchkit.data import read, read_all
from sketchkit.errors import DataFormatError


def _line_png(path, *, dark_ink: bool = True) -> None:
    """A 120 x 80 picture of one 6 px line from (20, 40) to (100, 40)."""
    im = Image.new("L", (120, 80), 255 if dark_ink else 0)
    ImageDraw.Draw(im).line([(20, 40), (100, 40)], fill=0 if dark_ink else 255, width=6)
    im.save(path)


@pytest.mark.parametrize("cloud", ["ink", "centreline"])
def test_an_image_file_is_one_unlabelled_cloud_on_its_ink_in_either_polarity(tmp_path, cloud):
    clouds = []
    for dark in (True, False):
        path = tmp_path / f"line_{dark}.png"
        _line_png(path, dark_ink=dark)
        (sk,) = list(read(path, cloud=cloud, n_points=200))
        assert sk.label is None and sk.num_points == 200 and sk.meta["image_shape"] == [80, 120]
        pts = sk.points()
        assert np.all(np.abs(pts[:, 1] - 40) < 4) and pts[:, 0].min() < 25 and pts[:, 0].max() > 95, pts
        clouds.append(pts)
    if cloud == "centreline":  # the skeleton of the stroke: the same line either way
        assert np.abs(clouds[0][:, 1].mean() - clouds[1][:, 1].mean()) < 1.0


def test_bad_image_files_fail_in_one_line_and_folders_skip_pictures(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)  # a PNG signature, then garbage
    with pytest.raises(DataFormatError, match="bad.png: ") as err:
        list(read(bad))
    assert "\n" not in str(err.value)
    blank = tmp_path / "sub" / "blank.png"
    blank.parent.mkdir()
    Image.new("L", (32, 32), 255).save(blank)
    (empty,) = list(read(blank))
    assert empty.num_points == 0  # no ink: an empty sketch, not an error
    _line_png(tmp_path / "sub" / "line.png")
    assert read_all([tmp_path / "sub"]) == []  # a picture beside data is not read as a sketch ...
    assert len(read_all([tmp_path / "sub"], format="image")) == 2  # ... unless asked for


def test_reconstruct_a_drawing_from_a_png_with_the_cloud_model(tmp_path):
    png = tmp_path / "line.png"
    _line_png(png)
    # without -n, reconstruct takes up to 8 drawings: here the one the file holds
    assert main(["reconstruct", "cloud2curve", str(png), "--cloud", "centreline", "-o", str(tmp_path / "out")]) == 0
    assert len(list((tmp_path / "out").glob("*.svg"))) == 2  # the cloud and its curves
    # an explicit count the file cannot give is a one-line error
    assert main(["reconstruct", "cloud2curve", str(png), "-n", "2", "-o", str(tmp_path / "x.svg")]) == 2
