"""Inputs that would inflate, overflow or recurse: one-line errors naming the record, skippable, bounded.

One test per class of defect (issue 9, parts 3 and 4): size limits read from headers before any
data (npz / K-MNIST / idx), over-long ndjson lines, deep nesting, huge integers, overflowing sums,
non-finite SVG numbers and transforms, deep SVG groups, too many flattened points, outputs that
cannot hold the values, render size bounds, file modes, empty conversions.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import stat
import tracemalloc
import warnings
import zipfile

import numpy as np
import pytest

from sketchkit.cli.app import main
from sketchkit.data import SkippedRecordsWarning, read
from sketchkit.data.limits import limit
from sketchkit.errors import DataFormatError, InputError
from sketchkit.sketch import Sketch

GOOD = json.dumps({"word": "cat", "drawing": [[[0, 10, 20], [0, 5, 0]]]})


def _one_line(exc: pytest.ExceptionInfo) -> str:
    msg = str(exc.value)
    assert "\n" not in msg
    return msg


def _skip_all(path, **opts):
    reader = read(path, on_error="skip", **opts)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SkippedRecordsWarning)
        got = list(reader)
    return got, [loc for loc, _ in reader.skipped]


def _npy_header(shape, dtype) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": np.dtype(dtype).str, "fortran_order": False, "shape": shape})
    return buf.getvalue()


def _npz_claiming(path, key, shape, dtype, data: bytes = bytes(64)):
    """An npz whose member's header declares ``shape`` but holds only ``data``: tiny on disk."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(key + ".npy", _npy_header(shape, dtype) + data)
    return path


def _obj_npz(path, arrays, key="train"):
    obj = np.empty(len(arrays), dtype=object)
    for i, a in enumerate(arrays):
        obj[i] = a
    np.savez(path, **{key: obj})
    return path


# ------------------------------------------------------------------------------ size limits
@pytest.mark.parametrize("name, key, shape, dtype, fmt", [
    ("cat.npz", "train", (10**9, 3), "<i2", "sketchrnn-npz"),
    ("kmnist-test-imgs.npz", "arr_0", (10**8, 28, 28), "|u1", "kmnist-npz"),
    ("huge.npz", "sequences", (10**8, 100, 4), "<f4", "vectormnist-npz"),
])
def test_npz_header_declaring_a_huge_array_is_refused_unread(tmp_path, name, key, shape, dtype, fmt):
    path = _npz_claiming(tmp_path / name, key, shape, dtype)
    tracemalloc.start()
    try:
        with pytest.raises(DataFormatError) as exc:
            list(read(path, format=fmt))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    msg = _one_line(exc)
    assert msg.startswith(f"{path}: key '{key}': header declares") and "over the limit of 256 MiB" in msg
    assert "max_array_bytes" in msg and "SKETCHKIT_MAX_ARRAY_BYTES" in msg
    assert peak < 8 << 20  # nothing close to the declared size was allocated


def test_kmnist_compressed_zeros_over_the_limit_and_raising_it(tmp_path, monkeypatch):
    # Real data this time (a compression bomb in miniature): 2 MB of zeros in a few KB.
    path = tmp_path / "kmnist-bomb-imgs.npz"
    np.savez_compressed(path, arr_0=np.zeros((2551, 28, 28), np.uint8))
    assert path.stat().st_size < 20_000
    with pytest.raises(DataFormatError, match="header declares a uint8 array of shape \\(2551, 28, 28\\)"):
        list(read(path, max_array_bytes=1 << 20))
    assert len(list(read(path, max_array_bytes=4 << 20, limit=3))) == 3  # the option raises the limit
    monkeypatch.setenv("SKETCHKIT_MAX_ARRAY_BYTES", "1M")
    with pytest.raises(DataFormatError, match="over the limit of 1.0 MiB"):
        list(read(path))
    monkeypatch.setenv("SKETCHKIT_MAX_ARRAY_BYTES", "4M")
    assert len(list(read(path, limit=2))) == 2
    monkeypatch.setenv("SKETCHKIT_MAX_ARRAY_BYTES", "lots")
    with pytest.raises(InputError, match="SKETCHKIT_MAX_ARRAY_BYTES: expected a positive integer"):
        list(read(path))


def test_npz_header_larger_than_member_is_truncation_not_allocation(tmp_path):
    path = _npz_claiming(tmp_path / "kmnist-x-imgs.npz", "arr_0", (1000, 28, 28), "|u1")
    with pytest.raises(DataFormatError, match="truncated array data \\(header declares 784000 bytes"):
        list(read(path))


