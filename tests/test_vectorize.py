"""sketchkit.vectorize and the ``sketchkit vectorize`` command on synthetic rasters of known strokes."""

from __future__ import annotations

import io
import json
import warnings

import numpy as np
import pytest
from PIL import Image, ImageDraw

from sketchkit.cli.app import main
from sketchkit.errors import DataFormatError, InputError
from sketchkit.geometry.bezier import evaluate
from sketchkit.sketch import BezierSketch
from sketchkit.vectorize import BlankImageWarning, to_json, to_ndjson, to_npz_bytes, to_svg, vectorize

SIZE = 128
# three pen strokes: two lines crossing in an X, and a separate arc (upper half circle)
LINE_A = np.array([[20.0, 20.0], [108.0, 84.0]])
LINE_B = np.array([[20.0, 84.0], [108.0, 20.0]])
_T = np.linspace(np.pi, 2 * np.pi, 200)
ARC = np.stack([64 + 30 * np.cos(_T), 118 + 12 * np.sin(_T)], axis=1)  # centre (64, 118), radii 30 x 12


def _draw(width: int = 3, scale: int = 4) -> np.ndarray:
    """Anti-aliased grey image (dark ink on white) of the three strokes, drawn at 4x and reduced."""
    big = Image.new("L", (SIZE * scale, SIZE * scale), 255)
    d = ImageDraw.Draw(big)
    for stroke in (LINE_A, LINE_B, ARC):
        pts = [tuple(p * scale) for p in stroke]
        d.line(pts, fill=0, width=width * scale, joint="curve")
        for p in (pts[0], pts[-1]):  # round caps
            r = width * scale / 2
            d.ellipse([p[0] - r, p[1] - r, p[0] + r, p[1] + r], fill=0)
    return np.asarray(big.reduce(scale))


def _dense(curves: list[np.ndarray]) -> np.ndarray:
    t = np.linspace(0, 1, 400)
    return np.concatenate([evaluate(c, t) for c in curves])


def _dense_true(polys: list[np.ndarray]) -> np.ndarray:
    out = []
    for p in polys:
        for a, b in zip(p[:-1], p[1:]):
            t = np.linspace(0, 1, max(2, int(np.linalg.norm(b - a) * 4)))[:, None]
            out.append(a + t * (b - a))
    return np.concatenate(out)


