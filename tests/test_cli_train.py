"""``sketchkit train / sample / eval`` end to end on the toy family and real Quick, Draw! data."""

from __future__ import annotations

import json

import pytest
import torch

import toy_model  # noqa: F401  (registers the toy families)
from conftest import shared_path
from sketchkit.cli.app import main
from sketchkit.models.base import load_model
from sketchkit.train import read_metrics, read_trainer_state


@pytest.fixture(scope="module")
def data():
    pytest.importorskip("sketchkit.data")
    folder = shared_path("quickdraw", "simplified")
    return [str(folder / "apple.ndjson"), str(folder / "cat.ndjson")]


def run_cli(args, capsys):
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


BASE = ["--set", "train.steps=12", "--set", "train.batch_size=8", "--set", "train.lr=5e-3",
        "--set", "train.checkpoint_every=4", "--set", "model.hidden=16", "--quiet", "--device", "cpu"]


def train_args(data, out, *extra):
    return ["train", "toy", "--data", data[0], "--data", data[1], "--out", out, *BASE, *extra]


def test_train_writes_a_run_folder(data, tmp_path, capsys):
    args = ["train", "toy", "--data", data[0], data[1], "--out", tmp_path / "run", *BASE, "--val-fraction", "0.2"]
    code, out, err = run_cli(args, capsys)
    assert code == 0, err
    assert "done:" in out
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert info["family"] == "toy" and info["model"]["hidden"] == 16 and info["train"]["steps"] == 12
    assert info["data"]["num_train"] == 40 and info["data"]["num_val"] == 10  # 25 apples + 25 cats, 20 % held out
    assert info["data"]["paths"] == data
    model = load_model(tmp_path / "run")
    assert model.config.hidden == 16
    assert read_trainer_state(tmp_path / "run" / "last")["step"] == 12
    assert [r["step"] for r in read_metrics(tmp_path / "run") if r["type"] == "val"] == [12]


def test_resume_without_data_continues_exactly(data, tmp_path, capsys):
    assert run_cli(train_args(data, tmp_path / "straight", "--set", "train.steps=20"), capsys)[0] == 0
    assert run_cli(train_args(data, tmp_path / "run"), capsys)[0] == 0
    code, out, err = run_cli(["train", "toy", "--out", tmp_path / "run", "--resume", "--set", "train.steps=20", "--quiet"], capsys)
    assert code == 0, err
    a, b = load_model(tmp_path / "straight" / "last"), load_model(tmp_path / "run" / "last")
    assert all(torch.equal(a.state_dict()[k], v) for k, v in b.state_dict().items())
    assert read_trainer_state(tmp_path / "run" / "last")["step"] == 20
    code, _, err = run_cli(["train", "toy", "--out", tmp_path / "run", "--resume", "--set", "model.hidden=8"], capsys)
    assert code == 2 and "model settings cannot change on --resume" in err
    code, _, err = run_cli(train_args(data, tmp_path / "run"), capsys)
    assert code == 2 and "already holds a 'toy' training run; continue it (--resume)" in err


@pytest.mark.parametrize("setting, message", [
    ("train.lr=abc", "train.lr: expected float, got 'abc'"),
    ("train.steps=1.5", "train.steps: expected int, got '1.5'"),
    ("train.quiet=maybe", "train.quiet: expected bool, got 'maybe' (use true or false)"),
    ("train.schedule=linear", "train.schedule: expected one of constant|cosine|step, got 'linear'"),
    ("model.nope=1", "model.nope: unknown setting for ToyConfig"),
    ("lr", "--set 'lr': expected key=value"),
    ("train.batch_size=0", "train.batch_size: expected an integer >= 1, got 0"),
    ("train.grad_clip=nan", "train.grad_clip: expected a finite number, got 'nan'"),
    ("train.weight_decay=inf", "train.weight_decay: expected a finite number, got 'inf'"),
    ("train.sample_temperature=-1", "train.sample_temperature: expected a finite number >= 0, got -1.0"),
    ("model.hidden=-5", "model.hidden: expected an integer >= 1, got -5"),
    ("model.dropout=1.5", "model.dropout: expected a number in [0, 1], got 1.5"),
    ("model.scale=nan", "model.scale: expected a finite number, got 'nan'"),
])
def test_bad_overrides_fail_with_one_line(data, tmp_path, capsys, setting, message):
    code, _, err = run_cli(train_args(data, tmp_path / "run", "--set", setting), capsys)
    assert code == 2
    assert err.startswith("error: ") and message in err and err.count("\n") == 1, err


def test_unknown_family_and_missing_data(data, tmp_path, capsys):
    code, _, err = run_cli(["train", "nosuch", "--data", data[0], "--out", tmp_path / "r"], capsys)
    assert code == 2 and "unknown model family 'nosuch'" in err and "toy" in err
    code, _, err = run_cli(["train", "toy", "--data", tmp_path / "missing.ndjson", "--out", tmp_path / "r"], capsys)
    assert code == 2 and "missing.ndjson: no such file" in err


def test_config_file_toml_then_set_wins(data, tmp_path, capsys):
    (tmp_path / "c.toml").write_text('family = "toy"\n[train]\nsteps = 6\nbatch_size = 8\nlr = 0.01\n'
                                     '[model]\nhidden = 12\nlatent = 4\n')
    code, _, err = run_cli(["train", "toy", "--data", data[0], "--out", tmp_path / "run", "--config", tmp_path / "c.toml",
                            "--set", "model.latent=6", "--quiet", "--device", "cpu"], capsys)
    assert code == 0, err
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert (info["train"]["steps"], info["train"]["lr"], info["model"]["hidden"], info["model"]["latent"]) == (6, 0.01, 12, 6)
    (tmp_path / "bad.toml").write_text("[train]\nsteps = 'many'\n")
    code, _, err = run_cli(["train", "toy", "--data", data[0], "--out", tmp_path / "r2", "--config", tmp_path / "bad.toml"], capsys)
    assert code == 2 and "train.steps: expected int, got 'many'" in err