def test_sketchrnn_object_split_over_the_limit(tmp_path):
    path = _obj_npz(tmp_path / "cat.npz", [np.zeros((1000, 3), np.int16)] * 50)
    with pytest.raises(DataFormatError, match="key 'train': (object array|arrays) of .* over the limit"):
        list(read(path, max_array_bytes=50_000))
    assert len(list(read(path))) == 50


def test_idx_header_declaring_huge_data_is_refused(tmp_path):
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    with gzip.open(path, "wb") as f:
        f.write(b"\x00\x00\x08\x03" + (10**9).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2 + bytes(784))
    with pytest.raises(DataFormatError) as exc:
        next(read(path))
    assert _one_line(exc).startswith(f"{path}: header declares 1000000000 images of 28x28")
    labels = tmp_path / "train-labels-idx1-ubyte"
    labels.write_bytes(b"\x00\x00\x08\x01" + (10**10 % 2**32).to_bytes(4, "big") + bytes(10))
    imgs = tmp_path / "train-images-idx3-ubyte"
    imgs.write_bytes(b"\x00\x00\x08\x03" + (1).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2 + bytes(784))
    with pytest.raises(DataFormatError, match="labels .* over the limit"):
        next(read(imgs, max_array_bytes=1000))


def test_limit_values():
    assert limit("max_line_bytes", 10) == 10 and limit("max_line_bytes", "2K") == 2048
    for bad in (0, -1, 1.5, True, "x"):
        with pytest.raises(InputError, match="max_line_bytes"):
            limit("max_line_bytes", bad)


# --------------------------------------------------------------------------- ndjson records
def _ndjson(tmp_path, lines, name="cat.ndjson"):
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("bad, fragment", [
    ('{"word": "x", "drawing": ' + "[" * 100_000 + "]" * 100_000 + "}", "invalid JSON (nested too deeply)"),
    ("[" * 5000 + "]" * 5000, "invalid JSON (nested too deeply)"),
    ('{"word": "x", "drawing": [[[' + "7" * 5000 + "], [1]]]}", "invalid JSON (a number has too many digits)"),
    ('{"word": "x", "drawing": [[[' + "7" * 40 + "], [1]]]}", "stroke 0 x: integer out of range (at most 64 bits)"),
    ('{"word": "x", "drawing": [[[1e400], [1]]]}', "stroke 0 x: values must be finite"),
    ('{"word": "x", "drawing": [[[1, 2], [3, 4]]], "extra": ' + "[" * 900 + "]" * 900 + "}", None),
])
def test_ndjson_hostile_records_are_record_errors(tmp_path, bad, fragment):
    path = _ndjson(tmp_path, [GOOD, bad, GOOD])
    if fragment is None:  # deep but within the parser's reach, in a key sketchkit ignores: read fine
        assert len(list(read(path))) == 3
        return
    with pytest.raises(DataFormatError) as exc:
        list(read(path))
    assert _one_line(exc) == f"{path}: line 2: {fragment}"
    got, skipped = _skip_all(path)
    assert [s.meta["line"] for s in got] == [1, 3] and skipped == ["line 2"]


