"""``sketchkit data info|formats`` and ``sketchkit convert`` through the CLI entry point."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from sketchkit.cli.app import main
from sketchkit.data import read


def test_data_info_text_and_json(shared_data, capsys):
    path = shared_data / "quickdraw" / "raw" / "pig.ndjson"
    assert main(["data", "info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "format   quickdraw-ndjson" in out and "count    19" in out and "times    yes" in out
    assert main(["data", "info", str(shared_data / "sketchrnn" / "omniglot.npz"), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["count"] == 32000 and summary["splits"] == {"train": 30000, "valid": 1000, "test": 1000}
    assert main(["data", "info", str(shared_data / "sketchrnn" / "omniglot.npz"), "--split", "test", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["count"] == 1000
    assert main(["data", "info", str(shared_data / "mnist" / "t10k-images-idx3-ubyte.gz")]) == 0
    out = capsys.readouterr().out
    assert "count    10000" in out and "images   28x28" in out


def test_data_info_bad_input_one_line(tmp_path, capsys):
    bad = tmp_path / "x.ndjson"
    bad.write_text('{"word": "a", "drawing": []}\n{oops\n')
    assert main(["data", "info", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err == f"error: {bad}: line 2: invalid JSON (Expecting property name enclosed in double quotes)\n"
    assert main(["data", "info", str(bad), "--skip-bad"]) == 0
    cap = capsys.readouterr()
    assert "count    1" in cap.out and "skipped  1 malformed record(s)" in cap.out
    assert "warning: " in cap.err and "line 2" in cap.err
    assert main(["data", "info", str(tmp_path / "missing.npz")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_data_formats(capsys):
    assert main(["data", "formats"]) == 0
    out = capsys.readouterr().out
    for name in ("quickdraw-ndjson", "quickdraw-bin", "sketchrnn-npz", "kmnist-npz", "mnist-idx",
                 "vectormnist-npz", "vectormnist-samples", "svg"):
        assert name in out


def test_convert_roundtrips(shared_data, tmp_path, capsys):
    src = shared_data / "quickdraw" / "simplified" / "face.ndjson"
    original = list(read(src))
    assert main(["convert", str(src), "-o", str(tmp_path / "face.npz")]) == 0
    assert main(["convert", str(tmp_path / "face.npz"), "-o", str(tmp_path / "face2.ndjson")]) == 0
    assert main(["convert", str(tmp_path / "face2.ndjson"), "-o", str(tmp_path / "face.bin")]) == 0
    assert main(["convert", str(tmp_path / "face.bin"), "-o", str(tmp_path / "svgs"), "--limit", "4"]) == 0
    assert main(["convert", str(tmp_path / "svgs"), "-o", str(tmp_path / "face3.ndjson")]) == 0
    out = capsys.readouterr().out
    assert "wrote 25 sketch(es) to" in out and "wrote 4 sketch(es) to" in out
    via_npz = list(read(tmp_path / "face2.ndjson"))
    via_bin = list(read(tmp_path / "face.bin"))
    via_svg = list(read(tmp_path / "face3.ndjson"))
    assert len(via_npz) == len(via_bin) == 25 and len(via_svg) == 4
    assert sorted(p.name for p in (tmp_path / "svgs").iterdir())[0] == "00000_face.svg"
    for a, b, c in zip(original, via_npz, via_bin):
        for s, t, u in zip(a.strokes, b.strokes, c.strokes):
            np.testing.assert_array_equal(s, t)  # integer data: exact through stroke-3
            np.testing.assert_array_equal(s, u)
    for a, d in zip(original, via_svg):
        assert a.num_strokes == d.num_strokes
        for s, t in zip(a.strokes, d.strokes):
            if np.ptp(s, axis=0).max() == 0:
                s = s[:1]  # a zero-length stroke renders as a dot, which imports as one point
            np.testing.assert_allclose(s, t, atol=0.01)


def test_convert_options_and_errors(shared_data, tmp_path, capsys):
    src = shared_data / "sketchrnn" / "aaron_sheep.npz"
    assert main(["convert", str(src), "-o", str(tmp_path / "t.ndjson"), "--split", "test"]) == 0
    assert sum(1 for _ in open(tmp_path / "t.ndjson")) == 300
    folder = shared_data / "quickdraw" / "simplified"
    assert main(["convert", str(folder), "-o", str(tmp_path / "cp.ndjson"), "-c", "cat", "-c", "pig"]) == 0
    assert {s.label for s in read(tmp_path / "cp.ndjson")} == {"cat", "pig"}
    capsys.readouterr()
    assert main(["convert", str(src), "-o", str(tmp_path / "x.png")]) == 2
    assert "unknown output type '.png'" in capsys.readouterr().err
    raw = shared_data / "quickdraw" / "raw" / "cat.ndjson"
    assert main(["convert", str(raw), "-o", str(tmp_path / "c.bin")]) == 2
    err = capsys.readouterr().err
    assert "sketch 0: stroke 0: .bin coordinates must lie in 0..255" in err and err.count("\n") == 1
    assert not (tmp_path / "c.bin").exists()
    assert main(["convert", str(raw), "-o", str(tmp_path / "one.svg")]) == 2
    assert "holds one sketch" in capsys.readouterr().err
    assert main(["convert", str(raw), "-o", str(tmp_path / "one.svg"), "-n", "1"]) == 0


def test_convert_skip_bad(tmp_path, capsys):
    src = tmp_path / "in.ndjson"
    src.write_text('{"word":"a","drawing":[[[1,2],[3,4]]]}\nnope\n{"word":"a","drawing":[[[5],[6]]]}\n')
    assert main(["convert", str(src), "-o", str(tmp_path / "o.ndjson")]) == 2
    assert not (tmp_path / "o.ndjson").exists()
    assert main(["convert", str(src), "-o", str(tmp_path / "o.ndjson"), "--skip-bad"]) == 0
    cap = capsys.readouterr()
    assert "wrote 2 sketch(es)" in cap.out and "skipped 1 malformed record(s)" in cap.out


@pytest.mark.parametrize("args", [
    ["data", "info", "{shared}/quickdraw/raw/cat.ndjson"],
    ["data", "info", "{shared}/kmnist/kmnist-test-imgs.npz"],
    ["convert", "{shared}/quickdraw/simplified/cat.ndjson", "-o", "{tmp}/c.npz"],
])
def test_data_commands_do_not_import_torch(shared_data, tmp_path, args):
    argv = [a.format(shared=shared_data, tmp=tmp_path) for a in args]
    code = textwrap.dedent(f"""
        import sys
        from sketchkit.cli.app import main
        assert 'torch' not in sys.modules, 'torch imported by the CLI at start-up'
        rc = main({argv!r})
        assert rc == 0, rc
        assert 'torch' not in sys.modules, 'torch imported by the command'
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
