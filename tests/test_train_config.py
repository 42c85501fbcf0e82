"""TrainConfig and the typed ``--set`` / config-file overrides (no eval, clear errors)."""

from __future__ import annotations

import dataclasses
import json
from typing import ClassVar, Literal, Optional

import pytest

from sketchkit.errors import InputError
from sketchkit.models.base import ModelConfig
from sketchkit.train import TrainConfig, apply_overrides, build_configs, load_config_file, parse_overrides


@dataclasses.dataclass(frozen=True)
class Inner:
    width: int = 4  # test field
    act: Literal["relu", "tanh"] = "relu"  # test field


@dataclasses.dataclass(frozen=True)
class DemoConfig(ModelConfig):
    family: ClassVar[str] = "demo-config"
    hidden: int = 8  # int
    sizes: tuple[int, ...] = (1, 2)  # variable tuple
    pair: tuple[float, float] = (0.0, 1.0)  # fixed tuple
    name: str = "x"  # str
    scale: Optional[float] = None  # optional
    inner: Inner = Inner()  # nested group
    lr: float = 0.1  # clashes with train.lr on purpose


def test_string_values_convert_to_field_types():
    c = apply_overrides(DemoConfig(), {"hidden": "64", "sizes": "3,4,5", "pair": "[0.5, 2]", "name": "abc",
                                       "scale": "2.5", "inner.width": "16", "inner.act": "tanh"}, prefix="model")
    assert (c.hidden, c.sizes, c.pair, c.name, c.scale, c.inner) == (64, (3, 4, 5), (0.5, 2.0), "abc", 2.5, Inner(16, "tanh"))
    assert apply_overrides(c, {"scale": "none", "sizes": ""}).scale is None
    assert apply_overrides(c, {"sizes": ""}).sizes == ()
    t = apply_overrides(TrainConfig(), {"lr": "1e-3", "amp": "TRUE", "stage_steps": "embedder:100,generator:200",
                                         "schedule": "cosine", "steps": "1_000"})
    assert (t.lr, t.amp, t.stage_steps, t.schedule, t.steps) == (1e-3, True, {"embedder": 100, "generator": 200}, "cosine", 1000)
    assert apply_overrides(TrainConfig(), {"stage_steps": '{"a": 3}'}).stage_steps == {"a": 3}


@pytest.mark.parametrize("key, value, message", [
    ("hidden", "sixty", "model.hidden: expected int, got 'sixty'"),
    ("hidden", "2.0", "model.hidden: expected int, got '2.0'"),
    ("sizes", "1,b", "model.sizes[1]: expected int, got 'b'"),
    ("pair", "1,2,3", "model.pair: expected tuple[float, float], got '1,2,3' (2 values)"),
    ("inner.act", "gelu", "model.inner.act: expected one of relu|tanh, got 'gelu'"),
    ("inner.depth", "2", "model.inner.depth: unknown setting for Inner"),
    ("hidden.x", "2", "model.hidden.x: model.hidden is a int, not a group of settings"),
    ("__class__", "x", "model.__class__: unknown setting"),
])
def test_bad_values_name_key_type_and_value(key, value, message):
    with pytest.raises(InputError) as info:
        apply_overrides(DemoConfig(), {key: value}, prefix="model")
    assert message in str(info.value)


def test_json_values_are_type_checked_too():
    with pytest.raises(InputError, match=r"train.steps: expected int, got 2.5"):
        TrainConfig.from_dict({"steps": 2.5})
    with pytest.raises(InputError, match=r"train.quiet: expected bool, got 1"):
        TrainConfig.from_dict({"quiet": 1})
    with pytest.raises(InputError, match=r"train.lr: expected float, got True"):
        TrainConfig.from_dict({"lr": True})
    assert TrainConfig.from_dict({"lr": 1}).lr == 1.0
    assert TrainConfig.from_dict(json.loads(json.dumps(TrainConfig(stage_steps={"a": 2}).to_dict()))) == TrainConfig(stage_steps={"a": 2})


def test_constructor_validates():
    with pytest.raises(InputError, match="train.batch_size: expected an integer >= 1, got 0"):
        TrainConfig(batch_size=0)
    with pytest.raises(InputError, match="train.lr: expected a finite value > 0"):
        TrainConfig(lr=0.0)
    with pytest.raises(InputError, match="train.schedule: expected one of constant|cosine|step"):
        TrainConfig(schedule="linear")
    with pytest.raises(InputError, match=r"train.stage_steps\['a'\]: expected an integer >= 0"):
        TrainConfig(stage_steps={"a": -1})


def test_parse_overrides_routes_prefixed_and_bare_keys():
    tr, mo = parse_overrides(["train.lr=1e-3", "model.hidden=64", "steps=10", "name=a=b"], model_config_class=DemoConfig)
    assert tr == {"lr": "1e-3", "steps": "10"} and mo == {"hidden": "64", "name": "a=b"}
    with pytest.raises(InputError, match="ambiguous, use train.lr or model.lr"):
        parse_overrides(["lr=1"], model_config_class=DemoConfig)
    with pytest.raises(InputError, match="--set nope: unknown setting"):
        parse_overrides(["nope=1"], model_config_class=DemoConfig)
    with pytest.raises(InputError, match="expected key=value"):
        parse_overrides(["train.lr"])


def test_config_files_json_and_toml(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps({"train": {"steps": 7}, "model": {"sizes": [3], "inner": {"width": 2}}}))
    t, m = build_configs(DemoConfig, config_file=tmp_path / "a.json", overrides=["model.inner.act=tanh", "train.seed=4"])
    assert (t.steps, t.seed, m.sizes, m.inner) == (7, 4, (3,), Inner(2, "tanh"))
    (tmp_path / "b.toml").write_text("[train]\nsteps = 3\n[model]\npair = [1.0, 2.0]\n")
    t, m = build_configs(DemoConfig, config_file=tmp_path / "b.toml")
    assert (t.steps, m.pair) == (3, (1.0, 2.0))
    (tmp_path / "c.toml").write_text("[train\nsteps = 3\n")
    with pytest.raises(InputError, match=r"c.toml: not a valid TOML file"):
        load_config_file(tmp_path / "c.toml")
    (tmp_path / "d.json").write_text('{"optim": {}}')
    with pytest.raises(InputError, match=r"d.json: unexpected top-level key\(s\) \['optim'\]"):
        load_config_file(tmp_path / "d.json")
    (tmp_path / "e.json").write_text('{"family": "bezier"}')
    with pytest.raises(InputError, match="config is for family 'bezier', not 'demo-config'"):
        build_configs(DemoConfig, config_file=tmp_path / "e.json")
    with pytest.raises(InputError, match="no such config file"):
        load_config_file(tmp_path / "missing.toml")
