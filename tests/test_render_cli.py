"""``sketchkit render``: single sketches and grids to SVG/PNG, animation, and one-line errors."""

from __future__ import annotations

import io
import json
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from PIL import Image

from conftest import shared_path

data = pytest.importorskip("sketchkit.data")
if not hasattr(data, "read"):  # pragma: no cover - while the data engineer's read() is missing
    pytest.skip("sketchkit.data.read is not available yet", allow_module_level=True)

from sketchkit.cli.app import main  # noqa: E402

SVG = "{http://www.w3.org/2000/svg}"

DRAWINGS = [
    [[[0, 50, 100], [0, 40, 0]]],
    [[[10, 10], [0, 90]], [[0, 60, 120], [50, 50, 55]], [[30], [30]]],
    [[[5, 200], [5, 5]], [[5, 200], [100, 100]]],
]


@pytest.fixture
def small_ndjson(tmp_path):
    path = tmp_path / "small.ndjson"
    lines = [
        json.dumps({"word": "thing", "countrycode": "XX", "timestamp": "t", "recognized": True, "key_id": str(i), "drawing": d})
        for i, d in enumerate(DRAWINGS)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_single_sketch_to_svg(small_ndjson, tmp_path, capsys):
    out = tmp_path / "one.svg"
    code, stdout, _ = run(capsys, "render", small_ndjson, "--index", 1, "-o", out, "--size", 128, "--stroke-width", 3)
    assert code == 0 and "wrote" in stdout
    root = ET.fromstring(out.read_bytes())
    assert root.get("width") == "128px"
    paths = list(root.iter(f"{SVG}path"))
    dots = list(root.iter(f"{SVG}circle"))
    assert len(paths) == 2 and len(dots) == 1  # sketch 1: two lines and a single-point tap
    nums = [float(v) for v in re.findall(r"-?[\d.]+", paths[1].get("d"))]
    np.testing.assert_allclose(np.array(nums).reshape(-1, 2), [[0, 50], [60, 50], [120, 55]], atol=1e-6)
    assert (float(dots[0].get("cx")), float(dots[0].get("cy"))) == (30.0, 30.0)


def test_grid_png_with_colours(small_ndjson, tmp_path, capsys):
    out = tmp_path / "grid.png"
    code, _, _ = run(capsys, "render", small_ndjson, "--count", 3, "--columns", 2, "--size", 50, "--colors", "-o", out)
    assert code == 0
    img = Image.open(out)
    assert img.size == (100, 100)
    rgb = np.asarray(img.convert("RGB")).astype(int)
    assert rgb[0, 0].tolist() == [255, 255, 255]  # white background
    assert (np.ptp(rgb, axis=2) > 60).any()  # some coloured (non-grey) ink
    assert rgb[75, 75].tolist() == [255, 255, 255]  # the fourth cell is empty


def test_index_with_count_starts_the_grid(small_ndjson, tmp_path, capsys):
    out = tmp_path / "two.svg"
    code, _, err = run(capsys, "render", small_ndjson, "--index", 1, "--count", 5, "-o", out)
    assert code == 0 and "only 3" in err
    root = ET.fromstring(out.read_bytes())
    assert sum(1 for g in root.iter(f"{SVG}g") if g.get("class") == "cell") == 2


def test_animated_svg(small_ndjson, tmp_path, capsys):
    out = tmp_path / "anim.svg"
    assert run(capsys, "render", small_ndjson, "--index", 2, "--animate", "-o", out)[0] == 0
    root = ET.fromstring(out.read_bytes())
    anims = list(root.iter(f"{SVG}animate"))
    assert len(anims) == 2 and all(a.get("attributeName") == "stroke-dashoffset" for a in anims)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--index", 3], "has 3 sketch(es); --index 3 is out of range"),
        (["--count", 0], "--count"),
        (["--index", -1], "--index"),
        (["--size", 0], "--size"),
        (["--stroke-width", 0], "--stroke-width"),
        (["--animate", "-o", "{tmp}/a.png"], "--animate needs an .svg"),
        (["-o", "{tmp}/a.jpg"], "must end in .svg or .png"),
    ],
)
def test_bad_options_exit_2_with_one_line(small_ndjson, tmp_path, capsys, args, message):
    args = [a.replace("{tmp}", str(tmp_path)) if isinstance(a, str) else a for a in args]
    if "-o" not in args:
        args += ["-o", tmp_path / "x.svg"]
    code, _, err = run(capsys, "render", small_ndjson, *args)
    assert code == 2
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
    assert not (tmp_path / "x.svg").exists()


def test_bad_input_files_exit_2(tmp_path, capsys):
    code, _, err = run(capsys, "render", tmp_path / "missing.ndjson", "-o", tmp_path / "x.svg")
    assert code == 2 and "missing.ndjson" in err and err.count("\n") == 1
    bad = tmp_path / "bad.ndjson"
    bad.write_text('{"word": "cat", "drawing": [[[0, 1], [0, 1]]]}\n{"word": oops\n')
    code, _, err = run(capsys, "render", bad, "--count", 2, "-o", tmp_path / "x.svg")
    assert code == 2 and err.startswith("error: ") and "bad.ndjson" in err and err.count("\n") == 1


def test_real_quickdraw_grid(tmp_path, capsys):
    src = shared_path("quickdraw", "simplified", "cat.ndjson")
    out = tmp_path / "cats.svg"
    assert run(capsys, "render", src, "--count", 25, "--size", 64, "-o", out)[0] == 0
    root = ET.fromstring(out.read_bytes())
    assert root.get("width") == "320px" and root.get("height") == "320px"
    strokes = sum(len(json.loads(line)["drawing"]) for line in src.read_text().splitlines())
    assert len(list(root.iter(f"{SVG}path"))) + len(list(root.iter(f"{SVG}circle"))) == strokes
    png = tmp_path / "cat.png"
    assert run(capsys, "render", src, "--index", 4, "-o", png)[0] == 0
    img = np.asarray(Image.open(io.BytesIO(png.read_bytes())).convert("L"))
    assert img.shape == (256, 256) and img.min() < 50 and img[0, 0] == 255


def test_real_sketchrnn_split_and_point_cloud(tmp_path, capsys):
    sheep = shared_path("sketchrnn", "aaron_sheep.npz")
    out = tmp_path / "sheep.svg"
    assert run(capsys, "render", sheep, "--split", "valid", "--count", 4, "-o", out)[0] == 0
    root = ET.fromstring(out.read_bytes())
    assert sum(1 for g in root.iter(f"{SVG}g") if g.get("class") == "cell") == 4
    kmnist = shared_path("kmnist", "kmnist-test-imgs.npz")
    out = tmp_path / "k.svg"
    assert run(capsys, "render", kmnist, "--index", 0, "-o", out)[0] == 0
    root = ET.fromstring(out.read_bytes())
    assert len(list(root.iter(f"{SVG}circle"))) > 20 and not list(root.iter(f"{SVG}path"))  # a point cloud
    code, _, err = run(capsys, "render", sheep, "--loop", "-o", out)
    assert code == 2 and "--loop needs --animate" in err