def test_nonfinite_loss_exits_1_naming_the_step(data, tmp_path, capsys):
    code, _, err = run_cli(train_args(data, tmp_path / "run", "--set", "model.nan_at_step=5"), capsys)
    assert code == 1 and "non-finite loss" in err and "step 5" in err
    assert read_trainer_state(tmp_path / "run" / "last")["step"] == 4


def test_sample_and_eval(data, tmp_path, capsys):
    pytest.importorskip("sketchkit.render")
    assert run_cli(train_args(data, tmp_path / "run"), capsys)[0] == 0
    run = tmp_path / "run"
    code, out, err = run_cli(["sample", run, "-n", "4", "--seed", "1", "-o", tmp_path / "a.svg"], capsys)
    assert code == 0, err
    run_cli(["sample", run, "-n", "4", "--seed", "1", "-o", tmp_path / "b.svg"], capsys)
    run_cli(["sample", run, "-n", "4", "--seed", "2", "-o", tmp_path / "c.svg"], capsys)
    a, b, c = ((tmp_path / f"{x}.svg").read_text() for x in "abc")
    assert a == b and a != c and a.count('class="cell"') == 4
    assert run_cli(["sample", run, "-n", "4", "-o", tmp_path / "g.png"], capsys)[0] == 0
    assert (tmp_path / "g.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert run_cli(["sample", run, "-n", "3", "-o", tmp_path / "folder"], capsys)[0] == 0
    assert sorted(p.name for p in (tmp_path / "folder").iterdir()) == ["sample_000.svg", "sample_001.svg", "sample_002.svg"]
    code, _, err = run_cli(["sample", run, "-n", "0", "-o", tmp_path / "x.svg"], capsys)
    assert code == 2 and "-n: expected at least 1" in err

    code, out, err = run_cli(["eval", run, "--data", data[0], "--json", "--limit", "10"], capsys)
    assert code == 0, err
    result = json.loads(out)
    assert result["family"] == "toy" and result["count"] == 10
    assert set(result["losses"]) == {"main"} and result["losses"]["main"]["loss"] > 0
    assert result["metrics"]["recon_mse"] > 0
    code, out, err = run_cli(["eval", run, "--data", data[0], "--limit", "10"], capsys)
    assert code == 0 and "recon_mse" in out and "main" in out
    code, _, err = run_cli(["eval", tmp_path / "nowhere", "--data", data[0]], capsys)
    assert code == 2 and "nowhere" in err


def test_train_bezier_fits_data_dependent_config_from_the_training_data(tmp_path, capsys):
    from sketchkit.data import read_all
    from sketchkit.models.bezier_sketch import BezierSketchConfig, estimate_token_scales
    from sketchkit.cli.train_cmd import split_validation

    data = shared_path("quickdraw", "simplified", "cat.ndjson")
    out = tmp_path / "bz"
    tiny = ["model.embed_hidden=8", "model.embed_latent=8", "model.enc_hidden=8", "model.dec_hidden=8",
            "model.latent_dim=4", "train.steps=1", "train.batch_size=4", "train.val_every=0"]
    args = ["train", "bezier", "--data", str(data), "--out", str(out), "--quiet"]
    for setting in tiny:
        args += ["--set", setting]
    assert main(args) == 0
    saved = json.loads((out / "last" / "config.json").read_text())
    train_sk, _ = split_validation(read_all([data]), 0.1, 0)
    expected = estimate_token_scales(train_sk, BezierSketchConfig())
    assert saved["offset_scale"] == pytest.approx(expected.offset_scale)
    assert saved["start_scale"] == pytest.approx(expected.start_scale)
    assert saved["offset_scale"] != BezierSketchConfig().offset_scale


def test_out_folder_with_user_files_is_refused_and_kept(data, tmp_path, capsys):
    out = tmp_path / "u"
    (out / "best").mkdir(parents=True)
    (out / "best" / "keep.txt").write_text("x")
    code, _, err = run_cli(train_args(data, out), capsys)
    assert code == 2 and err.count("\n") == 1 and "is not empty and is not a sketchkit training run" in err, err
    code, _, err = run_cli(train_args(data, out, "--overwrite"), capsys)
    assert code == 2 and err.count("\n") == 1 and "keep.txt, which sketchkit did not write" in err, err
    assert (out / "best" / "keep.txt").read_text() == "x"
    assert sorted(p.name for p in out.iterdir()) == ["best"]


def test_overwrite_and_resume_flags(data, tmp_path, capsys):
    out = tmp_path / "run"
    assert run_cli(train_args(data, out), capsys)[0] == 0
    (out / "notes.txt").write_text("mine")
    code, _, err = run_cli(train_args(data, out, "--overwrite"), capsys)
    assert code == 0, err
    assert (out / "notes.txt").read_text() == "mine"
    assert len(json.loads((out / "run.json").read_text())["history"]) == 1
    code, _, err = run_cli(train_args(data, out, "--overwrite", "--resume"), capsys)
    assert code == 2 and "choose one" in err


def test_corrupt_run_json_on_resume_is_one_line(data, tmp_path, capsys):
    out = tmp_path / "run"
    assert run_cli(train_args(data, out), capsys)[0] == 0
    (out / "run.json").write_text("{truncated")
    code, _, err = run_cli(["train", "toy", "--out", out, "--resume", "--quiet"], capsys)
    assert code == 2 and err.startswith(f"error: {out / 'run.json'}: not valid JSON") and err.count("\n") == 1, err
