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
    assert {"bezier", "bezier_omniglot", "sketchode", "cloud2curve"} <= set(names)
    for name in names:
        assert load_model(name).config.family == name.split("_")[0]  # bezier_omniglot is a bezier model


# -- configs that do not match the weights fail before anything is allocated ----------------------
def _construction_devices(monkeypatch, cls):
    """Record the default device each time ``cls`` is constructed (``meta`` = no memory)."""
    devices = []
    real_init = cls.__init__

    def spy(self, config):
        devices.append(torch.empty(0).device.type)
        real_init(self, config)

    monkeypatch.setattr(cls, "__init__", spy)
    return devices


def test_config_asking_for_a_huge_model_fails_before_allocating(saved, monkeypatch):
    cfg = json.loads((saved / "config.json").read_text())
    cfg["hidden"] = 50_000_000  # 6.4 GB of float32 weights if it were built
    (saved / "config.json").write_text(json.dumps(cfg))
    devices = _construction_devices(monkeypatch, ToyModel)
    with pytest.raises(ModelLoadError, match=r"m/model\.safetensors: tensor 'decoder\.0\.bias' has shape \(32,\), "
                                             r"expected \(50000000,\)"):
        load_model(saved)
    assert devices == ["meta"]


def test_shipped_bezier_with_an_edited_config_fails_before_allocating(tmp_path, monkeypatch):
    from sketchkit.models.bezier_sketch import BezierSketchModel

    src = resolve("bezier")
    (tmp_path / "big").mkdir()
    for f in ("config.json", "model.safetensors"):
        (tmp_path / "big" / f).write_bytes((src / f).read_bytes())
    cfg = json.loads((tmp_path / "big" / "config.json").read_text())
    cfg["dec_hidden"] = 200_000  # ~640 GB if built
    (tmp_path / "big" / "config.json").write_text(json.dumps(cfg))
    devices = _construction_devices(monkeypatch, BezierSketchModel)
    with pytest.raises(ModelLoadError, match=r"big/model\.safetensors: tensor '[\w.]+' has shape \([\d, ]+\), "
                                             r"expected \(.*(200000|400000|800000).*\)") as info:
        load_model(tmp_path / "big")
    assert "\n" not in str(info.value)
    assert devices == ["meta"]


def test_out_of_range_config_json_names_the_file(saved):
    cfg = json.loads((saved / "config.json").read_text())
    cfg["hidden"] = -3
    (saved / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelLoadError, match=r"m/config\.json: hidden: expected an integer >= 1, got -3"):
        load_model(saved)


@pytest.mark.parametrize("header", [b"\xff" * 8, (20).to_bytes(8, "little") + b"[1, 2, 3]" + b" " * 11,
                                    (12).to_bytes(8, "little") + b'{"w": {}}   '])
def test_bad_safetensors_header_names_the_file(saved, header):
    from sketchkit.models.base import read_safetensors_shapes

    (saved / "model.safetensors").write_bytes(header)
    with pytest.raises(ModelLoadError, match=r"model\.safetensors: not a readable safetensors file"):
        read_safetensors_shapes(saved / "model.safetensors")
    with pytest.raises(ModelLoadError, match=r"model\.safetensors: not a readable safetensors file"):
        load_model(saved)


def test_safetensors_header_shapes_match_the_state_dict(saved):
    from sketchkit.models.base import read_safetensors_shapes

    model = load_model(saved)
    assert read_safetensors_shapes(saved / "model.safetensors") == {k: tuple(v.shape) for k, v in model.state_dict().items()}


# -- sample(n, temperature): one check, one message, every family ---------------------------------
@pytest.mark.parametrize("family", ["bezier", "cloud2curve", "sketchode"])
@pytest.mark.parametrize("n, temperature, message", [
    (0, 1.0, "n: expected an integer >= 1, got 0"),
    (-1, 1.0, "n: expected an integer >= 1, got -1"),
    (2.5, 1.0, "n: expected an integer >= 1, got 2.5"),
    (True, 1.0, "n: expected an integer >= 1, got True"),
    (2, float("nan"), "temperature: expected a finite number >= 0, got nan"),
    (2, float("inf"), "temperature: expected a finite number >= 0, got inf"),
    (2, -0.5, "temperature: expected a finite number >= 0, got -0.5"),
])
def test_sample_arguments_are_checked_alike_in_every_family(family, n, temperature, message):
    from sketchkit.models.base import model_registry

    cls = model_registry()[family]
    model = cls(cls.config_class()).eval()
    with pytest.raises(ValueError) as info:
        model.sample(n, generator=torch.Generator().manual_seed(0), temperature=temperature)
    assert str(info.value) == message
