"""scripts/blind_eye_test.py: the grids hide which drawing is real; scoring unblinds correctly."""

from __future__ import annotations

import argparse
import json

import pytest

from conftest import load_script


@pytest.fixture(scope="module")
def blind():
    return load_script("blind_eye_test")


def test_score_counts_recognised_cells_per_kind(blind, tmp_path):
    key = {"cat": ["real", "sample", "sample", "real"], "dog": ["sample", "real"]}
    (tmp_path / "key.json").write_text(json.dumps({"model": "m", "seed": 0, "key": key}))
    (tmp_path / "judged.json").write_text(json.dumps({"cat": [0, 1, 3], "dog": [1]}))
    result = blind.score(argparse.Namespace(out=tmp_path))
    assert result["per_class"] == {"cat": {"real": "2/2", "sample": "1/2"}, "dog": {"real": "1/1", "sample": "0/1"}}
    assert result["real"] == pytest.approx(1.0) and result["samples"] == pytest.approx(1 / 3)
    assert result["ratio"] == pytest.approx(1 / 3)
    assert json.loads((tmp_path / "score.json").read_text())["ratio"] == pytest.approx(1 / 3)


def test_make_shuffles_real_and_samples_into_one_grid_per_class(blind, tmp_path, shared_data):
    spg = shared_data / "quickdraw" / "spg"
    if not spg.is_dir():
        pytest.skip(f"{spg} not present")
    pytest.importorskip("cairosvg")
    args = argparse.Namespace(model="bezier", data=spg, out=tmp_path, n=2, seed=0, temperature=0.15,
                              min_class_posterior=None, best_of=None, max_overdraw=None, arms=None)
    blind.make(args)
    key = json.loads((tmp_path / "key.json").read_text())["key"]
    assert len(key) == 19 and all(sorted(k) == ["real", "real", "sample", "sample"] for k in key.values())
    assert len({tuple(k) for k in key.values()}) > 1  # shuffled, not one fixed order
    assert len(list(tmp_path.glob("*_*.png"))) == 19
    assert json.loads((tmp_path / "judged.json").read_text()) == {name: [] for name in key}


def test_score_with_arms_reports_each_arm_against_the_real_rate(blind, tmp_path):
    key = {"cat": ["real", "plain", "careful", "real", "careful", "plain"]}
    (tmp_path / "key.json").write_text(json.dumps({"model": "m", "seed": 0, "key": key}))
    (tmp_path / "judged.json").write_text(json.dumps({"cat": [0, 2, 3, 4, 5]}))
    result = blind.score(argparse.Namespace(out=tmp_path))
    assert result["per_class"] == {"cat": {"real": "2/2", "careful": "2/2", "plain": "1/2"}}
    assert result["arms"] == {"careful": {"recognised": 1.0, "ratio": 1.0}, "plain": {"recognised": 0.5, "ratio": 0.5}}


@pytest.mark.parametrize("arms", ['{"real": {}}', '{}', '["plain"]', '{"plain": 3}', '{plain'])
def test_make_refuses_bad_arms_before_any_work(blind, tmp_path, arms):
    args = argparse.Namespace(model="no-such-model", data=tmp_path / "missing", out=tmp_path / "out", n=2, seed=0,
                              temperature=0.15, min_class_posterior=None, best_of=None, max_overdraw=None, arms=arms)
    with pytest.raises(SystemExit, match="--arms"):
        blind.make(args)
    assert not (tmp_path / "out").exists()
