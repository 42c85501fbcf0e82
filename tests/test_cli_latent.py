"""`sketchkit reconstruct | interpolate | complete` on the shipped models and real data."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from conftest import shared_path
from sketchkit.cli.app import main

SVG = "{http://www.w3.org/2000/svg}"


def _cells(path) -> int:
    """Number of grid cells (one ``<g class="cell">`` per sketch) in a grid SVG."""
    root = ET.parse(path).getroot()
    return sum(1 for g in root.iter(f"{SVG}g") if g.get("class") == "cell")


@pytest.fixture
def omniglot():
    return shared_path("sketchrnn", "omniglot.npz")


def test_complete_draws_the_partial_then_n_continuations(omniglot, tmp_path):
    out = tmp_path / "c.svg"
    assert main(["complete", "bezier_omniglot", str(omniglot), "--split", "test", "--index", "3", "-n", "3", "--seed", "1",
                 "-o", str(out)]) == 0
    assert _cells(out) == 4
    again = tmp_path / "c2.svg"
    main(["complete", "bezier_omniglot", str(omniglot), "--split", "test", "--index", "3", "-n", "3", "--seed", "1", "-o", str(again)])
    assert out.read_bytes() == again.read_bytes()  # same seed, same completions


def test_interpolate_and_reconstruct(omniglot, tmp_path):
    assert main(["interpolate", "bezier_omniglot", str(omniglot), "--split", "test", "--from", "0", "--to", "5",
                 "--steps", "5", "-o", str(tmp_path / "i.svg")]) == 0
    assert _cells(tmp_path / "i.svg") == 5
    digits = shared_path("vectormnist")
    assert main(["reconstruct", "sketchode", str(digits), "-i", "4500", "-n", "3", "-o", str(tmp_path / "r")]) == 0
    assert len(list((tmp_path / "r").glob("*.svg"))) == 6  # 3 inputs + 3 reconstructions


def test_bad_requests_exit_2_with_one_line(omniglot, tmp_path, capsys):
    assert main(["complete", "sketchode", str(omniglot), "-o", str(tmp_path / "x.svg")]) == 2
    assert "cannot complete" in capsys.readouterr().err
    assert main(["interpolate", "bezier_omniglot", str(omniglot), "--split", "valid", "--to", "100000",
                 "-o", str(tmp_path / "x.svg")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "no sketch at index 100000" in err
    assert main(["interpolate", "bezier_omniglot", str(omniglot), "--steps", "1", "-o", str(tmp_path / "x.svg")]) == 2


def test_reconstruct_kmnist_characters_from_their_centreline_clouds(tmp_path):
    kmnist = shared_path("kmnist", "kmnist-test-imgs.npz")
    assert main(["reconstruct", "cloud2curve_kmnist", str(kmnist), "-n", "2", "--cloud", "centreline",
                 "-o", str(tmp_path / "r")]) == 0
    assert len(list((tmp_path / "r").glob("*.svg"))) == 4  # 2 clouds + 2 curve sets
    assert main(["reconstruct", "cloud2curve_kmnist", str(kmnist), "-n", "1", "--cloud", "outline",
                 "-o", str(tmp_path / "x.svg")]) == 2  # a one-line error, not a traceback


def test_reconstruct_without_labels_needs_a_model_trained_to_read_unlabelled_clouds(tmp_path, capsys):
    mnist = shared_path("mnist", "t10k-images-idx3-ubyte.gz")
    assert main(["reconstruct", "cloud2curve", str(mnist), "-n", "2", "--cloud", "centreline", "--no-label",
                 "-o", str(tmp_path / "r")]) == 0
    assert len(list((tmp_path / "r").glob("*.svg"))) == 4  # 2 clouds + 2 curve sets
    # sketchode always saw its class in training: it refuses unlabelled input in one line
    digits = shared_path("vectormnist")
    assert main(["reconstruct", "sketchode", str(digits), "-i", "4500", "-n", "1", "--no-label",
                 "-o", str(tmp_path / "x.svg")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "unlabelled sketch" in err and "known classes: 0, 1" in err