def _directed(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.spatial import cKDTree

    return float(cKDTree(b).query(a)[0].mean())


def _strokes(sk: BezierSketch) -> list[list[np.ndarray]]:
    groups: dict[int, list[np.ndarray]] = {}
    for i, c in zip(sk.meta["curve_stroke"], sk.curves):
        groups.setdefault(i, []).append(c)
    return [groups[k] for k in sorted(groups)]


@pytest.fixture(scope="module")
def drawing() -> np.ndarray:
    return _draw()


@pytest.fixture(scope="module")
def result(drawing) -> BezierSketch:
    return vectorize(drawing)


def test_recovers_the_strokes_within_half_a_pixel(result):
    strokes = _strokes(result)
    assert len(strokes) == 3, [len(s) for s in strokes]
    truth = [LINE_A, LINE_B, ARC]
    for true in truth:
        # each true stroke is matched by one output stroke within 0.5 px mean distance both ways
        best = min(
            max(_directed(_dense(s), _dense_true([true])), _directed(_dense_true([true]), _dense(s)))
            for s in strokes
        )
        assert best < 0.5, best
    assert result.meta["image_size"] == [SIZE, SIZE]
    assert abs(result.meta["stroke_width"] - 3.0) <= 1.0
    # compact: the X lines are straight (one curve each, or a few), the arc a few cubics at most
    assert result.num_control_points <= 30, result.degrees


def test_svg_is_byte_identical_for_the_same_input(drawing, tmp_path):
    a = to_svg(vectorize(drawing))
    b = to_svg(vectorize(drawing.copy()))
    assert a == b
    assert a.count("<path") == 3 and 'viewBox="0 0 128 128"' in a
    # through the CLI, twice
    Image.fromarray(drawing).save(tmp_path / "x.png")
    assert main(["vectorize", str(tmp_path / "x.png"), "-o", str(tmp_path / "a.svg")]) == 0
    assert main(["vectorize", str(tmp_path / "x.png"), "-o", str(tmp_path / "b.svg")]) == 0
    assert (tmp_path / "a.svg").read_bytes() == (tmp_path / "b.svg").read_bytes()


def _same_curves(a: BezierSketch, b: BezierSketch, atol: float) -> None:
    assert a.meta["curve_stroke"] == b.meta["curve_stroke"]
    assert a.degrees == b.degrees
    for x, y in zip(a.curves, b.curves):
        np.testing.assert_allclose(x, y, atol=atol)


def test_inverted_colours_and_rgba_give_the_same_strokes(drawing, result):
    _same_curves(vectorize(255 - drawing), result, atol=1e-9)  # light ink on dark: exact mirror
    rgba = np.zeros((SIZE, SIZE, 4), dtype=np.uint8)  # black ink on a transparent background
    rgba[..., 3] = 255 - drawing
    _same_curves(vectorize(rgba), result, atol=1e-9)
    rgb = np.repeat(drawing[..., None], 3, axis=2)
    _same_curves(vectorize(rgb), result, atol=1e-9)


def test_large_image_is_downscaled_and_mapped_back(drawing):
    big = np.asarray(Image.fromarray(drawing).resize((SIZE * 4, SIZE * 4), Image.BICUBIC))
    out = vectorize(big, work_pixels=SIZE * SIZE)  # forces a 4x box reduction
    assert out.meta["image_size"] == [SIZE * 4, SIZE * 4]
    strokes = _strokes(out)
    assert len(strokes) == 3
    truth = _dense_true([LINE_A * 4, LINE_B * 4, ARC * 4])
    # within 4 px (one working pixel = 4 input pixels) both ways
    assert _directed(_dense(out.curves), truth) < 4.0 and _directed(truth, _dense(out.curves)) < 4.0


def test_model_free_and_unrefined_runs_also_recover_the_strokes(drawing):
    ls = vectorize(drawing, model=False)
    assert len(_strokes(ls)) == 3
    raw = vectorize(drawing, refine=0, model="cloud2curve")  # the model's curves as predicted, or the chord-length LS
    assert len(_strokes(raw)) == 3
    truth = _dense_true([LINE_A, LINE_B, ARC])
    assert _directed(truth, _dense(raw.curves)) < 1.5


def test_least_squares_is_the_default_and_the_stroke_model_is_opt_in(drawing):
    from sketchkit.vectorize.stroke_model import NumpyStrokeModel, _resolve_model

    assert _resolve_model(None) is None and _resolve_model(False) is None
    assert isinstance(_resolve_model("cloud2curve"), NumpyStrokeModel)
    with pytest.raises(InputError, match="no-such-model: no cloud2curve model directory"):
        _resolve_model("no-such-model")
    assert vectorize(drawing).meta["curves_started_from_model"] == 0
    assert vectorize(drawing, model="cloud2curve").num_curves > 0


def test_blank_image_gives_empty_svg_and_a_warning(tmp_path, capsys):
    with pytest.warns(BlankImageWarning, match="no ink"):
        out = vectorize(np.full((40, 50), 255, dtype=np.uint8))
    assert out.num_curves == 0
    svg = to_svg(out)
    assert "<path" not in svg and 'viewBox="0 0 50 40"' in svg
    Image.new("L", (50, 40), 255).save(tmp_path / "blank.png")
    assert main(["vectorize", str(tmp_path / "blank.png"), "-o", str(tmp_path / "blank.svg")]) == 0
    assert "warning:" in capsys.readouterr().err
    assert "<path" not in (tmp_path / "blank.svg").read_text()


def _png_claiming(width: int, height: int) -> bytes:
    """A valid 1x1 PNG whose header says ``width x height`` (a decompression-bomb shape)."""
    import struct
    import zlib

    buf = io.BytesIO()
    Image.new("L", (1, 1), 255).save(buf, format="PNG")
    data = bytearray(buf.getvalue())
    ihdr = data.index(b"IHDR")
    data[ihdr + 4 : ihdr + 12] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[ihdr : ihdr + 17])) & 0xFFFFFFFF
    data[ihdr + 17 : ihdr + 21] = struct.pack(">I", crc)
    return bytes(data)


def test_bad_files_give_one_line_errors_and_exit_2(tmp_path, capsys, drawing):
    (tmp_path / "text.png").write_text("this is not an image\n")
    buf = io.BytesIO()
    Image.fromarray(drawing).save(buf, format="PNG")
    (tmp_path / "trunc.png").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    Image.new("L", (300, 300), 255).save(tmp_path / "huge.png")
    (tmp_path / "bomb.png").write_bytes(_png_claiming(50_000, 50_000))  # 2.5 G pixels, never decoded
    cases = [
        (["vectorize", str(tmp_path / "bomb.png")], "over the limit of 64000000"),
        (["vectorize", str(tmp_path / "text.png")], "not a readable image"),
        (["vectorize", str(tmp_path / "trunc.png")], "cannot decode image"),
        (["vectorize", str(tmp_path / "huge.png"), "--max-pixels", "10000"], "over the limit"),
        (["vectorize", str(tmp_path / "missing.png")], "no such file"),
        (["vectorize", str(tmp_path / "text.png"), "--format", "pdf"], "--format"),
    ]
    for argv, message in cases:
        capsys.readouterr()
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and message in err and "\n" not in err, err
    with pytest.raises(DataFormatError):
        vectorize(tmp_path / "text.png")
    with pytest.raises(InputError):
        vectorize(drawing, max_degree=9)


