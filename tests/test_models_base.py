"""Checkpoint loading refuses bad files with one-line errors naming the file (never unpickles)."""

from __future__ import annotations

import json

import pytest
import torch

import toy_model  # noqa: F401  (registers the toy family)
from sketchkit.errors import InputError
from sketchkit.models.base import ModelLoadError, load_model
from sketchkit.pretrained import available, resolve
from toy_model import ToyConfig, ToyModel


@pytest.fixture
def saved(tmp_path):
    torch.manual_seed(0)
    return ToyModel(ToyConfig()).save_pretrained(tmp_path / "m")


def test_round_trip_keeps_every_tensor(saved):
    loaded = load_model(saved)
    original = ToyModel(ToyConfig())
    original.load_state_dict(loaded.state_dict())
    for name, tensor in loaded.state_dict().items():
        torch.testing.assert_close(tensor, original.state_dict()[name], rtol=0, atol=0)


def test_corrupt_weights_name_the_file(saved):
    (saved / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ModelLoadError, match=r"model\.safetensors: not a readable safetensors file"):
        load_model(saved)


def test_shape_mismatch_names_the_tensor(saved):
    cfg = json.loads((saved / "config.json").read_text())
    cfg["hidden"] = 7
    (saved / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelLoadError, match=r"has shape .* expected"):
        load_model(saved)


def test_unknown_config_field_names_the_config_file(saved):
    cfg = json.loads((saved / "config.json").read_text())
    cfg["no_such_field"] = 1
    (saved / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelLoadError, match=r"config\.json: .*unknown config field"):
        load_model(saved)


def test_unknown_family_and_missing_files(saved, tmp_path):
    cfg = json.loads((saved / "config.json").read_text())
    cfg["family"] = "no-such-family"
    (saved / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelLoadError, match="unknown model family"):
        load_model(saved)
    with pytest.raises(ModelLoadError, match="no such model directory"):
        load_model(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelLoadError, match="holds no config.json"):
        load_model(tmp_path / "empty")
    (tmp_path / "badjson").mkdir()
    (tmp_path / "badjson" / "config.json").write_text("{")
    (tmp_path / "badjson" / "model.safetensors").write_bytes(b"")
    with pytest.raises(ModelLoadError, match="not valid JSON"):
        load_model(tmp_path / "badjson")


def test_model_load_errors_are_input_errors():
    # The CLI turns InputError into a one-line message with exit code 2.
    assert issubclass(ModelLoadError, InputError)


def test_run_directory_resolves_to_best_then_last(saved, tmp_path):
    run = tmp_path / "run"
    (run / "last").mkdir(parents=True)
    for f in saved.iterdir():
        (run / "last" / f.name).write_bytes(f.read_bytes())
    assert resolve(run) == run / "last"
    (run / "best").mkdir()
    for f in saved.iterdir():
        (run / "best" / f.name).write_bytes(f.read_bytes())
    assert resolve(run) == run / "best"


def test_every_shipped_model_loads_by_name():
    names = available()
    assert {"bezier", "sketchode", "cloud2curve"} <= set(names)
    for name in names:
        assert load_model(name).config.family == name
