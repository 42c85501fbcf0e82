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
    with pytest.raises(InputError, match="train.lr: expected a finite number > 0"):
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


# -- numeric settings: finite and in range, checked when they are parsed ---------------------------
FLOAT_FIELDS = [f.name for f in dataclasses.fields(TrainConfig) if f.type in (float, "float")]


@pytest.mark.parametrize("name", FLOAT_FIELDS)
@pytest.mark.parametrize("bad", ["nan", "inf", "-inf", "1e400"])
def test_every_float_train_setting_rejects_non_finite(name, bad):
    with pytest.raises(InputError, match=rf"train\.{name}: expected a finite number, got '{bad}'"):
        apply_overrides(TrainConfig(), {name: bad}, prefix="train")
    with pytest.raises(InputError, match=rf"train\.{name}: expected a finite number"):
        TrainConfig(**{name: float(bad)})  # the Python API too


@pytest.mark.parametrize("setting, message", [
    ("grad_clip=-1", "train.grad_clip: expected a finite number >= 0, got -1.0"),
    ("weight_decay=-0.1", "train.weight_decay: expected a finite number >= 0, got -0.1"),
    ("sample_temperature=-0.5", "train.sample_temperature: expected a finite number >= 0, got -0.5"),
    ("min_lr_ratio=1.5", "train.min_lr_ratio: expected a number in [0, 1], got 1.5"),
    ("lr_gamma=0", "train.lr_gamma: expected a number in (0, 1], got 0.0"),
    ("lr=0", "train.lr: expected a finite number > 0, got 0.0"),
    ("seed=-1", "train.seed: expected an integer in [0, 9223372036854775807], got -1"),
    ("num_samples=-2", "train.num_samples: expected an integer >= 0, got -2"),
    ("log_every=0", "train.log_every: expected an integer >= 1, got 0"),
])
def test_train_settings_out_of_range(setting, message):
    key, _, value = setting.partition("=")
    with pytest.raises(InputError) as info:
        apply_overrides(TrainConfig(), {key: value}, prefix="train")
    assert str(info.value) == message


def _family_configs():
    from sketchkit.models.base import model_registry

    return sorted((name, cls.config_class) for name, cls in model_registry().items()
                  if name in ("bezier", "cloud2curve", "sketchode"))


def _numeric(config_class):
    from sketchkit.models.base import _numeric_fields

    return [(name, kind) for name, kind, _, many in _numeric_fields(config_class) if not many]


def test_every_numeric_model_setting_has_a_range_rule():
    from sketchkit.models.base import field_range

    missing = [f"{family}.{name}" for family, cls in _family_configs() for name, kind in _numeric(cls)
               if name not in cls.field_ranges and field_range(name, kind) is None]
    assert missing == [], f"add a rule to models/base.py _INT_RULES/_FLOAT_RULES or field_ranges for {missing}"


def test_every_numeric_model_setting_rejects_non_finite_and_out_of_range():
    from sketchkit.models.base import field_range

    checked = 0
    for family, cls in _family_configs():
        for name, kind in _numeric(cls):
            if kind is float:
                with pytest.raises(InputError, match=rf"^model\.{name}: expected a finite number, got 'nan'$"):
                    apply_overrides(cls(), {name: "nan"}, prefix="model")
                with pytest.raises(InputError, match=rf"^{name}: expected .*, got inf$"):
                    cls(**{name: float("inf")})
            allowed = cls.field_ranges.get(name) or field_range(name, kind)
            if allowed is not None and allowed.low is not None:
                below = allowed.low - 1 if kind is int else allowed.low - 0.5
                with pytest.raises(InputError, match=rf"^model\.{name}: expected .*{allowed.low:g}.*, got {below:g}"):
                    apply_overrides(cls(), {name: str(below)}, prefix="model")
                checked += 1
    assert checked > 50


def test_model_size_from_the_command_line_is_a_range_error_not_a_runtime_error():
    from sketchkit.models.bezier_sketch import BezierSketchConfig

    with pytest.raises(InputError) as info:
        build_configs(BezierSketchConfig, overrides=["model.dec_hidden=-5"])
    assert str(info.value) == "model.dec_hidden: expected an integer >= 1, got -5"


def test_family_own_post_init_does_not_skip_the_generic_check():
    @dataclasses.dataclass(frozen=True)
    class OwnCheck(ModelConfig):
        family: ClassVar[str] = "own-check"
        hidden: int = 4  # size
        rate_prob: float = 0.5  # probability
        layer_widths: tuple[int, ...] = (2, 2)  # sizes
        pair: tuple[float, float] = (0.0, 1.0)  # any finite numbers
        seen: ClassVar[list] = []

        def __post_init__(self) -> None:  # no super().__post_init__()
            type(self).seen.append(self.hidden)

    with pytest.raises(InputError, match=r"^hidden: expected an integer >= 1, got 0$"):
        OwnCheck(hidden=0)
    with pytest.raises(InputError, match=r"^rate_prob: expected a number in \[0, 1\], got 1\.5$"):
        OwnCheck(rate_prob=1.5)
    with pytest.raises(InputError, match=r"^layer_widths\[1\]: expected an integer >= 1, got 0$"):
        OwnCheck(layer_widths=(3, 0))
    with pytest.raises(InputError, match=r"^pair\[0\]: expected a finite number, got nan$"):
        OwnCheck(pair=(float("nan"), 1.0))
    with pytest.raises(InputError, match=r"^hidden: expected an integer >= 1, got 2\.5$"):
        OwnCheck(hidden=2.5)
    assert OwnCheck(hidden=3).hidden == 3 and OwnCheck.seen == [3]


def test_every_numeric_train_setting_has_a_range():
    from sketchkit.train import _TRAIN_RANGES

    numeric = {f.name for f in dataclasses.fields(TrainConfig) if f.type in (int, float, "int", "float")}
    assert numeric == set(_TRAIN_RANGES)