def test_folder_mode_continues_past_a_bad_file(tmp_path, capsys, drawing):
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(drawing).save(src / "a.png")
    (src / "b.png").write_text("broken")
    Image.fromarray(255 - drawing).save(src / "c.png")
    (src / "notes.txt").write_text("ignored")
    assert main(["vectorize", str(src), "-o", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "b.png" in err and "2/3" in err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.svg", "c.svg"]
    assert (tmp_path / "out" / "a.svg").read_text() == (tmp_path / "out" / "c.svg").read_text()


def test_json_npz_ndjson_outputs_load_back(tmp_path, drawing, result):
    Image.fromarray(drawing).save(tmp_path / "x.png")
    for fmt in ("json", "npz", "ndjson"):
        assert main(["vectorize", str(tmp_path / "x.png"), "-o", str(tmp_path / f"x.{fmt}")]) == 0
    doc = json.loads((tmp_path / "x.json").read_text())
    assert doc["image_size"] == [SIZE, SIZE] and len(doc["strokes"]) == 3
    flat = [np.array(c) for s in doc["strokes"] for c in s]
    for a, b in zip(flat, result.curves):
        np.testing.assert_allclose(a, b, atol=1e-4)
    z = np.load(tmp_path / "x.npz")
    assert z["degrees"].tolist() == result.degrees
    assert z["control_points"].shape == (result.num_control_points, 2)
    s3 = z["stroke3"]
    assert s3.shape[1] == 3 and s3[:, 2].sum() == 3  # one pen lift per stroke
    np.testing.assert_allclose(np.cumsum(s3[:, :2], axis=0)[0], result.curves[0][0], atol=1e-9)
    line = json.loads((tmp_path / "x.ndjson").read_text())
    assert len(line["drawing"]) == 3 and all(len(s) == 2 for s in line["drawing"])
    # the writers agree with the in-memory helpers
    assert (tmp_path / "x.json").read_text() == to_json(result)
    assert (tmp_path / "x.npz").read_bytes() == to_npz_bytes(result)
    assert json.loads(to_ndjson(result))["drawing"] == line["drawing"] or line["word"] == "x"


def test_options_are_validated_and_max_strokes_keeps_the_longest(drawing):
    out = vectorize(drawing, max_strokes=2)
    assert len(_strokes(out)) == 2  # the arc (~70 px) is shorter than each diagonal (~109 px)
    ys = np.concatenate(out.curves)[:, 1]
    assert ys.max() < 100
    for bad in (dict(refine=-1), dict(max_strokes=0), dict(threshold=1.5), dict(stroke_width="wide"),
                dict(tolerance=0.0)):
        with pytest.raises(InputError):
            vectorize(drawing, **bad)
    fixed = vectorize(drawing, stroke_width=3)
    assert fixed.meta["stroke_width"] == 3.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        vectorize(drawing, max_degree=1)  # polylines only: still fine, no warning


def test_centring_ignores_a_neighbouring_stroke_beyond_the_line_edge():
    from sketchkit.vectorize.pieces import _centre

    rows = np.arange(40)

    def bar(y0: float, y1: float) -> np.ndarray:  # box-filtered horizontal line, rows y0..y1
        return np.clip(np.minimum(rows + 1, y1) - np.maximum(rows, y0), 0, 1)[:, None] * np.ones((1, 60))

    ink = np.clip(bar(10.0, 13.0) + bar(14.5, 17.5), 0, 1)  # two 3 px lines 1.5 px apart
    pts = np.stack([np.arange(10, 50) + 0.5, np.full(40, 11.5)], axis=1)
    shift = _centre(pts, ink, 3.0)[:, 1] - 11.5
    # the window reaches half a width plus a pixel: the other line's ink pulled a +-width window 0.26 px
    assert np.abs(shift).max() < 0.1


def test_thin_line_ends_reach_the_true_end_points():
    import cairosvg

    errors = []
    for w in (2.0, 3.0, 4.0):
        for x0, y0, x1, y1 in ((40, 50.3, 200, 70.6), (60, 200, 190, 120.4)):
            svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="256" height="256">'
                   f'<rect width="256" height="256" fill="white"/><path d="M {x0} {y0} L {x1} {y1}" '
                   f'stroke="black" stroke-width="{w}" stroke-linecap="round" fill="none"/></svg>')
            img = np.asarray(Image.open(io.BytesIO(cairosvg.svg2png(bytestring=svg.encode()))).convert("L"))
            sk = vectorize(img, model=False)
            ends = np.array([sk.curves[0][0], sk.curves[-1][-1]])
            true = np.array([[x0, y0], [x1, y1]])
            errors.append(min(np.linalg.norm(ends - true, axis=1).max(), np.linalg.norm(ends[::-1] - true, axis=1).max()))
    # extending the skeleton's ends by half a width overshot them: 1.83 px on average here
    assert np.mean(errors) < 1.5, errors