def test_ndjson_line_over_the_limit_is_never_read_whole(tmp_path, monkeypatch):
    from sketchkit.data.limits import human_bytes

    ones = ",".join(["1"] * 100_000)
    long = '{"word": "x", "drawing": [[[' + ones + "], [" + ones + "]]]}"
    path = _ndjson(tmp_path, [GOOD, long, GOOD, long[:500], GOOD])  # line 4: truncated JSON, under the limit
    with pytest.raises(DataFormatError) as exc:
        list(read(path, max_line_bytes=100_000))
    msg = _one_line(exc)
    assert msg.startswith(f"{path}: line 2: line of {human_bytes(len(long) + 1)} is longer than the limit of 98 KiB")
    assert "max_line_bytes" in msg and "SKETCHKIT_MAX_LINE_BYTES" in msg
    got, skipped = _skip_all(path, max_line_bytes=100_000)
    assert [s.meta["line"] for s in got] == [1, 3, 5] and skipped == ["line 2", "line 4"]
    tracemalloc.start()
    try:
        _skip_all(path, max_line_bytes=1000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20  # the 400 KB line was drained in bounded pieces, never held
    monkeypatch.setenv("SKETCHKIT_MAX_LINE_BYTES", "100K")
    with pytest.raises(DataFormatError, match="line 2: line of"):
        list(read(path))
    got, skipped = _skip_all(path, max_line_bytes=1 << 20)
    assert len(got) == 4 and skipped == ["line 4"]  # only the truncated line is left out


def test_line_exactly_at_the_limit_is_read(tmp_path):
    path = _ndjson(tmp_path, [GOOD])
    n = len(GOOD)
    assert len(list(read(path, max_line_bytes=n))) == 1  # n bytes plus the newline
    with pytest.raises(DataFormatError, match="longer than the limit"):
        list(read(path, max_line_bytes=n - 1))


# --------------------------------------------------------------------------- npz overflow
def test_npz_offsets_whose_sum_overflows(tmp_path):
    ok = np.array([[1, 2, 0], [3, 4, 1]], np.int16)
    path = _obj_npz(tmp_path / "cat.npz", [ok, np.array([[1e308, 0, 0], [1e308, 0, 1]]), ok,
                                          np.array([[-1e308, 1, 0], [-1e308, 1, 1]], np.float64)])
    with pytest.raises(DataFormatError) as exc:
        list(read(path))
    assert _one_line(exc) == f"{path}: train[1]: offsets add up to non-finite coordinates (overflow)"
    got, skipped = _skip_all(path)
    assert [s.meta["index"] for s in got] == [0, 2] and skipped == ["train[1]", "train[3]"]


# --------------------------------------------------------------------------------- SVG
def _svg(tmp_path, body, name="d.svg"):
    path = tmp_path / name
    path.write_text(f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100">{body}</svg>')
    return path


GOOD_PATH = '<path id="good" d="M 0 0 L 5 5"/>'


@pytest.mark.parametrize("bad, fragment", [
    ('<path d="M 0 0 L 1e400 5"/>', "<path> element 1: number '1e400' at character 8 is out of range"),
    ('<g transform="scale(1e300)"><path d="M 0 0 L 1e10 5"/></g>',
     "<path> element 2: coordinates overflow after the transform (not finite)"),
    ('<g transform="scale(1e200)"><g transform="scale(1e200)"><path d="M0 0 L 1 1"/></g></g>',
     "<g> element 2: transform overflows when composed with its parents' (not finite)"),
    ('<path transform="translate(1e999)" d="M 0 0 L 1 1"/>', "<path> element 1: transform translate(1e999): number out of range"),
    ('<polyline points="0 0 1e400 1"/>', "<polyline> element 1: coordinates overflow after the transform"),
    ('<circle cx="1" cy="1" r="1e999" stroke="black"/>', "<circle> element 1: length '1e999' is out of range"),
    ('<path d="M 0 0 C 1e308 0 -1e308 0 1 1"/>', "<path> element 1: curve is too large to flatten"),
])
def test_svg_non_finite_numbers_and_transforms(tmp_path, bad, fragment):
    path = _svg(tmp_path, bad + GOOD_PATH)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no numpy overflow warnings leak either
        with pytest.raises(DataFormatError) as exc:
            list(read(path))
        assert _one_line(exc).startswith(f"{path}: {fragment}")
        (sk,), skipped = _skip_all(path)
    assert sk.num_strokes == 1 and sk.meta["ids"] == ["good"] and len(skipped) == 1
    assert np.isfinite(sk.points()).all()


@pytest.mark.parametrize("d", ["M 0 0 A 1e300 1e300 0 1 1 1e300 1", "M 0 0 A 1e300 1e300 0 1 1 -1e308 1e308",
                               "M 0 0 Q 1e308 1e308 -1e308 1"])
def test_svg_huge_but_finite_geometry_reads_finite_without_warnings(tmp_path, d):
    path = _svg(tmp_path, f'<path d="{d}"/>')
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        try:
            (sk,) = list(read(path))
        except DataFormatError as exc:  # or a one-line error naming the element; never a traceback
            assert str(exc).startswith(f"{path}: <path> element 1: ") and "\n" not in str(exc)
            return
    assert np.isfinite(sk.points()).all()


def test_svg_deep_group_nesting(tmp_path):
    from sketchkit.data.svg_import import MAX_DEPTH

    deep = "<g>" * 5000 + '<path d="M 0 0 L 1 1"/>' + "</g>" * 5000
    path = _svg(tmp_path, deep + GOOD_PATH)
    with pytest.raises(DataFormatError) as exc:
        list(read(path))
    assert _one_line(exc) == f"{path}: <g> element {MAX_DEPTH}: groups nested deeper than {MAX_DEPTH} levels"
    (sk,), skipped = _skip_all(path)
    assert sk.meta["ids"] == ["good"] and skipped == [f"<g> element {MAX_DEPTH}"]
    # Nesting within the bound is read, far deeper than Python's recursion would allow per frame.
    ok = "<g>" * (MAX_DEPTH - 1) + '<path d="M 0 0 L 1 1"/>' + "</g>" * (MAX_DEPTH - 1)
    (sk,) = list(read(_svg(tmp_path, ok, "ok.svg")))
    assert sk.num_strokes == 1


def test_svg_flattening_point_limits(tmp_path, monkeypatch):
    from sketchkit.data.svg_import import parse_path

    arcs = "".join(f'<path id="a{i}" d="M 0 {i} A 1e6 1e6 0 1 1 1 {i}"/>' for i in range(20))
    path = _svg(tmp_path, arcs)
    (full,) = list(read(path))  # each arc flattens to thousands of points
    n_arc = full.num_points // 20
    assert full.num_points == 20 * n_arc and n_arc > 5000
    # per file: the element where the budget ran out is named; skip mode skips the whole drawing
    cap = int(4.5 * n_arc)
    with pytest.raises(DataFormatError) as exc:
        list(read(path, max_points=cap))
    msg = _one_line(exc)
    assert msg.startswith(f"{path}: <path> element 5 (id=a4): flattening needs more than {cap} points for the file")
    assert "max_points" in msg and "SKETCHKIT_MAX_SVG_POINTS" in msg
    got, skipped = _skip_all(path, max_points=cap)
    assert got == [] and skipped == ["<path> element 5 (id=a4)"]
    # per element: that element is the bad record
    big = '<path id="big" d="' + " ".join(f"M 0 {i} A 1e6 1e6 0 1 1 1 {i}" for i in range(10)) + '"/>'
    path2 = _svg(tmp_path, big + GOOD_PATH, "big.svg")
    cap = 5 * n_arc
    with pytest.raises(DataFormatError, match=f"<path> element 1 \\(id=big\\): flattening needs more than {cap} points for this element"):
        list(read(path2, max_element_points=cap))
    (sk,), skipped = _skip_all(path2, max_element_points=cap)
    assert sk.meta["ids"] == ["good"] and skipped == ["<path> element 1 (id=big)"]
    monkeypatch.setenv("SKETCHKIT_MAX_SVG_ELEMENT_POINTS", "1000")
    with pytest.raises(ValueError, match="more than 1000 points"):
        parse_path("M 0 0 A 1e6 1e6 0 1 1 1 0")
    assert len(parse_path("M 0 0 A 1e6 1e6 0 1 1 1 0", max_points=20_000)[0]) == n_arc
    monkeypatch.setenv("SKETCHKIT_MAX_SVG_POINTS", "100")
    with pytest.raises(DataFormatError, match="more than 100 points for the file"):
        list(read(_svg(tmp_path, '<polyline points="' + " ".join(["1 2"] * 200) + '"/>', "pl.svg")))


# ------------------------------------------------------------------------ outputs and CLI
def test_convert_refuses_values_the_output_cannot_hold(tmp_path, capsys):
    from sketchkit.data.writers import write_npz

    for coord in (1e308, 1e200):
        src = _ndjson(tmp_path, [GOOD, json.dumps({"word": "x", "drawing": [[[coord, -coord, 0], [5, 6, 7]]]})],
                      name=f"huge{coord:.0e}.ndjson")
        out = tmp_path / "x.npz"
        assert main(["convert", str(src), "-o", str(out)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith(f"error: {out}: sketch 1: ") and not out.exists()
        if coord == 1e308:  # an extent that overflows cannot be drawn either
            assert main(["convert", str(src), "-o", str(tmp_path / "svgs")]) == 2
            assert "sketch 1: coordinates too far apart to draw" in capsys.readouterr().err
    # values that do fit float32 are written and read back
    sk = Sketch([np.array([[0.5, 1e30], [2.25, -1e30]])])
    write_npz([sk], tmp_path / "ok.npz")
    (back,) = list(read(tmp_path / "ok.npz"))
    np.testing.assert_allclose(back.strokes[0], sk.strokes[0], rtol=1e-6)
    with pytest.raises(ValueError, match="sketch 0: an offset of 2e\\+39 does not fit"):
        write_npz([Sketch([np.array([[0.0, 0], [2e39, 0]])])], tmp_path / "no.npz")


def test_render_size_bounds_and_absurd_coordinates(tmp_path, capsys):
    src = _ndjson(tmp_path, [GOOD] * 9)
    for size in ("0", "16385", "100000"):
        assert main(["render", str(src), "-o", str(tmp_path / "a.png"), "--size", size]) == 2
        assert capsys.readouterr().err == f"error: --size: expected 1..16384 pixels, got {size}\n"
    assert main(["render", str(src), "-o", str(tmp_path / "a.png"), "--size", "16"]) == 0
    # a grid whose whole image is over cairo's limits: one line, not a cairo traceback
    assert main(["render", str(src), "-o", str(tmp_path / "g.png"), "--count", "9", "--size", "12000"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "36000x36000 pixel image is too large" in err
    huge = _ndjson(tmp_path, [json.dumps({"word": "x", "drawing": [[[1e308, -1e308], [5, 6]]]})], "huge.ndjson")
    for out in ("h.png", "h.svg"):
        assert main(["render", str(huge), "-o", str(tmp_path / out)]) == 2
        err = capsys.readouterr().err
        assert err == f"error: {huge}: sketch 0: coordinates up to 1e+308 are too large to draw (at most 1e+38); normalise it first\n"
        assert not (tmp_path / out).exists()


def test_to_png_refuses_before_cairo(tmp_path):
    from sketchkit.render import to_png

    with pytest.raises(ValueError, match="too large to draw"):
        to_png(Sketch([np.array([[0.0, 0], [1e300, 1]])]))
    with pytest.raises(ValueError, match="40000x40000 pixel image is too large"):
        to_png(Sketch([np.array([[0.0, 0], [1, 1]])]), size=40000)


def test_outputs_get_the_same_mode_respecting_umask(tmp_path):
    from sketchkit.data.writers import write

    sk = Sketch([np.array([[0.0, 0], [3, 4]])], label="a")
    old = os.umask(0o027)
    try:
        for name in ("a.ndjson", "a.npz", "a.bin", "a.svg"):
            write([sk], tmp_path / name)
            assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o640, name
    finally:
        os.umask(old)
    write([sk], tmp_path / "b.ndjson")
    assert stat.S_IMODE((tmp_path / "b.ndjson").stat().st_mode) == 0o666 & ~old


def test_convert_with_nothing_to_convert_writes_nothing(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("not a sketch file")
    out = tmp_path / "out.ndjson"
    assert main(["convert", str(empty), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err == f"error: {empty}: no sketches to convert (the folder holds no file in a format sketchkit reads); nothing written\n"
    assert not out.exists()
    allbad = _ndjson(tmp_path, ["{oops", "[1]"], "bad.ndjson")
    assert main(["convert", str(allbad), "-o", str(out), "--skip-bad"]) == 2
    err = capsys.readouterr().err
    assert "no sketches to convert (all 2 record(s) read were malformed and skipped)" in err and not out.exists()
    good = _ndjson(tmp_path, [GOOD], "good.ndjson")
    assert main(["convert", str(good), "-o", str(out), "--category", "dog"]) == 2
    assert "no sketch matched --category" in capsys.readouterr().err and not out.exists()
    assert main(["convert", str(good), "-o", str(out)]) == 0 and out.exists()


def test_convert_skip_bad_keeps_the_good_records_of_each_class(tmp_path, capsys):
    lines = [GOOD,
             '{"word": "x", "drawing": ' + "[" * 50_000 + "]" * 50_000 + "}",
             GOOD,
             '{"word": "x", "drawing": [[[' + "9" * 6000 + "], [1]]]}",
             '{"word": "x", "drawing": [[[' + ",".join(["1"] * 5000) + "], [1]]]}",
             GOOD]
    src = _ndjson(tmp_path, lines)
    out = tmp_path / "out.npz"
    assert main(["convert", str(src), "-o", str(out)]) == 2
    assert capsys.readouterr().err.startswith(f"error: {src}: line 2: invalid JSON (nested too deeply)")
    os.environ["SKETCHKIT_MAX_LINE_BYTES"] = "20000"
    try:
        assert main(["convert", str(src), "-o", str(out), "--skip-bad"]) == 0
    finally:
        del os.environ["SKETCHKIT_MAX_LINE_BYTES"]
    cap = capsys.readouterr()
    assert "wrote 3 sketch(es)" in cap.out and "skipped 3 malformed record(s)" in cap.out
    assert "line 2, line 4, line 5" in cap.err
    assert len(list(read(out))) == 3
